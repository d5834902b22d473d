"""Tier 2: the LLM gateway in the cloud, the self-hosted LLM's autoscaling and the gateway's alerts.

Where decisions.model.llm is set, the dev and prod overlays run the OpenAI-compatible gateway
(src/<package>/gateway) as the Deployment `llm-gateway` with its Service, ServiceMonitor,
PodDisruptionBudget and network policies, from the image deploy/gateway/Dockerfile that `make images`
builds and the deploy pins; it reads exactly the variables the gateway's settings name, from the
Secrets documented beside it (the required ones checked by `make deploy-preflight`). A self-hosted
model's HPA scales on vLLM's waiting queue; the alert rules carry the gateway's group (promtool checks
and unit-tests them) and the dashboard its row. A tabular project holds none of it.
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
from conftest import render_project
from pod_security import pod_metadata, reachable_peers, restricted_violations, selects
from test_render_images import HADOLINT, built_images
from test_render_k8s import K8S_VERSION, checkov_checks, checkov_failures, kustomize, unexplained_skips
from test_render_llm_cloud import deploy_plan

pytestmark = pytest.mark.render

LLM = {"use_case": "text_generation", "tune": True}
CASES: dict[str, dict[str, Any]] = {
    "self_hosted_aws": {**LLM, "hosting": "self_hosted", "cloud": "aws"},
    "api_gcp": {**LLM, "hosting": "api", "cloud": "gcp"},
    "tabular": {"use_case": "tabular"},
}
GATEWAY_CASES = ("self_hosted_aws", "api_gcp")
NAME = "llm-gateway"
COST_LABELS = ("app.kubernetes.io/part-of", "owner", "cost-center")
REDIS_TLS_PORT = {"aws": 6379, "gcp": 6378, "azure": 6380}  # the cloud modules' Redis (Terraform redis_endpoint)
REQUIRED_SECRETS = {"GATEWAY_REDIS_URL": ("llm-gateway-redis", "url"), "GATEWAY_API_KEYS": ("llm-gateway-keys", "keys")}
GATEWAY_ALERTS = {
    "LlmGatewayBudgetExceeded",
    "LlmGatewayBudgetWarning",
    "LlmGatewayFallbacksHigh",
    "LlmGatewayRateLimitedShareHigh",
    "LlmGatewayErrorRateHigh",
}
GATEWAY_RECORDS = {"llm:gateway_cache_hit_ratio:rate1h", "llm:gateway_cost_usd_per_key:increase1d"}
RULES = Path("deploy/k8s/monitoring/rules")


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("llm-gateway-k8s")
    return {name: render_project(root / name, **answers) for name, answers in CASES.items()}


@pytest.fixture(scope="module")
def builds(projects: dict[str, Path]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """(case, overlay) -> the built documents of every overlay of every case."""
    built = {}
    for name, project in projects.items():
        for overlay in sorted((project / "deploy" / "k8s" / "overlays").iterdir()):
            built[(name, overlay.name)] = kustomize(overlay)
    return built


def platform(project: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((project / "platform.yaml").read_text(encoding="utf-8"))
    return loaded


def cloud_envs(project: Path) -> list[str]:
    return list(platform(project)["project"]["environments"])


def objects(docs: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(doc["kind"], doc["metadata"]["name"]): doc for doc in docs}


def gateway_container(docs: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    deployment = objects(docs)[("Deployment", NAME)]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return deployment, container


def env_of(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {var["name"]: var for var in container.get("env", [])}


def cloud_deployments(project: Path) -> list[dict[str, Any]]:
    """platform.yaml gateway.groups' deployments that run in the cloud profile."""
    groups = platform(project)["gateway"]["groups"]
    return [d for ds in groups.values() for d in ds if "cloud" in d.get("profiles", ["local", "cloud"])]


def images_mk(project: Path, variable: str) -> list[str]:
    text = (project / "mk" / "images.mk").read_text(encoding="utf-8")
    found = re.search(rf"^{variable} :?= ((?:.*\\\n)*.*)$", text, re.MULTILINE)
    assert found, f"mk/images.mk: {variable} not found"
    return found.group(1).replace("\\\n", " ").split()


