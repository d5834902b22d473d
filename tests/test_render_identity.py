"""Storage and identity, per cloud, read from the rendered project (python-hcl2, no provider):
every URI and bucket in platform.yaml has its bucket resource in Terraform, each workload that uses
one has a grant on it (bucket, prefix, access) for its own cloud identity, and each identity trusts
exactly a ServiceAccount/namespace that the manifests declare.

`identity_table(project)` returns the rows URI -> bucket -> identity -> grant; run this file
(`uv run python tests/test_render_identity.py`) to print the table of each cloud.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import render_project
from test_terraform import parse_tf

# One project per cloud, each with another serving pattern (edge adds the device-log grant).
IDENTITY_ANSWERS: dict[str, dict[str, Any]] = {
    "aws": {"cloud": "aws", "use_case": "tabular"},
    "gcp": {"cloud": "gcp", "use_case": "tabular", "serving_pattern": "edge"},
    "azure": {"cloud": "azure", "use_case": "tabular", "serving_pattern": "batch", "environments": ["prod"]},
}

BUCKET_RESOURCE = {"aws": "aws_s3_bucket", "gcp": "google_storage_bucket", "azure": "azurerm_storage_container"}
IDENTITY_RESOURCE = {"aws": "aws_iam_role", "gcp": "google_service_account", "azure": "azurerm_user_assigned_identity"}
GRANT_RESOURCE = {
    "aws": "aws_iam_role_policy",
    "gcp": "google_storage_bucket_iam_member",
    "azure": "azurerm_role_assignment",
}
REGISTRY_RESOURCE = {
    "aws": "aws_ecr_repository",
    "gcp": "google_artifact_registry_repository",
    "azure": "azurerm_container_registry",
}
ANNOTATION = {
    "aws": "eks.amazonaws.com/role-arn",
    "gcp": "iam.gke.io/gcp-service-account",
    "azure": "azure.workload.identity/client-id",
}
# What each access level is on each cloud (identity.tf: object_actions / object_roles / blob_roles).
ACCESS = {
    "aws": {"read": "s3:GetObject", "write": "s3:PutObject", "read_write": "s3:GetObject+PutObject+DeleteObject"},
    "gcp": {"read": "storage.objectViewer", "write": "storage.objectCreator", "read_write": "storage.objectUser"},
    "azure": {"read": "Blob Data Reader", "write": "Blob Data Contributor", "read_write": "Blob Data Contributor"},
}


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return {cloud: render_project(tmp_path_factory.mktemp(f"id-{cloud}"), **a) for cloud, a in IDENTITY_ANSWERS.items()}


def _blocks(parsed: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [block for document in parsed.values() for block in document.get(kind, [])]


def resources(parsed: dict[str, Any], rtype: str) -> dict[str, dict[str, Any]]:
    return {
        name: body for block in _blocks(parsed, "resource") if rtype in block for name, body in block[rtype].items()
    }


def locals_of(parsed: dict[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for block in _blocks(parsed, "locals"):
        merged.update(block)
    return merged


def split_uri(uri: str) -> tuple[str, str, str]:
    """(account or "", bucket or container, path) of s3://, gs://, as:// and abfs:// URIs."""
    if match := re.fullmatch(r"abfss?://([^@]+)@([^.]+)\.dfs\.core\.windows\.net/?(.*)", uri):
        return match.group(2), match.group(1), match.group(3)
    if match := re.fullmatch(r"as://([^/]+)/([^/]+)/?(.*)", uri):
        return match.group(1), match.group(2), match.group(3)
    match = re.fullmatch(r"(?:s3|gs)://([^/]+)/?(.*)", uri)
    assert match, f"unknown URI form: {uri}"
    return "", match.group(1), match.group(2)


