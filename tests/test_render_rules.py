"""Tier 2: the monitoring layer's rendered files: Prometheus alert rules (promtool check + unit tests),
the PrometheusRule object, the drift CronJob, the Grafana dashboard and the monitoring kustomization.

promtool comes with Debian's `prometheus` package (`apt-get install prometheus`); without it these
tests fail with a message that says so (never skip).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from conftest import answer_sets, render_project

pytestmark = pytest.mark.render
K8S_VERSION = "1.30.0"
# Beyond the representative sets: tuned thresholds and an hourly schedule, so no number is hard-wired.
EXTRA: dict[str, dict[str, Any]] = {
    "tuned_thresholds": {
        "use_case": "tabular",
        "cloud": "gcp",
        "tune": True,
        "drift_threshold": 0.35,
        "drift_schedule": "@hourly",
        "latency_p95_ms": 150,
    },
    # A task head: the production-contract model <model>_detection gets its own latency rule and
    # shares the error-rate rule.
    "detection_task": {"use_case": "object_detection", "cloud": "aws"},
    # The self-hosted language model: its time-to-first-token, tokens/s and error-rate rules.
    "llm_self_hosted": {"use_case": "text_generation", "hosting": "self_hosted", "cloud": "gcp"},
}
SETS = {**answer_sets("representative"), **EXTRA}


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.fail("promtool is not installed: apt-get install prometheus (Debian/Ubuntu) brings it", pytrace=False)
    return found


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return {name: render_project(tmp_path_factory.mktemp(name), **answers) for name, answers in SETS.items()}


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize("name", list(SETS))
def test_alert_rules_pass_promtool(name: str, rendered: dict[str, Path]) -> None:
    tool = promtool()
    rules = rendered[name] / "deploy" / "k8s" / "monitoring" / "rules"
    checked = run(tool, "check", "rules", "alerts.rules.yml", cwd=rules)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    decisions = yaml.safe_load((rendered[name] / "platform.yaml").read_text(encoding="utf-8"))["decisions"]
    # 6 platform rules, the task model's latency rule, the language model's 3 (docs/llm.md) and its
    # gateway's 5 alerts and 2 recording rules (docs/gateway.md)
    expected = 6 + (1 if decisions["task"] else 0) + (3 + 7 if decisions["model"]["llm"] else 0)
    assert f"SUCCESS: {expected} rules found" in checked.stdout
    tested = run(tool, "test", "rules", "alerts.test.yml", cwd=rules)
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_rule_unit_tests_catch_a_wrong_threshold(rendered: dict[str, Path], tmp_path: Path) -> None:
    """The unit tests are not vacuous: a PSI rule a hair above its threshold, or `>` for `>=`, fails them."""
    tool = promtool()
    source = rendered["tuned_thresholds"] / "deploy" / "k8s" / "monitoring" / "rules"
    for broken in (">= 0.36", "> 0.35"):
        shutil.copytree(source, tmp_path / broken, dirs_exist_ok=True)
        target = tmp_path / broken / "alerts.rules.yml"
        text = target.read_text(encoding="utf-8")
        assert ">= 0.35" in text
        target.write_text(text.replace(">= 0.35", broken), encoding="utf-8")
        tested = run(tool, "test", "rules", "alerts.test.yml", cwd=tmp_path / broken)
        assert tested.returncode != 0, f"promtool tests passed with the PSI rule `{broken}`"
        assert "ModelFeatureDrift" in tested.stdout + tested.stderr


@pytest.mark.parametrize("name", list(SETS))
def test_monitoring_manifests(name: str, rendered: dict[str, Path]) -> None:
    project = rendered[name]
    platform = yaml.safe_load((project / "platform.yaml").read_text(encoding="utf-8"))
    decided = platform["decisions"]["monitoring"]
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl is not installed (kustomize renders with `kubectl kustomize`)", pytrace=False)
    built = run(kubectl, "kustomize", "deploy/k8s/monitoring", cwd=project)
    assert built.returncode == 0, built.stderr
    docs = {doc["kind"]: doc for doc in yaml.safe_load_all(built.stdout) if doc}
    assert {"ServiceAccount", "ConfigMap", "CronJob", "PrometheusRule"} <= set(docs)
    for kind, doc in docs.items():
        if kind != "PrometheusRule":  # a CRD: no schema offline
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    assert docs["CronJob"]["spec"]["schedule"] == decided["drift_cron"]
    kustomization = yaml.safe_load((project / "deploy/k8s/monitoring/kustomization.yaml").read_text(encoding="utf-8"))
    namespace = kustomization["namespace"]
    assert namespace.startswith(platform["project"]["slug"])
    assert all(doc["metadata"].get("namespace", namespace) == namespace for doc in docs.values())
    # the PrometheusRule carries exactly the groups promtool checked
    plain = yaml.safe_load((project / "deploy/k8s/monitoring/rules/alerts.rules.yml").read_text(encoding="utf-8"))
    assert docs["PrometheusRule"]["spec"]["groups"] == plain["groups"]
    exprs = {
        rule["alert"]: " ".join(rule["expr"].split())
        for group in plain["groups"]
        for rule in group["rules"]
        if "alert" in rule  # not the recording rules
    }
    assert exprs["ModelFeatureDrift"].endswith(f">= {decided['psi_threshold']}")
    assert re.search(rf"> {re.escape(str(decided['latency_p95_alert_ms']))}$", exprs["ServingLatencyP95High"])
    core = platform["serving"]["model_name"]
    task = platform["decisions"]["task"]
    if task:  # every served model is alerted on: the task model against the answered p95 target
        task_model = f"{core}_{task['head']}"
        assert f'model="{task_model}"' in exprs["TaskLatencyP95High"]
        assert exprs["TaskLatencyP95High"].endswith(f"> {decided['latency_p95_target_ms']}")
        assert f'model=~"{core}|{task_model}"' in exprs["ServingErrorRateHigh"]
    else:
        assert "TaskLatencyP95High" not in exprs
        assert f'model=~"{core}"' in exprs["ServingErrorRateHigh"]
    dashboard = json.loads(docs["ConfigMap"]["data"]["dashboard.json"])
    assert len(dashboard["uid"]) <= 40
    titles = " ".join(panel["title"] for panel in dashboard["panels"])
    assert f"drift at >= {decided['psi_threshold']}" in titles