def rule_groups(project: Path) -> list[dict[str, Any]]:
    loaded = yaml.safe_load((project / RULES / "alerts.rules.yml").read_text(encoding="utf-8"))
    groups: list[dict[str, Any]] = loaded["groups"]
    return groups


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.fail("promtool is not installed: apt-get install prometheus (Debian/Ubuntu) brings it", pytrace=False)
    return found


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, timeout=300, check=False)


# ---------------------------------------------------------------- the gateway's manifests


@pytest.mark.parametrize("name", GATEWAY_CASES)
def test_the_gateway_runs_hardened_in_each_cloud_overlay(
    name: str, projects: dict[str, Path], builds: dict[tuple[str, str], list[dict[str, Any]]]
) -> None:
    project = projects[name]
    slug, package = platform(project)["project"]["slug"], platform(project)["project"]["package"]
    gateway_port = platform(project)["gateway"]["port"]
    for env in cloud_envs(project):
        docs = builds[(name, env)]
        namespace = f"{slug}-{env}"
        for doc in docs:
            if doc["apiVersion"] == "monitoring.coreos.com/v1":  # a CRD: no schema offline
                assert doc["kind"] == "ServiceMonitor" and doc["spec"]["selector"]["matchLabels"]
                assert all(endpoint["port"] == "metrics" for endpoint in doc["spec"]["endpoints"])
            else:
                kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        found = objects(docs)
        assert {kind for kind, named in found if named == NAME} == {
            "Deployment",
            "Service",
            "ServiceAccount",
            "ServiceMonitor",
            "PodDisruptionBudget",
            "Ingress",  # the OpenAI routes on the real-time gateway's host (both renders are real-time)
        }
        assert {("NetworkPolicy", f"{NAME}-ingress"), ("NetworkPolicy", f"{NAME}-egress")} <= set(found)
        (ingress,) = [doc for doc in docs if doc["kind"] == "Ingress" and doc["metadata"]["name"] == NAME]
        assert ingress["spec"]["tls"][0]["secretName"] == "triton-gateway-tls"
        assert ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"
        assert "cert-manager.io/cluster-issuer" not in ingress["metadata"]["annotations"], "one Certificate per host"
        assert {item["path"] for item in ingress["spec"]["rules"][0]["http"]["paths"]} == {
            "/v1/chat/completions",
            "/v1/models",
        }
        gateway_docs = [doc for doc in docs if doc["metadata"]["name"].startswith(NAME)]
        assert {doc["metadata"]["namespace"] for doc in gateway_docs} == {namespace}

        deployment, container = gateway_container(docs)
        pod = deployment["spec"]["template"]["spec"]
        assert deployment["spec"]["replicas"] == 2
        assert not restricted_violations(deployment), restricted_violations(deployment)
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["automountServiceAccountToken"] is False
        assert pod["serviceAccountName"] == NAME
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert container["image"] == f"{slug}-gateway", "the project image, pinned by digest at deploy"
        assert container["resources"]["requests"] and container["resources"]["limits"]
        # what the root filesystem cannot take goes to an emptyDir
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert "emptyDir" in volumes[mounts["/tmp"]] and env_of(container)["HOME"]["value"] == "/tmp"
        # `python -m <package>.gateway serve` on all interfaces, on the gateway's port (platform.yaml gateway.port)
        command = container["command"]
        assert command[:4] == ["python", "-m", f"{package}.gateway", "serve"]
        assert command[command.index("--host") + 1] == "0.0.0.0"
        (port,) = container["ports"]
        assert port == {"name": "http", "containerPort": gateway_port}
        assert int(command[command.index("--port") + 1]) == gateway_port
        # health (Redis and the groups) gates traffic; liveness reads no Redis
        assert container["startupProbe"]["httpGet"] == {"path": "/health", "port": "http"}
        assert container["readinessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
        assert container["livenessProbe"]["httpGet"] == {"path": "/v1/models", "port": "http"}
        # the cost labels on the Deployment, its pods and the namespace alike
        labels = pod_metadata(deployment)["labels"]
        namespace_labels = found[("Namespace", namespace)]["metadata"]["labels"]
        for key in COST_LABELS:
            assert labels[key] == deployment["metadata"]["labels"][key] == namespace_labels[key], key
        assert labels["environment"] == env

        service, monitor, budget = (
            found[(kind, NAME)] for kind in ("Service", "ServiceMonitor", "PodDisruptionBudget")
        )
        assert selects({"matchLabels": service["spec"]["selector"]}, labels)
        assert {p["name"]: (p["port"], p["targetPort"]) for p in service["spec"]["ports"]} == {
            "http": (gateway_port, "http"),
            "metrics": (gateway_port + 1, "http"),  # GET /metrics is on the HTTP port
        }
        assert selects(monitor["spec"]["selector"], service["metadata"]["labels"])
        assert monitor["spec"]["endpoints"] == [{"port": "metrics", "path": "/metrics", "interval": "15s"}]
        assert selects(budget["spec"]["selector"], labels)
        assert budget["spec"]["minAvailable"] == 1 < deployment["spec"]["replicas"]

        # who reaches it: the namespace's clients, the ingress controller, Prometheus
        peers = {f"ns:{namespace}", "ns:ingress-nginx", "ns:monitoring"}
        assert reachable_peers(docs, service) == {"http": peers, "metrics": peers}
        # where it goes: DNS, Triton's gRPC port in the namespace, Redis on the cloud's TLS port, HTTPS
        egress = found[("NetworkPolicy", f"{NAME}-egress")]["spec"]
        assert egress["policyTypes"] == ["Egress"] and selects(egress["podSelector"], labels)
        allowed = {
            (port["port"], port["protocol"], json.dumps(rule.get("to"), sort_keys=True))
            for rule in egress["egress"]
            for port in rule["ports"]
        }
        triton = json.dumps([{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "triton"}}}], sort_keys=True)
        assert allowed == {
            (53, "UDP", "null"),
            (53, "TCP", "null"),
            (8001, "TCP", triton),
            (REDIS_TLS_PORT[CASES[name]["cloud"]], "TCP", "null"),
            (443, "TCP", "null"),
        }
        assert {p["name"]: p["port"] for p in found[("Service", "triton")]["spec"]["ports"]}["grpc"] == 8001

    # the local overlay (kind, the champion on CPU) holds no gateway
    assert not [doc for doc in builds[(name, "local")] if doc["metadata"]["name"].startswith(NAME)]


