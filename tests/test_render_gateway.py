"""Tier 2: the real-time gateway Ingress routes every model the project serves, and nothing else.

Each overlay is rendered with `kubectl kustomize` and validated offline; request paths are matched
against the Ingress with Kubernetes' own rules (Exact: the whole path; Prefix: whole path
elements), so a path that would 404 at the gateway (e.g. the task model's `/infer` behind a
Prefix `/v2/models/<model>`) or an admin API that would be exposed fails here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from conftest import render_project
from test_render_k8s import K8S_VERSION, kustomize

pytestmark = pytest.mark.render
SETS: dict[str, dict[str, Any]] = {
    "tabular_aws": {"use_case": "tabular", "cloud": "aws"},  # flat contract: one model
    "segmentation_aws": {"use_case": "segmentation", "cloud": "aws"},  # core + <model>_segmentation
    # the PyTorch detector: the ensemble <model> only; its steps (<model>_preprocess, _onnx,
    # _postprocess) are internal to Triton and must not be reachable
    "detection_aws": {"use_case": "object_detection", "cloud": "aws"},
    "ocr_gcp_slow_prod": {
        "use_case": "ocr",
        "cloud": "gcp",
        "tune": True,
        "serving_pattern": "realtime",
        "latency_p95_ms": 1000,
        "environments": ["prod"],
    },
}
ADMIN_PATHS = (
    "/v2/repository/index",
    "/v2/repository/models/{model}/load",
    "/v2/repository/models/{model}/unload",
    "/v2/models/{model}/trace/setting",
    "/v2/models/{model}/stats",
    "/v2/models/{model}/versions/1/stats",
    "/v2/models/stats",
    "/v2/trace/setting",
    "/v2/logging",
    "/v2/systemsharedmemory/status",
    "/v2/cudasharedmemory/status",
    "/metrics",
)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return {name: render_project(tmp_path_factory.mktemp(name), **answers) for name, answers in SETS.items()}


def routed(ingress: dict[str, Any], host: str, path: str) -> bool:
    """Kubernetes Ingress path matching: Exact is the whole path, Prefix matches element by element."""
    for rule in ingress["spec"]["rules"]:
        if rule.get("host") != host:
            continue
        for item in rule["http"]["paths"]:
            if item["pathType"] == "Exact" and path == item["path"]:
                return True
            if item["pathType"] == "Prefix":
                prefix = [part for part in item["path"].split("/") if part]
                if [part for part in path.split("/") if part][: len(prefix)] == prefix:
                    return True
    return False


def gateways(project: Path) -> dict[str, dict[str, Any]]:
    found = {}
    for overlay in ("dev", "prod"):
        if not (project / "deploy" / "k8s" / "overlays" / overlay).is_dir():
            continue
        docs = kustomize(project / "deploy" / "k8s" / "overlays" / overlay)
        ingresses = [doc for doc in docs if doc["kind"] == "Ingress"]
        assert len(ingresses) == 1, f"{overlay}: one gateway Ingress, found {len(ingresses)}"
        kubernetes_validate.validate(ingresses[0], K8S_VERSION, strict=True)
        found[overlay] = ingresses[0]
    return found


@pytest.mark.parametrize("name", list(SETS))
def test_gateway_routes_each_served_model_and_no_admin_api(name: str, rendered: dict[str, Path]) -> None:
    project = rendered[name]
    platform = yaml.safe_load((project / "platform.yaml").read_text(encoding="utf-8"))
    core = platform["serving"]["model_name"]
    task = platform["decisions"]["task"]
    models = [core] + ([f"{core}_{task['head']}"] if task else [])
    found = gateways(project)
    assert sorted(found) == sorted(platform["serving"]["gateway"]["hosts"]), "a host per environment"
    for overlay, ingress in found.items():
        host = platform["serving"]["gateway"]["hosts"][overlay]
        for model in models:
            for endpoint in ("", "/ready", "/config", "/infer"):
                assert routed(ingress, host, f"/v2/models/{model}{endpoint}"), f"{overlay}: {model}{endpoint}"
        for path in ("/v2/health/ready", "/v2/health/live"):
            assert routed(ingress, host, path), f"{overlay}: {path}"
        for template in ADMIN_PATHS:
            for model in models:
                path = template.format(model=model)
                assert not routed(ingress, host, path), f"{overlay}: the gateway exposes {path}"
        assert not routed(ingress, host, f"/v2/models/{core}_other/infer"), "only the served models"
        for step in ("preprocess", "onnx", "postprocess"):  # an ensemble's steps stay inside Triton
            assert not routed(ingress, host, f"/v2/models/{core}_{step}/infer"), f"{overlay}: {step} exposed"
        assert not routed(ingress, "other.example.org", f"/v2/models/{core}/infer"), "only the project's host"


@pytest.mark.parametrize("name", list(SETS))
def test_gateway_terminates_tls_with_cert_manager(name: str, rendered: dict[str, Path]) -> None:
    project = rendered[name]
    platform = yaml.safe_load((project / "platform.yaml").read_text(encoding="utf-8"))
    gateway = platform["serving"]["gateway"]
    for overlay, ingress in gateways(project).items():
        annotations = ingress["metadata"]["annotations"]
        assert annotations["cert-manager.io/cluster-issuer"] == gateway["cluster_issuer"]
        assert annotations["nginx.ingress.kubernetes.io/ssl-redirect"] == "true"
        assert annotations["nginx.ingress.kubernetes.io/auth-type"] == "basic"
        hosts = [rule["host"] for rule in ingress["spec"]["rules"]]
        assert hosts == [gateway["hosts"][overlay]]
        assert ingress["spec"]["tls"] == [{"hosts": hosts, "secretName": "triton-gateway-tls"}]
        assert ingress["metadata"]["namespace"] == f"{platform['project']['slug']}-{overlay}"


@pytest.mark.parametrize("name", list(SETS))
def test_gateway_timeouts_are_the_engines(name: str, rendered: dict[str, Path]) -> None:
    project = rendered[name]
    platform = yaml.safe_load((project / "platform.yaml").read_text(encoding="utf-8"))
    decided = platform["decisions"]["serving_pattern"]["gateway"]
    latency = float(platform["decisions"]["batching"]["max_queue_delay_ms"]) + float(
        platform["decisions"]["monitoring"]["latency_p95_target_ms"]
    )
    for ingress in gateways(project).values():
        annotations = ingress["metadata"]["annotations"]
        read = int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"])
        assert read == decided["read_timeout_s"]
        assert int(annotations["nginx.ingress.kubernetes.io/proxy-send-timeout"]) == decided["send_timeout_s"]
        assert int(annotations["nginx.ingress.kubernetes.io/proxy-connect-timeout"]) == decided["connect_timeout_s"]
        assert read * 1000 >= 10 * latency, "the read timeout covers 10x the p95 target plus the batching wait"
    if name == "ocr_gcp_slow_prod":
        assert decided["read_timeout_s"] == 11  # 10 x (1000 + 1) ms, in whole seconds
