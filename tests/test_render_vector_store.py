"""Tier 2: the RAG index's cloud store is deployed where the vector_db answer puts it.

A search/RAG project answering vector_db=qdrant holds deploy/k8s/vector-store/: a Qdrant StatefulSet
behind Service `qdrant` in namespace `vector-store` (the URL platform.yaml rag.store.url names),
reachable only from the serving environments and Airflow, applied by `make deploy` before the
serving overlay. With the default pgvector, the stack asks the cloud module for the `vector`
extension (Azure allow-lists it; AWS and GCP check the engine version) and the dev/prod Triton
Deployment and Airflow read RAG_DATABASE_URL from the Secret rag-database. A tabular project holds
none of it, nor does a search/RAG project whose vector_db is not wired for the cloud (chroma).
The modules' extension checks run offline on their variable blocks (the cloud modules'
own tftest files need provider schemas: they run in a generated project's CI).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from conftest import project_record, render_project
from pod_security import reachable_peers, restricted_violations
from test_render_k8s import K8S_VERSION, checkov_checks, checkov_failures, kustomize, unexplained_skips
from test_terraform import MODULES, TERRAFORM, hcl_block, needs_terraform, parse_tf, tf_env

pytestmark = pytest.mark.render

RAG = {"use_case": "search_rag", "tune": True}
CASES: dict[str, dict[str, Any]] = {
    "qdrant_aws": {**RAG, "vector_db": "qdrant"},
    "pgvector_aws": {**RAG},  # vector_db's default
    "pgvector_azure": {**RAG, "cloud": "azure"},
    "chroma_aws": {**RAG, "vector_db": "chroma"},  # not wired for the cloud: no store is deployed
    "tabular": {"use_case": "tabular"},
}
QDRANT_URL = "http://qdrant.vector-store.svc:6333"
SECRET = {"name": "rag-database", "key": "url"}
PSS_LABELS = {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "audit", "warn")}
COST_LABELS = ("app.kubernetes.io/part-of", "owner", "cost-center")


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("vector-store")
    return {name: render_project(root / name, **answers) for name, answers in CASES.items()}


def platform(project: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((project / "platform.yaml").read_text(encoding="utf-8"))
    return loaded


def cloud_store(project: Path) -> str | None:
    rag = platform(project)["decisions"]["model"]["rag"]
    return rag["cloud_store"] if rag else None


def deploy_parts(project: Path) -> list[str]:
    """The kustomizations `make deploy` applies beside the serving overlay (mk/images.mk), in order."""
    text = (project / "mk" / "images.mk").read_text(encoding="utf-8")
    loop = re.search(r"^DEPLOY_KUSTOMIZATIONS = \$\$\(for part in ([^;]+);", text, re.MULTILINE)
    assert loop, "mk/images.mk: DEPLOY_KUSTOMIZATIONS loop not found"
    return loop.group(1).split()


def deploy_secrets(project: Path) -> set[str]:
    text = (project / "mk" / "images.mk").read_text(encoding="utf-8")
    block = re.search(r"^DEPLOY_SECRETS := ((?:.*\\\n)*.*)$", text, re.MULTILINE)
    assert block, "mk/images.mk: DEPLOY_SECRETS not found"
    return set(block.group(1).replace("\\\n", " ").split())


def triton_container(docs: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    (deployment,) = [d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "triton"]
    (container,) = [c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "triton"]
    return deployment, container


def stack_module(project: Path) -> dict[str, Any]:
    main = parse_tf(project / "infra" / "stack")["main.tf"]
    module: dict[str, Any] = {name: block for entry in main["module"] for name, block in entry.items()}["platform"]
    return module


# ---------------------------------------------------------------- Qdrant (vector_db=qdrant)


def test_qdrant_is_deployed_at_the_url_the_rag_code_reads(projects: dict[str, Path]) -> None:
    project = projects["qdrant_aws"]
    assert cloud_store(project) == "qdrant"
    url = platform(project)["rag"]["store"]["url"]
    assert url == QDRANT_URL
    docs = kustomize(project / "deploy" / "k8s" / "vector-store")
    for doc in docs:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    objects = {(doc["kind"], doc["metadata"]["name"]): doc for doc in docs}
    assert set(objects) == {
        ("Namespace", "vector-store"),
        ("ServiceAccount", "qdrant"),
        ("Service", "qdrant"),
        ("StatefulSet", "qdrant"),
        ("NetworkPolicy", "default-deny-ingress"),
        ("NetworkPolicy", "qdrant-from-clients"),
    }
    assert {doc["metadata"].get("namespace", "vector-store") for doc in docs} == {"vector-store"}
    namespace = objects[("Namespace", "vector-store")]["metadata"]["labels"]
    assert PSS_LABELS.items() <= namespace.items()

    # http://<service>.<namespace>.svc:<port> is the Service's name, namespace and HTTP port
    service = objects[("Service", "qdrant")]
    parsed = re.fullmatch(r"http://([^:/]+):(\d+)", url)
    assert parsed, url
    host, port = parsed.groups()
    assert host == f"{service['metadata']['name']}.{service['metadata']['namespace']}.svc"
    assert {p["name"]: p["port"] for p in service["spec"]["ports"]} == {"http": int(port), "grpc": 6334}

    statefulset = objects[("StatefulSet", "qdrant")]
    pod = statefulset["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert re.fullmatch(r"qdrant/qdrant:v1\.\d+\.\d+(-unprivileged)?", container["image"]), container["image"]
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {"http": 6333, "grpc": 6334}
    assert selects_pod(service, statefulset)
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "http"}
    assert container["resources"]["requests"] and container["resources"]["limits"]
    assert not restricted_violations(statefulset), restricted_violations(statefulset)
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["automountServiceAccountToken"] is False and pod["serviceAccountName"] == "qdrant"
    # what Qdrant writes lies on volumes: its storage on the claim, snapshots and the init marker apart
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    (claim,) = statefulset["spec"]["volumeClaimTemplates"]
    assert mounts["/qdrant/storage"] == claim["metadata"]["name"]
    assert claim["spec"]["resources"]["requests"]["storage"]
    env = {var["name"]: var.get("value") for var in container["env"]}
    assert env["QDRANT__STORAGE__STORAGE_PATH"] == "/qdrant/storage"
    assert any(env["QDRANT__STORAGE__SNAPSHOTS_PATH"] == path for path in mounts)
    assert any(env["QDRANT_INIT_FILE_PATH"].startswith(path + "/") for path in mounts)
    # cost labels on the pods and every object, never on the claim template (immutable once applied)
    labels = pod_metadata_labels(statefulset)
    for key in COST_LABELS:
        assert labels[key] == statefulset["metadata"]["labels"][key] == namespace[key]
    assert not set(COST_LABELS) & set(claim["metadata"].get("labels") or {})


def selects_pod(service: dict[str, Any], workload: dict[str, Any]) -> bool:
    labels = pod_metadata_labels(workload)
    return all(labels.get(key) == value for key, value in service["spec"]["selector"].items())


def pod_metadata_labels(workload: dict[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = workload["spec"]["template"]["metadata"]["labels"]
    return labels


def test_qdrant_admits_only_serving_and_airflow(projects: dict[str, Path]) -> None:
    project = projects["qdrant_aws"]
    docs = kustomize(project / "deploy" / "k8s" / "vector-store")
    assert any(
        doc["kind"] == "NetworkPolicy"
        and doc["spec"].get("podSelector") in ({}, None)
        and not doc["spec"].get("ingress")
        for doc in docs
    ), "no default-deny ingress policy in vector-store"
    slug = platform(project)["project"]["slug"]
    clients = {f"ns:{slug}-{env}" for env in platform(project)["project"]["environments"]} | {"ns:airflow"}
    (service,) = [doc for doc in docs if doc["kind"] == "Service"]
    assert reachable_peers(docs, service) == {"http": clients, "grpc": clients}


def test_make_deploy_applies_the_vector_store_before_serving(projects: dict[str, Path]) -> None:
    for name, project in projects.items():
        parts = deploy_parts(project)
        qdrant = cloud_store(project) == "qdrant"
        assert ("vector-store" in parts) == qdrant, f"{name}: {parts}"
        assert (project / "deploy" / "k8s" / "vector-store").is_dir() == qdrant, name
        for part in parts:
            assert (project / "deploy" / "k8s" / part / "kustomization.yaml").is_file(), f"{name}: {part}"


def test_checkov_passes_the_vector_store_and_the_database_patch(projects: dict[str, Path], tmp_path: Path) -> None:
    """One narrow checkov run: Qdrant's kustomization and a pgvector dev overlay (its env from a Secret)."""
    builds = {
        "vector-store": kustomize(projects["qdrant_aws"] / "deploy" / "k8s" / "vector-store"),
        "pgvector-dev": kustomize(projects["pgvector_aws"] / "deploy" / "k8s" / "overlays" / "dev"),
    }
    for name, docs in builds.items():
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump_all(docs), encoding="utf-8")
    checks = checkov_checks(tmp_path)
    failed = checkov_failures(checks, lambda c: f"{c['check_id']} {c['resource']}")
    assert not failed, "checkov failures:\n" + "\n".join(failed)
    assert not (unexplained := unexplained_skips(checks, lambda c: c["check_id"])), unexplained
    skipped = [c for c in checks if c["outcome"] == "skipped"]
    passed = {(c["check_id"], c["resource"]) for c in checks if c["outcome"] == "passed"}
    assert ("CKV_K8S_22", "StatefulSet.vector-store.qdrant") in passed, "read-only root filesystem"
    slug = project_record(projects["pgvector_aws"])["slug"]
    assert ("CKV_K8S_35", f"Deployment.{slug}-dev.triton") in {(c["check_id"], c["resource"]) for c in skipped}