@pytest.mark.parametrize("name", GATEWAY_CASES)
def test_the_gateway_reads_the_secrets_its_settings_name(
    name: str, projects: dict[str, Path], builds: dict[tuple[str, str], list[dict[str, Any]]]
) -> None:
    project = projects[name]
    settings = platform(project)["gateway"]
    slug, package = platform(project)["project"]["slug"], platform(project)["project"]["package"]
    source = (project / "src" / package / "gateway" / "settings.py").read_text(encoding="utf-8")
    redis_env = re.search(r'^REDIS_ENV = "(\w+)"', source, re.MULTILINE)
    assert redis_env, "gateway/settings.py: REDIS_ENV"
    assert {redis_env.group(1), settings["auth"]["keys_env"]} == set(REQUIRED_SECRETS)
    assert settings["auth"]["required"]["cloud"] is True, "the cloud profile needs the keys Secret"
    cloud = cloud_deployments(project)
    provider_keys = {d["api_key_env"] for d in cloud if d.get("api_key_env")}
    assert bool(provider_keys) == (CASES[name]["hosting"] == "api")
    secrets = set(images_mk(project, "DEPLOY_SECRETS"))
    for env in cloud_envs(project):
        _, container = gateway_container(builds[(name, env)])
        variables = env_of(container)
        assert variables["PLATFORM_PROFILE"]["value"] == "cloud"
        assert variables["PLATFORM_CONFIG"]["value"] == "/app/platform.yaml"
        refs = {
            key: var["valueFrom"]["secretKeyRef"]
            for key, var in variables.items()
            if "secretKeyRef" in var.get("valueFrom", {})
        }
        # required: the Redis URL and the API keys, checked before a deploy
        for variable, (secret, key) in REQUIRED_SECRETS.items():
            assert refs[variable] == {"name": secret, "key": key}, variable
            assert f"{slug}-$(ENV)/secret/{secret}" in secrets, f"DEPLOY_SECRETS lacks {secret}"
        # optional: each provider's key (its deployments stay off without it) and the budget webhook
        optional = {variable for variable, ref in refs.items() if ref.get("optional") is True}
        assert optional == provider_keys | {"DRIFT_WEBHOOK_URL"}
        assert set(refs) == set(REQUIRED_SECRETS) | optional
        for variable in provider_keys:
            assert refs[variable]["name"] == "llm-gateway-providers"
        assert not [item for item in secrets if item.endswith(("/llm-gateway-providers", "/llm-gateway-webhook"))]
        # every Secret it reads is documented with its command beside the manifest
        manifest = (project / "deploy" / "k8s" / "overlays" / env / f"{NAME}.yaml").read_text(encoding="utf-8")
        for ref in refs.values():
            assert f"kubectl -n {slug}-{env} create secret generic {ref['name']} " in manifest, ref["name"]
            assert f"--from-literal={ref['key']}=" in manifest, (ref["name"], ref["key"])
        # the self-hosted model: the cloud deployments' url is the triton Service's gRPC port in the namespace
        service = objects(builds[(name, env)]).get(("Service", "triton"))
        for deployment in (d for d in cloud if d["provider"] == "triton"):
            assert service is not None
            grpc = {p["name"]: p["port"] for p in service["spec"]["ports"]}["grpc"]
            assert deployment["url"] == f"{service['metadata']['name']}:{grpc}"
            assert deployment.get("url_env") not in variables, "platform.yaml's url applies, not an override"


