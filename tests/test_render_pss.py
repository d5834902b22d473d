"""Namespaces and hardening of the built manifests (issue #20, item 4), for every representative answer set:
every kustomization creates the namespace it deploys into, labelled to enforce the restricted Pod
Security Standard and with the project's cost labels; every workload passes that standard (checked
offline by tests/pod_security.py); each namespace denies ingress by default and each Service port is
reachable by exactly the peers it serves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import answer_sets, render_project
from pod_security import pod_spec, reachable_peers, restricted_violations, workload_name
from test_render_k8s import kustomizations, kustomize

pytestmark = pytest.mark.render
CASES = answer_sets()
PSS_LABELS = {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "audit", "warn")}
COST_LABELS = ("app.kubernetes.io/part-of", "owner", "cost-center")
# who may reach what (deploy/k8s/base/networkpolicy.yaml, deploy/k8s/mlflow/networkpolicy.yaml)
INGRESS_CONTROLLER, PROMETHEUS = "ingress-nginx", "monitoring"

Built = dict[str, list[dict[str, Any]]]


def build_all(project: Path) -> Built:
    """Every kustomization but the base (built through the overlays), by its folder under deploy/k8s."""
    root = project / "deploy" / "k8s"
    return {str(folder.relative_to(root)): kustomize(folder) for folder in kustomizations(project)}


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Built]]:
    root = tmp_path_factory.mktemp("pss")
    rendered = {}
    for name, answers in CASES.items():
        project = render_project(root / name, **answers)
        rendered[name] = (project, build_all(project))
    return rendered


def expected_namespaces(project: Path) -> dict[str, str]:
    platform = yaml.safe_load((project / "platform.yaml").read_text(encoding="utf-8"))
    slug = platform["project"]["slug"]
    overlays = {f"overlays/{env}": f"{slug}-{env}" for env in ["local", *platform["project"]["environments"]]}
    return {**overlays, "mlflow": "mlflow", "monitoring": f"{slug}-monitoring"}


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_kustomization_creates_its_namespace_with_the_restricted_standard(
    name: str, projects: dict[str, tuple[Path, Built]]
) -> None:
    project, built = projects[name]
    expected = expected_namespaces(project)
    assert set(built) == set(expected), f"kustomizations {sorted(built)}, expected {sorted(expected)}"
    for folder, docs in built.items():
        created = [doc for doc in docs if doc["kind"] == "Namespace"]
        assert [doc["metadata"]["name"] for doc in created] == [expected[folder]], f"{folder}: {created}"
        namespace = created[0]["metadata"]
        used = {doc["metadata"]["namespace"] for doc in docs if "namespace" in doc["metadata"]}
        assert used == {namespace["name"]}, f"{folder} deploys into {used}, creates {namespace['name']}"
        labels = namespace.get("labels") or {}
        assert PSS_LABELS.items() <= labels.items(), f"{folder}: Pod Security labels {labels}"
        workload = next(doc for doc in docs if pod_spec(doc) is not None)
        for key in COST_LABELS:
            assert labels.get(key) == workload["metadata"]["labels"].get(key), f"{folder}: Namespace label {key}"
            assert labels.get(key), f"{folder}: the Namespace lacks the cost label {key}"


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_workload_passes_the_restricted_pod_security_standard(
    name: str, projects: dict[str, tuple[Path, Built]]
) -> None:
    project, built = projects[name]
    platform = yaml.safe_load((project / "platform.yaml").read_text(encoding="utf-8"))
    batch = platform["decisions"]["serving_pattern"]["choice"] == "batch"
    checked: set[str] = set()
    problems: list[str] = []
    for folder, docs in built.items():
        for doc in docs:
            if pod_spec(doc) is None:
                continue
            checked.add(f"{folder}:{doc['kind']}/{doc['metadata']['name']}")
            problems += [f"{folder} {workload_name(doc)}: {problem}" for problem in restricted_violations(doc)]
    assert not problems, "restricted Pod Security Standard:\n" + "\n".join(problems)
    for folder in built:
        if folder.startswith("overlays/"):
            assert f"{folder}:Deployment/triton" in checked
            assert (f"{folder}:Deployment/batch-worker" in checked) == batch
    assert "mlflow:Deployment/mlflow" in checked
    assert any(item.startswith("monitoring:CronJob/") for item in checked)


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_service_port_is_reachable_by_exactly_its_peers(
    name: str, projects: dict[str, tuple[Path, Built]]
) -> None:
    project, built = projects[name]
    expected = expected_namespaces(project)
    serving_namespaces = sorted(ns for folder, ns in expected.items() if folder.startswith("overlays/"))
    cloud_serving = [ns for ns in serving_namespaces if not ns.endswith("-local")]
    for folder, docs in built.items():
        namespace = expected[folder]
        # default deny: a policy selecting every pod for ingress, with no rule
        assert any(
            doc["kind"] == "NetworkPolicy"
            and doc["spec"].get("podSelector") in ({}, None)
            and "Ingress" in doc["spec"].get("policyTypes", [])
            and not doc["spec"].get("ingress")
            for doc in docs
        ), f"{folder}: no default-deny ingress policy in {namespace}"
        services = {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == "Service"}
        if folder.startswith("overlays/"):
            assert reachable_peers(docs, services["triton"]) == {
                "http": {f"ns:{INGRESS_CONTROLLER}", f"ns:{namespace}"},
                "grpc": {f"ns:{namespace}"},
                "metrics": {f"ns:{PROMETHEUS}"},
            }, folder
        elif folder == "mlflow":
            users = {*cloud_serving, expected["monitoring"], "airflow", "kubeflow"}
            assert reachable_peers(docs, services["mlflow"]) == {"http": {f"ns:{ns}" for ns in users}}
        else:
            assert not services, f"{folder}: {sorted(services)} (the drift job takes no traffic)"


GOOD_POD: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "good"},
    "spec": {
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [
            {
                "name": "app",
                "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
            }
        ],
        "volumes": [{"name": "tmp", "emptyDir": {}}, {"name": "data", "persistentVolumeClaim": {"claimName": "d"}}],
    },
}


def test_the_checker_reports_each_broken_rule() -> None:
    """The checker against the standard's own examples: a compliant pod passes, each broken rule is named."""
    assert restricted_violations(GOOD_POD) == []
    bad = yaml.safe_load(yaml.safe_dump(GOOD_POD))
    bad["spec"]["hostNetwork"] = True
    bad["spec"]["securityContext"] = {"runAsUser": 0}
    bad["spec"]["volumes"].append({"name": "host", "hostPath": {"path": "/"}})
    bad["spec"]["initContainers"] = [
        {
            "name": "init",
            "securityContext": {"privileged": True, "capabilities": {"add": ["SYS_ADMIN"]}},
            "ports": [{"containerPort": 80, "hostPort": 80}],
        }
    ]
    found = "\n".join(restricted_violations(bad))
    for expected in (
        "hostNetwork",
        "runAsUser is 0",
        "volume host uses ['hostPath']",
        "initContainers[init]: securityContext.privileged",
        "initContainers[init]: securityContext.allowPrivilegeEscalation",
        "initContainers[init]: capabilities.drop must include ALL",
        "initContainers[init]: capabilities.add ['SYS_ADMIN']",
        "initContainers[init]: hostPort 80",
        "containers[app]: runAsNonRoot must be true",
        "containers[app]: seccompProfile.type is None",
    ):
        assert expected in found, f"{expected!r} not in:\n{found}"
    unconfined = yaml.safe_load(yaml.safe_dump(GOOD_POD))
    unconfined["spec"]["containers"][0]["securityContext"]["seccompProfile"] = {"type": "Unconfined"}
    unconfined["spec"]["containers"][0]["securityContext"]["runAsNonRoot"] = False
    found = "\n".join(restricted_violations(unconfined))
    assert "seccompProfile.type is Unconfined" in found and "runAsNonRoot must be true" in found