# ---------------------------------------------------------------- pgvector (the default answer)


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_database_url_reaches_serving_and_airflow_only_for_pgvector(projects: dict[str, Path], name: str) -> None:
    project = projects[name]
    pgvector = cloud_store(project) == "pgvector"
    assert pgvector == name.startswith("pgvector")
    slug = platform(project)["project"]["slug"]
    environments = platform(project)["project"]["environments"]
    if pgvector:
        assert platform(project)["rag"]["store"]["dsn_env"] == "RAG_DATABASE_URL"
    for overlay in ["local", *environments]:
        deployment, container = triton_container(kustomize(project / "deploy" / "k8s" / "overlays" / overlay))
        env = {var["name"]: var for var in container.get("env", [])}
        # the cloud overlays only: the local cluster serves Qdrant's local mode and has no such Secret
        wired = pgvector and overlay != "local"
        assert ("RAG_DATABASE_URL" in env) == wired, f"{overlay}: {sorted(env)}"
        if wired:
            assert env["RAG_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == SECRET
            # the base's other variables survive the patch
            assert "LD_PRELOAD" in env
            annotations = deployment["metadata"]["annotations"]
            assert any(value.startswith("CKV_K8S_35=") for value in annotations.values())
        assert (project / "deploy" / "k8s" / "overlays" / overlay / "rag-database.yaml").exists() == wired
    values = yaml.safe_load((project / "deploy" / "airflow" / "values.yaml").read_text(encoding="utf-8"))
    secrets = {item["envName"]: item for item in values["secret"]}
    assert ("RAG_DATABASE_URL" in secrets) == pgvector
    if pgvector:
        assert secrets["RAG_DATABASE_URL"] == {
            "envName": "RAG_DATABASE_URL",
            "secretName": "rag-database",
            "secretKey": "url",
        }
    # make deploy's preflight names the Secret where it is read
    expected = {"airflow/secret/rag-database", f"{slug}-$(ENV)/secret/rag-database"}
    assert (expected <= deploy_secrets(project)) == pgvector
    assert bool(expected & deploy_secrets(project)) == pgvector
    text = "\n".join(p.read_text(encoding="utf-8") for p in (project / "deploy").rglob("*") if p.is_file())
    assert ("rag-database" in text) == pgvector


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_stack_asks_for_pgvector_only_for_pgvector(projects: dict[str, Path], name: str) -> None:
    project = projects[name]
    module = stack_module(project)
    pgvector = cloud_store(project) == "pgvector"
    assert module.get("postgres_extensions") == (["vector"] if pgvector else None), module.get("postgres_extensions")
    outputs = {n for entry in parse_tf(project / "infra" / "stack")["outputs.tf"]["output"] for n in entry}
    assert ("postgres_extensions" in outputs) == pgvector
    cloud = module["source"].rsplit("/", 1)[-1]  # ../modules/<cloud>
    variables = {
        n
        for path, doc in parse_tf(project / "infra" / "modules" / cloud).items()
        if not path.startswith("tests")
        for entry in doc.get("variable", [])
        for n in entry
    }
    assert "postgres_extensions" in variables
    if TERRAFORM:
        result = subprocess.run(
            [TERRAFORM, "fmt", "-check", "-recursive", "-diff", "infra"],
            cwd=project,
            capture_output=True,
            text=True,
            env=tf_env(),
        )
        assert result.returncode == 0, f"terraform fmt would change:\n{result.stdout}"


def test_azure_allow_lists_vector_in_the_rendered_module(projects: dict[str, Path]) -> None:
    module = parse_tf(projects["pgvector_azure"] / "infra" / "modules" / "azure")
    blocks = [
        block["azurerm_postgresql_flexible_server_configuration"]["extensions"]
        for doc in module.values()
        for block in doc.get("resource", [])
        if "extensions" in block.get("azurerm_postgresql_flexible_server_configuration", {})
    ]
    (resource,) = blocks
    assert resource["name"] == "azure.extensions"
    assert "var.postgres_extensions" in str(resource["count"]) and "upper(" in str(resource["value"])


# ---------------------------------------------------------------- the modules' checks, offline


def _run(name: str, variables: dict[str, Any], fails: bool = False, asserts: str = "") -> str:
    values = "\n".join(f"    {key} = {json.dumps(value)}" for key, value in variables.items())
    expect = "  expect_failures = [var.postgres_extensions]\n" if fails else ""
    return f'run "{name}" {{\n  command = plan\n  variables {{\n{values}\n  }}\n{asserts}{expect}}}\n'


def _pg(version: str) -> dict[str, Any]:
    return {"instance_class": "db.t4g.medium", "allocated_storage": 50, "engine_version": version}


# cloud -> (the blocks the check needs, runs: (name, variables, fails))
OFFLINE: dict[str, tuple[list[str], list[tuple[str, dict[str, Any], bool]]]] = {
    "aws": (
        ['variable "postgres_extensions" {', 'variable "postgres" {'],
        [
            ("default_engine", {"postgres_extensions": ["vector"]}, False),
            ("v13_12", {"postgres_extensions": ["vector"], "postgres": _pg("13.12")}, False),
            ("v15_major", {"postgres_extensions": ["vector"], "postgres": _pg("15")}, False),
            ("v17_2", {"postgres_extensions": ["vector"], "postgres": _pg("17.2")}, False),
            ("old_engine_without_vector", {"postgres_extensions": [], "postgres": _pg("12")}, False),
            ("v15_3", {"postgres_extensions": ["vector"], "postgres": _pg("15.3")}, True),
            ("v12", {"postgres_extensions": ["vector"], "postgres": _pg("12.22")}, True),
            ("garbage", {"postgres_extensions": ["vector"], "postgres": _pg("latest")}, True),
            ("postgis", {"postgres_extensions": ["postgis"]}, True),
        ],
    ),
    "gcp": (
        ['variable "postgres_extensions" {', 'variable "postgres_version" {'],
        [
            ("default_version", {"postgres_extensions": ["vector"]}, False),
            ("v11", {"postgres_extensions": ["vector"], "postgres_version": "POSTGRES_11"}, False),
            ("v10", {"postgres_extensions": ["vector"], "postgres_version": "POSTGRES_10"}, True),
            ("postgis", {"postgres_extensions": ["postgis"]}, True),
        ],
    ),
    "azure": (
        ['variable "postgres_extensions" {'],
        [
            ("vector", {"postgres_extensions": ["vector"]}, False),
            ("none", {"postgres_extensions": []}, False),
            ("postgis", {"postgres_extensions": ["postgis"]}, True),
        ],
    ),
}


@needs_terraform
@pytest.mark.parametrize("cloud", sorted(OFFLINE))
def test_module_extension_checks_offline(cloud: str, tmp_path: Path) -> None:
    """The modules' own variable blocks (and, for Azure, the configuration's count and value
    expressions) in a provider-free module: pgvector passes on engines that ship it and fails on
    older ones or unknown extensions. Each run that passes here also fails when told to expect a
    failure, so the check is not vacuous."""
    headers, runs = OFFLINE[cloud]
    variables = (MODULES / cloud / "variables.tf").read_text(encoding="utf-8")
    parts = [hcl_block(variables, header) for header in headers]
    if cloud == "azure":
        resource = hcl_block(
            (MODULES / cloud / "databases.tf").read_text(encoding="utf-8"),
            'resource "azurerm_postgresql_flexible_server_configuration" "extensions" {',
        )
        count = re.search(r"^\s*count\s*=\s*(.+)$", resource, re.MULTILINE)
        value = re.search(r"^\s*value\s*=\s*(.+)$", resource, re.MULTILINE)
        assert count and value and re.search(r'name\s*=\s*"azure\.extensions"', resource)
        parts.append(
            f'output "count" {{\n  value = {count.group(1)}\n}}\n\noutput "value" {{\n  value = {value.group(1)}\n}}'
        )
    work = tmp_path / cloud
    (work / "tests").mkdir(parents=True)
    (work / "main.tf").write_text("\n\n".join(parts) + "\n", encoding="utf-8")
    blocks = []
    for name, values, fails in runs:
        asserts = ""
        if cloud == "azure" and not fails:
            expected = (1, "VECTOR") if values["postgres_extensions"] else (0, "")
            condition = f"output.count == {expected[0]} && output.value == {json.dumps(expected[1])}"
            message = '    error_message = "azure.extensions is wrong"'
            asserts = f"  assert {{\n    condition     = {condition}\n{message}\n  }}\n"
        blocks.append(_run(name, values, fails, asserts))
    (work / "tests" / "extensions.tftest.hcl").write_text("\n".join(blocks), encoding="utf-8")
    output = _terraform_test(work)
    summary = re.search(r"(\d+) passed, (\d+) failed", output)
    assert summary and int(summary.group(1)) == len(runs) and summary.group(2) == "0", output[-3000:]
    # not vacuous: a passing input under expect_failures must fail the run
    good_name, good_values, _ = next(run for run in runs if not run[2])
    (work / "tests" / "extensions.tftest.hcl").write_text(_run(good_name, good_values, fails=True), encoding="utf-8")
    assert "Missing expected failure" in _terraform_test(work, ok=False)


def _terraform_test(work: Path, ok: bool = True) -> str:
    assert TERRAFORM
    init = subprocess.run(
        [TERRAFORM, "init", "-input=false", "-no-color"], cwd=work, capture_output=True, text=True, env=tf_env()
    )
    assert init.returncode == 0, init.stdout + init.stderr
    result = subprocess.run(
        [TERRAFORM, "test", "-no-color"], cwd=work, capture_output=True, text=True, env=tf_env(), timeout=300
    )
    assert (result.returncode == 0) == ok, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout + result.stderr


def test_the_module_tests_cover_the_extensions() -> None:
    """The cloud modules' own tftest files (run with providers, in a project's CI) test the new input."""
    for cloud in ("aws", "gcp", "azure"):
        text = "\n".join(p.read_text(encoding="utf-8") for p in (MODULES / cloud / "tests").glob("*.tftest.hcl"))
        assert 'postgres_extensions = ["postgis"]' in text and "expect_failures = [var.postgres_extensions]" in text
    azure = (MODULES / "azure" / "tests" / "azure.tftest.hcl").read_text(encoding="utf-8")
    assert 'extensions[0].value == "VECTOR"' in azure
    assert "length(azurerm_postgresql_flexible_server_configuration.extensions) == 0" in azure


# ---------------------------------------------------------------- nothing of it elsewhere


def test_a_tabular_project_holds_none_of_it(projects: dict[str, Path]) -> None:
    project = projects["tabular"]
    assert platform(project)["decisions"]["model"]["rag"] is None
    assert not (project / "deploy" / "k8s" / "vector-store").exists()
    assert not list(project.glob("deploy/k8s/overlays/*/rag-database.yaml"))
    assert "vector-store" not in deploy_parts(project)
    deploy = "\n".join(p.read_text(encoding="utf-8") for p in (project / "deploy").rglob("*") if p.is_file())
    assert "RAG_DATABASE_URL" not in deploy and "qdrant" not in deploy.lower()
    assert "postgres_extensions" not in (project / "infra" / "stack" / "main.tf").read_text(encoding="utf-8")


def test_the_projects_ci_tests_the_store_on_the_image_the_cluster_runs(projects: dict[str, Path]) -> None:
    """A Qdrant project's CI starts the server its cluster runs (a service container) for
    tests/rag/test_rag_qdrant_server.py; other projects neither start it nor carry the test."""
    qdrant = projects["qdrant_aws"]
    statefulset = yaml.safe_load((qdrant / "deploy/k8s/vector-store/statefulset.yaml").read_text())
    (image,) = {container["image"] for container in statefulset["spec"]["template"]["spec"]["containers"]}
    check = yaml.safe_load((qdrant / ".github/workflows/ci.yml").read_text())["jobs"]["check"]
    assert check["services"]["qdrant"]["image"] == image
    assert check["env"]["QDRANT_URL"] == "http://localhost:6333"
    assert (qdrant / "tests/rag/test_rag_qdrant_server.py").is_file()
    for name in ("pgvector_aws", "chroma_aws", "tabular"):
        assert (
            "services" not in yaml.safe_load((projects[name] / ".github/workflows/ci.yml").read_text())["jobs"]["check"]
        )
        assert not (projects[name] / "tests/rag/test_rag_qdrant_server.py").exists()