@pytest.mark.parametrize("name", GATEWAY_CASES)
def test_the_deploy_builds_pushes_and_pins_the_gateway_image(name: str, projects: dict[str, Path]) -> None:
    project = projects[name]
    slug, package = platform(project)["project"]["slug"], platform(project)["project"]["package"]
    assert "gateway" in images_mk(project, "IMAGES")
    assert built_images(project)[f"{slug}-gateway"] == ("deploy/gateway/Dockerfile", "deploy/k8s/overlays/dev")
    dockerfile = (project / "deploy" / "gateway" / "Dockerfile").read_text(encoding="utf-8")
    assert re.findall(r"--group (\S+)", dockerfile) == ["gateway", "serve"] * 2
    assert "--frozen" in dockerfile and "uv.lock" in dockerfile
    users = re.findall(r"^USER\s+(\S+)", dockerfile, re.MULTILINE)
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert f'CMD ["python", "-m", "{package}.gateway", "serve", "--host", "0.0.0.0", "--port", "8010"]' in dockerfile
    assert "--file deploy/gateway/Dockerfile" in deploy_plan(project), "make deploy does not build and push the gateway"
    if name == "api_gcp":  # one hadolint run: the Dockerfile is the same text in every case
        dockerfile_path = str(project / "deploy" / "gateway" / "Dockerfile")
        result = subprocess.run([*HADOLINT, dockerfile_path], capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stdout + result.stderr


def test_checkov_passes_the_gateway_or_says_why_not(
    builds: dict[tuple[str, str], list[dict[str, Any]]], tmp_path: Path
) -> None:
    for (name, overlay), docs in builds.items():
        if name in GATEWAY_CASES and overlay != "local":
            (tmp_path / f"{name}-{overlay}.yaml").write_text(yaml.safe_dump_all(docs), encoding="utf-8")
    checks = checkov_checks(tmp_path)
    gateway = [check for check in checks if f".{NAME}" in check["resource"]]
    assert any(check["resource"].startswith("Deployment.") and check["outcome"] == "passed" for check in gateway)
    failed = checkov_failures(checks, lambda c: f"{c['file_path']}: {c['check_id']} ({c['resource']})")
    assert not failed, "checkov failures:\n" + "\n".join(failed)
    unexplained = unexplained_skips(gateway, lambda c: f"{c['check_id']} ({c['resource']})")
    assert not unexplained, "\n".join(unexplained)


# ---------------------------------------------------------------- the self-hosted LLM's HPA


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_vllm_triton_scales_on_the_engines_waiting_queue(
    name: str, projects: dict[str, Path], builds: dict[tuple[str, str], list[dict[str, Any]]]
) -> None:
    project = projects[name]
    decisions = platform(project)["decisions"]
    llm = decisions["model"]["llm"]
    vllm = bool(llm and llm["served_in_cloud"])
    batching = decisions["batching"]
    for env in ["local", *cloud_envs(project)]:
        hpas = [doc for doc in builds[(name, env)] if doc["kind"] == "HorizontalPodAutoscaler"]
        if env != "local" and decisions["gpu"]["environments"][env]["min_replicas"] == 0:
            assert not hpas
            continue
        (hpa,) = hpas
        (metric,) = hpa["spec"]["metrics"]
        assert metric["type"] == "Pods"
        if vllm and env != "local":
            # one decided batch waiting per replica (the engine's saturating concurrency is two)
            waiting = batching["max_batch_size"] * batching["instance_count"]
            assert waiting * 2 == batching["client_concurrency_for_max_throughput"]
            assert metric["pods"] == {
                "metric": {"name": "vllm_num_requests_waiting"},
                "target": {"type": "AverageValue", "averageValue": str(waiting)},
            }
            assert hpa["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] >= 300
        else:  # the champion's Triton (locally, or without vLLM): its queue time
            assert metric["pods"]["metric"]["name"] == "avg_time_queue_us"
            assert metric["pods"]["target"]["averageValue"] == str(batching["hpa_queue_target_us"])
    serving_doc = (project / "docs" / "serving.md").read_text(encoding="utf-8")
    adapter_rule = 'seriesQuery: \'vllm:num_requests_waiting{namespace!="",pod!=""}\''
    assert (adapter_rule in serving_doc) == vllm
    assert ("as: vllm_num_requests_waiting}" in serving_doc) == vllm


# ---------------------------------------------------------------- alert rules and the dashboard


@pytest.mark.parametrize("name", sorted(CASES))
def test_gateway_rules_pass_promtool_only_where_the_llm_is(name: str, projects: dict[str, Path]) -> None:
    project = projects[name]
    llm = platform(project)["decisions"]["model"]["llm"]
    tool = promtool()
    checked = run(tool, "check", "rules", "alerts.rules.yml", cwd=project / RULES)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = run(tool, "test", "rules", "alerts.test.yml", cwd=project / RULES)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    rules = {rule.get("alert") or rule["record"]: rule for group in rule_groups(project) for rule in group["rules"]}
    slug = platform(project)["project"]["slug"]
    tests = (project / RULES / "alerts.test.yml").read_text(encoding="utf-8")
    if not llm:
        assert not [key for key in rules if "Gateway" in key or "gateway" in key]
        assert "gateway_" not in (project / RULES / "alerts.rules.yml").read_text(encoding="utf-8")
        assert "gateway_" not in tests
        return
    (group,) = [g for g in rule_groups(project) if g["name"] == f"{slug}-llm-gateway"]
    assert {rule.get("alert") or rule["record"] for rule in group["rules"]} == GATEWAY_ALERTS | GATEWAY_RECORDS
    # every alert has its firing and its quiet unit test
    for alert in GATEWAY_ALERTS:
        cases = re.findall(rf"alertname: {alert}\n\s+exp_alerts:( \[\])?", tests)
        assert {bool(empty) for empty in cases} == {True, False}, f"{alert}: {cases}"
    for record in GATEWAY_RECORDS:
        assert f"- expr: {record}\n" in tests, f"{record} has no promql_expr_test"
    expressions = {key: " ".join(rule["expr"].split()) for key, rule in rules.items()}
    # thresholds: the gateway's own budget state and warn fraction, the platform's error budget
    settings = platform(project)["gateway"]
    assert expressions["LlmGatewayBudgetExceeded"] == "max by (namespace) (gateway_budget_exceeded) == 1"
    assert expressions["LlmGatewayBudgetWarning"].endswith(f">= {settings['budget']['warn_fraction']} < 1")
    assert "gateway_daily_budget_usd" in expressions["LlmGatewayBudgetWarning"]
    error_rate_max = platform(project)["decisions"]["monitoring"]["error_rate_max"]
    assert expressions["LlmGatewayErrorRateHigh"].endswith(f"> {error_rate_max}")
    assert expressions["llm:gateway_cost_usd_per_key:increase1d"] == (
        "sum by (namespace, key) (increase(gateway_cost_usd_total[1d]))"
    )
    assert "[10m]" in expressions["LlmGatewayFallbacksHigh"]
    # the rules read series the gateway exports (gateway/metrics.py; counters get _total)
    package = platform(project)["project"]["package"]
    metrics = (project / "src" / package / "gateway" / "metrics.py").read_text(encoding="utf-8")
    exported = {
        name + ("_total" if kind == "Counter" else "")
        for kind, name in re.findall(r'\b(Counter|Gauge|Histogram)\(\s*"(gateway_\w+)"', metrics)
    }
    read = {series for expr in expressions.values() for series in re.findall(r"\bgateway_\w+", expr)}
    assert read and read <= exported, read - exported
    # the PrometheusRule object carries the same group
    built = kustomize(project / "deploy" / "k8s" / "monitoring")
    (rule_object,) = [doc for doc in built if doc["kind"] == "PrometheusRule"]
    assert group in rule_object["spec"]["groups"]


def test_the_unit_tests_catch_a_wrong_gateway_threshold(projects: dict[str, Path], tmp_path: Path) -> None:
    tool = promtool()
    source = projects["self_hosted_aws"] / RULES
    for good, bad, alert in (
        (">= 0.8 < 1", ">= 0.81 < 1", "LlmGatewayBudgetWarning"),
        ('{status=~"5.."}', '{status=~"4.."}', "LlmGatewayErrorRateHigh"),
    ):
        folder = tmp_path / alert
        shutil.copytree(source, folder)
        text = (folder / "alerts.rules.yml").read_text(encoding="utf-8")
        assert text.count(good) == 1, good
        (folder / "alerts.rules.yml").write_text(text.replace(good, bad), encoding="utf-8")
        tested = run(tool, "test", "rules", "alerts.test.yml", cwd=folder)
        assert tested.returncode != 0, f"promtool tests passed with `{bad}`"
        assert alert in tested.stdout + tested.stderr


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_dashboard_has_the_gateway_row_only_where_the_llm_is(name: str, projects: dict[str, Path]) -> None:
    project = projects[name]
    llm = platform(project)["decisions"]["model"]["llm"]
    dashboard = json.loads(
        (project / "deploy" / "k8s" / "monitoring" / "grafana" / "dashboard.json").read_text(encoding="utf-8")
    )
    assert len({panel["id"] for panel in dashboard["panels"]}) == len(dashboard["panels"])
    exprs = " ".join(target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", []))
    wanted = (
        "gateway_spend_today_usd",
        "gateway_daily_budget_usd",
        "llm:gateway_cost_usd_per_key:increase1d",
        "llm:gateway_cache_hit_ratio:rate1h",
        "gateway_fallbacks_total",
        "vllm:time_to_first_token_seconds",
    )
    for series in wanted:
        assert (series in exprs) == bool(llm), series
    if llm:
        titles = [panel["title"] for panel in dashboard["panels"]]
        assert f"Time to first token (alert above {int(llm['alerts']['ttft_ms'])} ms)" in titles


# ---------------------------------------------------------------- only where decisions.model.llm


def test_a_tabular_project_holds_no_gateway(
    projects: dict[str, Path], builds: dict[tuple[str, str], list[dict[str, Any]]]
) -> None:
    project = projects["tabular"]
    assert platform(project)["decisions"]["model"]["llm"] is None
    assert not (project / "deploy" / "gateway").exists()
    assert not list(project.glob("deploy/k8s/overlays/*/llm-gateway.yaml"))
    for kustomization in project.glob("deploy/k8s/overlays/*/kustomization.yaml"):
        assert NAME not in kustomization.read_text(encoding="utf-8")
    assert "gateway" not in images_mk(project, "IMAGES")
    assert not [item for item in images_mk(project, "DEPLOY_SECRETS") if NAME in item]
    for (name, _), docs in builds.items():
        if name == "tabular":
            assert not [doc for doc in docs if NAME in doc["metadata"]["name"]]
            assert "vllm_num_requests_waiting" not in json.dumps(docs)
