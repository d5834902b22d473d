"""The cloud path's report, one section per cloud: what a deploy would need to exist, found in the
rendered project (issue #20).

    uv run python ci/cloud_report.py              # aws (real-time), gcp (batch), azure (edge)
    uv run python ci/cloud_report.py --clouds aws

Per cloud, from one rendered project:
- storage and identity: each URI / bucket of platform.yaml -> the bucket Terraform creates -> the
  workload identity (and the namespace/ServiceAccount it trusts) -> its grant (tests/test_render_identity.py);
- images: each image a manifest names -> the Dockerfile that builds it -> where the deploy pins its
  digest (tests/test_render_images.py);
- workloads: restricted Pod Security result and checkov's passed/failed/skipped checks per workload
  of every built kustomization (tests/pod_security.py, tests/test_render_k8s.py).
The same functions are the assertions of those tests; this script only prints their rows. The DAG
runs under a real scheduler are the generated project's tests/stack/test_airflow_scheduler.py.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests"), str(REPO / "modules")]

from tabulate import tabulate  # noqa: E402

# One project per cloud, each with a different serving pattern so every workload appears once.
PROJECTS: dict[str, dict[str, Any]] = {
    "aws": {"cloud": "aws"},
    "gcp": {"cloud": "gcp", "use_case": "image_classification", "serving_pattern": "batch", "latency_p95_ms": 2000},
    "azure": {"cloud": "azure", "use_case": "object_detection", "serving_pattern": "edge", "tune": True},
}


def render(folder: Path, answers: dict[str, Any]) -> Path:
    from conftest import render_project

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return render_project(folder, **answers)


def report(clouds: list[str]) -> str:
    from test_render_identity import identity_table
    from test_render_images import image_rows
    from test_render_k8s import scan_kubernetes, workload_rows

    sections = []
    with tempfile.TemporaryDirectory() as tmp:
        projects = {cloud: render(Path(tmp) / cloud, PROJECTS[cloud]) for cloud in clouds}
        scanned = scan_kubernetes(projects, Path(tmp) / "checkov")
        workloads = workload_rows(scanned)
        for cloud, project in projects.items():
            answers = ", ".join(f"{k}={v}" for k, v in PROJECTS[cloud].items())
            identity = [
                {k: row[k] for k in ("env", "uri", "bucket", "identity", "grant")} for row in identity_table(project)
            ]
            columns = ("image", "Dockerfile", "digest pinning")
            images = [dict(zip(columns, row, strict=True)) for row in image_rows(project)]
            own = [row for row in workloads if row["answer set"] == cloud]
            pods = [{k: v for k, v in row.items() if k != "answer set"} for row in own]
            sections += [
                f"## {cloud} ({answers})",
                "### Storage and identity",
                tabulate(identity, headers="keys", tablefmt="github"),
                "### Images",
                tabulate(images, headers="keys", tablefmt="github"),
                "### Workloads: Pod Security (restricted) and checkov",
                tabulate(pods, headers="keys", tablefmt="github"),
                "",
            ]
    return "\n\n".join(sections)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clouds", nargs="+", choices=sorted(PROJECTS), default=list(PROJECTS))
    args = parser.parse_args(argv)
    print(report(args.clouds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
