"""Serving's Kubernetes manifests: every overlay renders with kustomize and validates offline, the
Triton Deployment lands on the GPU pool that Terraform creates (same labels and taint), and checkov
passes every built kustomization with no unexplained failure (each accepted finding is a
`checkov.io/skipN: CHECK=reason` annotation on its resource).

Per-workload table (Pod Security restricted, checkov passed/failed/skipped) for the issue report:
    uv run pytest tests/test_render_k8s.py -k workload_table -s -q"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from conftest import answer_sets, render_project
from k8s_names import name_problems
from pod_security import pod_spec, restricted_violations
from tabulate import tabulate
from test_terraform import checkov_command

pytestmark = pytest.mark.render
K8S_VERSION = "1.30.0"
# Answer sets beyond the representative ones: each cloud, one environment only, each pattern.
EXTRA: dict[str, dict[str, Any]] = {
    "azure_prod_only": {"use_case": "tabular", "cloud": "azure", "tune": True, "environments": ["prod"]},
    "gcp_text_realtime": {"use_case": "text_classification", "cloud": "gcp"},
}


def kustomize(overlay: Path) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl is not installed (kustomize renders with `kubectl kustomize`)")
    result = subprocess.run([kubectl, "kustomize", str(overlay)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"kustomize {overlay}: {result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def validate(doc: dict[str, Any]) -> None:
    if doc["apiVersion"] == "monitoring.coreos.com/v1":
        # CRD: no schema offline; check what the Prometheus Operator needs.
        assert doc["kind"] == "ServiceMonitor"
        assert doc["spec"]["selector"]["matchLabels"]
        assert all(endpoint["port"] == "metrics" for endpoint in doc["spec"]["endpoints"])
        return
    kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def unquote(value: Any) -> Any:
    """python-hcl2 (v5+) keeps the quotes of HCL strings and keys."""
    if isinstance(value, str):
        return value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value
    if isinstance(value, dict):
        return {unquote(key): unquote(item) for key, item in value.items()}
    if isinstance(value, list):
        return [unquote(item) for item in value]
    return value


def terraform_gpu_pool(project: Path, environment: str) -> dict[str, Any]:
    """The GPU pool Terraform provisions for `environment`: the decided one, from its tfvars."""
    tfvars = project / "infra" / "envs" / environment / "terraform.tfvars.json"
    pool: dict[str, Any] = json.loads(tfvars.read_text(encoding="utf-8"))["gpu_pool"]
    return pool


def by_kind(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The serving objects by kind (the Triton ones where several share a kind)."""
    found: dict[str, dict[str, Any]] = {}
    for doc in docs:
        if doc["kind"] not in found or doc["metadata"]["name"] == "triton":
            found[doc["kind"]] = doc
    return found


CASES = {**answer_sets(), **EXTRA}