def service_accounts(folder: Path) -> set[str]:
    names = set()
    for path in sorted(folder.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if isinstance(doc, dict) and doc.get("kind") == "ServiceAccount":
                names.add(doc["metadata"]["name"])
    return names


def declared_subjects(project: Path, env: str) -> dict[str, tuple[str, set[str]]]:
    """Per workload: the namespace its manifests deploy to and the ServiceAccounts they declare."""
    k8s = project / "deploy" / "k8s"

    def namespace(kustomization: Path) -> str:
        return str(yaml.safe_load(kustomization.read_text(encoding="utf-8")).get("namespace", ""))

    values = yaml.safe_load((project / "deploy" / "airflow" / "values.yaml").read_text(encoding="utf-8"))
    # The namespace `make deploy-airflow` installs the chart into (helm --namespace).
    recipe = (project / "mk" / "images.mk").read_text(encoding="utf-8")
    helm = re.search(r"helm upgrade --install airflow .*?--namespace (\S+)", recipe, re.S)
    helm_namespace = helm.group(1) if helm else ""
    serving = (namespace(k8s / "overlays" / env / "kustomization.yaml"), service_accounts(k8s / "base"))
    return {
        "triton": serving,
        **({"batch_worker": serving} if "batch-worker" in serving[1] else {}),
        "mlflow": (namespace(k8s / "mlflow" / "kustomization.yaml"), service_accounts(k8s / "mlflow")),
        "monitor": (namespace(k8s / "monitoring" / "kustomization.yaml"), service_accounts(k8s / "monitoring")),
        "airflow": (helm_namespace, {values["workers"]["serviceAccount"]["name"]}),
    }


def stack_subjects(project: Path, env: str) -> tuple[dict[str, tuple[str, str]], bool]:
    """The stack's workload_identities (namespace, ServiceAccount) for env, and its edge_sync."""
    stack = parse_tf(project / "infra" / "stack")
    (module,) = [block["platform"] for block in _blocks(stack, "module") if "platform" in block]
    subjects = {
        key: (value["namespace"].replace("${var.environment}", env), value["service_account"])
        for key, value in module["workload_identities"].items()
    }
    return subjects, module["edge_sync"] in (True, "true")


def identity_table(project: Path) -> list[dict[str, str]]:
    """URI (or bucket) -> bucket resource -> identity -> grant, for every environment of the project."""
    platform = yaml.safe_load((project / "platform.yaml").read_text(encoding="utf-8"))
    cloud = platform["project"]["cloud"]
    modules = parse_tf(project / "infra" / "modules" / cloud)
    local = locals_of(modules)
    first, edge_sync = stack_subjects(project, platform["project"]["environments"][0])
    grants = {
        **local["storage_grants"],
        **(local["edge_grants"] if edge_sync else {}),
        **(local["batch_grants"] if "batch_worker" in first else {}),
    }
    (bucket_block,) = resources(modules, BUCKET_RESOURCE[cloud]).values()
    for_each = bucket_block["for_each"]
    if isinstance(for_each, str):  # aws: for_each = local.buckets
        for_each = local[for_each.strip("${}").removeprefix("local.")]
    bucket_field = {key: re.search(r"var\.names\.(\w+)", value).group(1) for key, value in for_each.items()}  # type: ignore[union-attr]
    rows: list[dict[str, str]] = []
    for env, names in platform["decisions"]["names"]["environments"].items():
        subjects, _ = stack_subjects(project, env)
        resources_ = names["resources"]
        by_name = {resources_[field]: key for key, field in bucket_field.items()}
        targets = [(f"uris.{k}", uri, *split_uri(uri)) for k, uri in names["uris"].items()]
        for key, field in bucket_field.items():  # buckets with no URI entry (artifacts, offline store)
            if not any(by_name.get(t[3]) == key for t in targets):
                targets.append(
                    (
                        f"resources.{field}",
                        resources_[field],
                        resources_.get("storage_account", ""),
                        resources_[field],
                        "",
                    )
                )
        for label, uri, account, bucket, path in targets:
            key = by_name.get(bucket)
            assert key is not None, (
                f"{cloud}/{env}: {label} {uri} names bucket {bucket!r}, which Terraform never creates"
            )
            if account:
                assert account == resources_["storage_account"], f"{cloud}/{env}: {uri} names another storage account"
            used = [
                (name, grant)
                for name, grant in grants.items()
                if grant["bucket"] == key
                and (not path or (path + "/").startswith(grant["prefix"]) or grant["prefix"].startswith(path + "/"))
            ]
            for name, grant in used or [("", None)]:
                subject = "/".join(subjects[grant["workload"]]) if grant else ""
                rows.append(
                    {
                        "cloud": cloud,
                        "env": env,
                        "label": label,
                        "workload": grant["workload"] if grant else "",
                        "uri": f"{label}: {uri}",
                        "bucket": f'{BUCKET_RESOURCE[cloud]}.this["{key}"] = {bucket}',
                        "identity": f'{IDENTITY_RESOURCE[cloud]}.workload["{grant["workload"]}"] <- {subject}'
                        if grant
                        else "(none in the cluster)",
                        "grant": f"{name}: {ACCESS[cloud][grant['access']]} on {grant['prefix'] or '*'}"
                        if grant
                        else "-",
                    }
                )
    return rows


def format_table(rows: list[dict[str, str]]) -> str:
    lines = ["| env | URI | bucket | identity (namespace/ServiceAccount) | grant |", "|---|---|---|---|---|"]
    lines += [f"| {r['env']} | {r['uri']} | {r['bucket']} | {r['identity']} | {r['grant']} |" for r in rows]
    return "\n".join(lines)


@pytest.mark.parametrize("cloud", IDENTITY_ANSWERS)
def test_every_uri_has_its_bucket_and_the_grant_of_the_workload_that_uses_it(
    cloud: str, projects: dict[str, Path]
) -> None:
    rows = identity_table(projects[cloud])
    print(f"\n{cloud}\n{format_table(rows)}")
    used = {r["label"] for r in rows if r["workload"]}
    # Triton reads the model repository and writes the inference log; the drift job reads it.
    assert {"uris.model_repository", "uris.inference_log"} <= used
    assert "resources.artifacts_bucket" in used or "resources.artifacts_container" in used
    assert "resources.offline_bucket" in used or "resources.offline_container" in used
    _, edge_sync = stack_subjects(projects[cloud], "prod")
    assert ("uris.edge_sync" in used) == edge_sync, "only the edge pattern has an in-cluster reader of edge/"
    grants = {(r["env"], r["label"], r["workload"]) for r in rows}
    assert ("prod", "uris.model_repository", "triton") in grants
    assert ("prod", "uris.inference_log", "monitor") in grants
    # The serving client writes the inference log: in the cluster only the batch pattern's worker.
    batch = IDENTITY_ANSWERS[cloud].get("serving_pattern") == "batch"
    assert (("prod", "uris.inference_log", "batch_worker") in grants) == batch
    assert not any(workload == "triton" and label == "uris.inference_log" for _, label, workload in grants)


@pytest.mark.parametrize("cloud", IDENTITY_ANSWERS)
def test_each_identity_trusts_a_service_account_the_manifests_declare(cloud: str, projects: dict[str, Path]) -> None:
    project = projects[cloud]
    for env in yaml.safe_load((project / "platform.yaml").read_text())["project"]["environments"]:
        subjects, _ = stack_subjects(project, env)
        declared = declared_subjects(project, env)
        assert set(subjects) == set(declared)
        for workload, (namespace, account) in subjects.items():
            declared_namespace, accounts = declared[workload]
            assert account in accounts, f"{cloud}/{env}: {workload} trusts {account}, manifests declare {accounts}"
            assert namespace == declared_namespace, (
                f"{cloud}/{env}: {workload} trusts namespace {namespace}, deploys to {declared_namespace}"
            )


@pytest.mark.parametrize("cloud", IDENTITY_ANSWERS)
def test_identities_and_grants_exist_in_the_hcl(cloud: str, projects: dict[str, Path]) -> None:
    project = projects[cloud]
    modules = parse_tf(project / "infra" / "modules" / cloud)
    text = (project / "infra" / "modules" / cloud / "identity.tf").read_text(encoding="utf-8")
    identity = resources(modules, IDENTITY_RESOURCE[cloud])["workload"]
    assert identity["for_each"] == "${local.workloads}"
    grant = resources(modules, GRANT_RESOURCE[cloud])
    assert any(str(body.get("for_each")) in ("${local.grants}", "${local.workloads}") for body in grant.values())
    subject = {
        "aws": "system:serviceaccount:${each.value.namespace}:${each.value.service_account}",
        "gcp": "svc.id.goog[${each.value.namespace}/${each.value.service_account}]",
        "azure": "system:serviceaccount:${each.value.namespace}:${each.value.service_account}",
    }[cloud]
    assert subject in text, f"{cloud}: the identity must trust exactly its namespace/ServiceAccount"
    if cloud == "aws":
        assert "aws_iam_openid_connect_provider" in text and "sts:AssumeRoleWithWebIdentity" in text
        # The node role gets no bucket access: only the workload roles reach S3.
        nodes = resources(modules, "aws_iam_role_policy_attachment")["node"]["for_each"]
        assert "S3" not in str(nodes)
    if cloud == "gcp":
        assert "roles/iam.workloadIdentityUser" in text
    if cloud == "azure":
        cluster = resources(modules, "azurerm_kubernetes_cluster")["this"]
        assert cluster["oidc_issuer_enabled"] is True and cluster["workload_identity_enabled"] is True
    # The registry CI pushes to, and the outputs `make identities` and the CI read.
    assert resources(modules, REGISTRY_RESOURCE[cloud])
    stack_outputs = {name for block in _blocks(parse_tf(project / "infra" / "stack"), "output") for name in block}
    assert {"workload_identities", "registry_url"} <= stack_outputs
    assert ANNOTATION[cloud] in (project / "infra" / "modules" / cloud / "outputs.tf").read_text()


@pytest.mark.parametrize("cloud", IDENTITY_ANSWERS)
def test_no_manifest_carries_an_empty_or_placeholder_identity(cloud: str, projects: dict[str, Path]) -> None:
    project = projects[cloud]
    for path in sorted((project / "deploy").rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if not isinstance(doc, dict):
                continue
            annotations = (doc.get("metadata") or {}).get("annotations") or {}
            for key in ANNOTATION.values():
                assert key not in annotations, (
                    f"{path}: {key} belongs in the generated identity patch (make identities)"
                )
            account = ((doc.get("workers") or {}).get("serviceAccount") or {}).get("annotations") or {}
            assert not any(key in account for key in ANNOTATION.values()), f"{path}: placeholder worker identity"
    makefile = (project / "mk" / "infra.mk").read_text(encoding="utf-8")
    assert re.search(r"^identities: ", makefile, re.M) and re.search(r"^identities-check: ", makefile, re.M)


if __name__ == "__main__":  # print the tables for the issue report
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        for cloud, answers in IDENTITY_ANSWERS.items():
            project = render_project(Path(folder) / cloud, **answers)
            print(f"\n### {cloud} ({json.dumps(answers)})\n")
            print(format_table(identity_table(project)))
    sys.exit(0)