@pytest.mark.parametrize("name", sorted(CASES))
def test_overlays_render_validate_and_match_the_gpu_pool(name: str, tmp_path: Path) -> None:
    project = render_project(tmp_path / name, **CASES[name])
    platform = yaml.safe_load((project / "platform.yaml").read_text(encoding="utf-8"))
    decisions = platform["decisions"]
    gpu = decisions["gpu"]
    environments = list(platform["project"]["environments"])
    overlays = sorted(p.name for p in (project / "deploy" / "k8s" / "overlays").iterdir())
    assert overlays == sorted(["local", *environments])
    realtime = decisions["serving_pattern"]["choice"] == "realtime"
    pools = {env: terraform_gpu_pool(project, env) for env in environments}
    for pool in pools.values():
        assert gpu["taint"] == pool["taint"] and gpu["labels"] == pool["labels"], "decisions differ from Terraform"

    for overlay in overlays:
        docs = kustomize(project / "deploy" / "k8s" / "overlays" / overlay)
        for doc in docs:
            validate(doc)
        kinds = by_kind(docs)
        names = {(doc["kind"], doc["metadata"]["name"]) for doc in docs}
        batch = decisions["serving_pattern"]["choice"] == "batch"
        assert (("Deployment", "batch-worker") in names) == batch, "the batch worker belongs to the batch pattern"
        # without cloud serving (a hosted API, edge devices) the cloud overlays run no replica: no HPA
        serving = overlay == "local" or gpu["environments"][overlay]["min_replicas"] > 0
        assert ("HorizontalPodAutoscaler" in kinds) == serving
        assert {"Deployment", "Service", "PodDisruptionBudget", "ServiceMonitor"} <= set(kinds)
        deployment = kinds["Deployment"]
        pod = deployment["spec"]["template"]["spec"]
        container = pod["containers"][0]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert container["resources"]["requests"] and container["resources"]["limits"]
        assert container["startupProbe"]["httpGet"]["path"] == "/v2/health/ready"
        assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
        assert container["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
        assert {port["containerPort"] for port in container["ports"]} == {8000, 8001, 8002}
        # the image's jemalloc, as the local server runs
        assert {"name": "LD_PRELOAD", "value": "/usr/lib/x86_64-linux-gnu/libjemalloc.so"} in container["env"]
        # the p95 alert's summary, with only the engine's quantile (as the local server runs it)
        quantiles = decisions["monitoring"]["latency_summary_quantiles"]
        assert "--metrics-config=summary_latencies=true" in container["args"]
        assert f"--metrics-config=summary_quantiles={quantiles}" in container["args"]
        assert {port["port"] for port in kinds["Service"]["spec"]["ports"]} == {8000, 8001, 8002}
        hpa = kinds["HorizontalPodAutoscaler"]["spec"] if serving else {"minReplicas": 0, "maxReplicas": 1}
        if serving:
            assert 1 <= hpa["minReplicas"] <= hpa["maxReplicas"]
            # scales once queueing eats a tenth of the p95 budget, far above the batcher's own wait
            queue_target = int(hpa["metrics"][0]["pods"]["target"]["averageValue"])
            assert queue_target == decisions["batching"]["hpa_queue_target_us"]
            assert queue_target == platform["answers"]["latency_p95_ms"] * 100
            assert queue_target > 10 * decisions["batching"]["max_queue_delay_microseconds"]
        if overlay == "local":
            assert "nodeSelector" not in pod and "tolerations" not in pod
            assert "nvidia.com/gpu" not in container["resources"]["limits"]
            continue
        sizing = gpu["environments"][overlay]
        pool = pools[overlay]
        # pinned to the GPU pool exactly as Terraform labels and taints it
        assert pod["nodeSelector"] == {key: str(value) for key, value in pool["labels"].items()}
        assert pod["tolerations"] == [
            {
                "key": pool["taint"]["key"],
                "operator": "Equal",
                "value": str(pool["taint"]["value"]),
                "effect": pool["taint"]["effect"],
            }
        ]
        assert int(container["resources"]["limits"]["nvidia.com/gpu"]) == sizing["gpus_per_replica"]
        # one fleet: the HPA's range, Terraform's node range and the cost record come from one decision
        assert deployment["spec"]["replicas"] == sizing["min_replicas"] == hpa["minReplicas"]
        assert hpa["maxReplicas"] == sizing["max_replicas"]
        assert (pool["min_nodes"], pool["max_nodes"]) == (sizing["min_nodes"], sizing["max_nodes"])
        assert pool["instance_type"] == sizing["instance_type"] and pool["gpus_per_node"] == sizing["gpus_per_node"]
        assert sizing["max_nodes"] == -(-sizing["max_replicas"] // sizing["replicas_per_node"])
        cost = decisions["cost"]["environments"][overlay]
        assert (cost["min_nodes"], cost["max_nodes"]) == (sizing["min_nodes"], sizing["max_nodes"])
        assert sizing["min_nodes"] <= cost["expected_nodes"] <= sizing["max_nodes"]
        assert deployment["metadata"]["namespace"] == f"{platform['project']['slug']}-{overlay}"
        ingress = kinds.get("Ingress")
        if realtime:
            assert ingress is not None, "real-time pattern needs the gateway"
            annotations = ingress["metadata"]["annotations"]
            assert annotations["nginx.ingress.kubernetes.io/auth-type"] == "basic"
            assert int(annotations["nginx.ingress.kubernetes.io/limit-rps"]) >= 1
            paths = [p["path"] for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]]
            assert all(not re.search(r"repository|logging|trace", path) for path in paths)
        else:
            assert ingress is None


# ---------------------------------------------------------------- checkov (kubernetes framework)


def kustomizations(project: Path) -> list[Path]:
    """Every kustomization but the base (checked through the overlays that include it)."""
    root = project / "deploy" / "k8s"
    return sorted(p.parent for p in root.glob("**/kustomization.yaml") if "base" not in p.parts)


def scan_kubernetes(projects: dict[str, Path], scan: Path) -> dict[str, Any]:
    """One checkov run (its start-up is the slow part) over every built kustomization of every
    project: `builds[(case, kustomization)]` are the built documents, `checks` checkov's results,
    each with its case and kustomization."""
    builds: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for name, project in projects.items():
        (scan / name).mkdir(parents=True)
        for folder in kustomizations(project):
            key = folder.relative_to(project / "deploy" / "k8s").as_posix()
            docs = kustomize(folder)
            builds[(name, key)] = docs
            (scan / name / f"{key.replace('/', '-')}.yaml").write_text(yaml.safe_dump_all(docs), encoding="utf-8")
    checks = []
    for check in checkov_checks(scan):
        case, file = Path(check["file_path"]).parts[-2:]
        kustomization = file.removesuffix(".yaml").replace("-", "/", 1 if file.startswith("overlays") else 0)
        checks.append({**check, "case": case, "kustomization": kustomization})
    return {"builds": builds, "checks": checks}


def checkov_failures(checks: list[dict[str, Any]], label: Callable[[dict[str, Any]], str]) -> list[str]:
    """`label(check)` of each failed check."""
    return [label(check) for check in checks if check["outcome"] == "failed"]


def unexplained_skips(checks: list[dict[str, Any]], label: Callable[[dict[str, Any]], str]) -> list[str]:
    """`label(check)` of each skipped check whose annotation gives no reason (under 20 characters)."""
    return [
        label(check)
        for check in checks
        if check["outcome"] == "skipped" and len(str(check["check_result"].get("suppress_comment") or "").strip()) < 20
    ]


def checkov_checks(scan: Path) -> list[dict[str, Any]]:
    """checkov's kubernetes checks over the manifests under `scan`, each with its `outcome` (passed,
    failed, skipped); fails when checkov prints nothing or cannot parse a file."""
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"}
    command = [*checkov_command(), "-d", str(scan), "--framework", "kubernetes", "--compact", "--skip-download"]
    result = subprocess.run([*command, "-o", "json"], capture_output=True, text=True, env=env, timeout=600)
    assert result.stdout.strip(), f"checkov printed nothing (exit {result.returncode}):\n{result.stderr[-3000:]}"
    loaded = json.loads(result.stdout)
    reports = loaded if isinstance(loaded, list) else [loaded]
    parsing_errors = sum(report.get("summary", {}).get("parsing_errors", 0) for report in reports)
    assert parsing_errors == 0, f"checkov could not parse {parsing_errors} file(s)"
    return [
        {**check, "outcome": outcome}
        for report in reports
        for outcome in ("passed", "failed", "skipped")
        for check in report.get("results", {}).get(f"{outcome}_checks", [])
    ]


@pytest.fixture(scope="module")
def checkov_kubernetes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    renders = tmp_path_factory.mktemp("render")
    projects = {name: render_project(renders / name, **answers) for name, answers in CASES.items()}
    return scan_kubernetes(projects, tmp_path_factory.mktemp("checkov-k8s"))


@pytest.mark.parametrize("name", sorted(CASES))
def test_checkov_passes_every_manifest_or_says_why_not(name: str, checkov_kubernetes: dict[str, Any]) -> None:
    checks = [check for check in checkov_kubernetes["checks"] if check["case"] == name]
    built = {key for case, key in checkov_kubernetes["builds"] if case == name}
    assert {check["kustomization"] for check in checks} == built, "checkov did not scan every kustomization"
    failed = checkov_failures(
        checks, lambda c: f"{c['kustomization']}: {c['check_id']} {c['check_name']} ({c['resource']})"
    )
    assert not failed, "checkov failures (fix them, or skip with a reason annotation):\n" + "\n".join(failed)
    unexplained = unexplained_skips(checks, lambda c: f"{c['kustomization']}: {c['check_id']} ({c['resource']})")
    assert not unexplained, "skips need their reason (checkov.io/skipN: CHECK=reason):\n" + "\n".join(unexplained)


def workload_rows(checkov_kubernetes: dict[str, Any]) -> list[dict[str, Any]]:
    """Per workload of every case: its restricted Pod Security result and checkov's counts (the
    checks on the workload and on its pod, e.g. the NetworkPolicy graph check)."""
    rows = []
    for (case, kustomization), docs in sorted(checkov_kubernetes["builds"].items()):
        for doc in docs:
            if pod_spec(doc) is None:
                continue
            namespace, name = doc["metadata"].get("namespace", ""), doc["metadata"]["name"]
            counts = dict.fromkeys(("passed", "failed", "skipped"), 0)
            for check in checkov_kubernetes["checks"]:
                kind, *rest = check["resource"].split(".")
                if (check["case"], check["kustomization"]) == (case, kustomization) and (
                    kind in (doc["kind"], "Pod") and rest[:2] == [namespace, name]
                ):
                    counts[check["outcome"]] += 1
            violations = restricted_violations(doc)
            rows.append(
                {
                    "answer set": case,
                    "kustomization": kustomization,
                    "workload": f"{doc['kind']}/{name}",
                    "namespace": namespace,
                    "PSS restricted": "pass" if not violations else f"FAIL ({len(violations)})",
                    **counts,
                }
            )
    return rows


def test_workload_table(checkov_kubernetes: dict[str, Any]) -> None:
    rows = workload_rows(checkov_kubernetes)
    print("\n" + tabulate(rows, headers="keys", tablefmt="github"))
    assert rows and all(row["PSS restricted"] == "pass" and row["failed"] == 0 for row in rows)


# ---------------------------------------------------------------- names (tests/k8s_names.py)


def test_the_name_checker_takes_kubernetes_limits_and_names_each_broken_one() -> None:
    """At each limit a name passes; one character past it, or a character the rule refuses, fails."""
    slug = "enterprise-customer-lifetime-value-model"  # the longest slug the engine derives (40)
    fine = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "c" * 52, "namespace": "n" * 63, "labels": {"app.kubernetes.io/name": "v" * 63}},
        "spec": {
            "jobTemplate": {
                "spec": {
                    "template": {
                        "metadata": {"labels": {"app": slug}},
                        "spec": {
                            "containers": [
                                {"name": "d" * 63, "ports": [{"name": "metrics-http-01", "containerPort": 1}]}
                            ],
                            "nodeSelector": {"nvidia.com/gpu.present": "true"},
                        },
                    }
                }
            }
        },
    }
    assert name_problems(fine) == []
    assert name_problems({"kind": "ConfigMap", "metadata": {"name": "a.b-" + "c" * 249}}) == []
    broken = yaml.safe_load(yaml.safe_dump(fine))
    broken["metadata"] = {"name": "c" * 53, "namespace": f"{slug}-{'x' * 23}", "labels": {"team": "ML Platform"}}
    pod = broken["spec"]["jobTemplate"]["spec"]["template"]
    pod["spec"]["containers"][0] = {"name": "Drift", "ports": [{"name": "metrics-http-001"}]}
    pod["spec"]["nodeSelector"] = {"pool/": "gpu"}
    found = "\n".join(name_problems(broken))
    for expected in (
        "name 'ccccccccccccccccccccccccccccccccccccccccccccccccccccc' is 53 characters, over 52",
        f"namespace '{slug}-{'x' * 23}' is 64 characters, over 63",
        "metadata.labels team value 'ML Platform' does not match",
        "container name 'Drift' does not match",
        "container port name 'metrics-http-001' is 16 characters, over 15",
        "nodeSelector key '' is missing",
    ):
        assert expected in found, f"{expected!r} not in:\n{found}"
    assert name_problems({"kind": "Service", "metadata": {"name": "1-triton"}}) != []  # a Service starts with a letter
    # alert labels of a PrometheusRule are Prometheus's: free text is fine there
    rule = {
        "kind": "PrometheusRule",
        "metadata": {"name": "r"},
        "spec": {"groups": [{"rules": [{"labels": {"x": "A B"}}]}]},
    }
    assert name_problems(rule) == []
