"""Bind the Kubernetes ServiceAccounts to the cloud identities Terraform created for them.

`python -m <package>.infra identities --env dev` (`make identities ENV=dev`) reads the stack's
`terraform output -json` (or `--outputs FILE`, a saved copy of it) and writes, for that environment:

    deploy/k8s/overlays/<env>/identity.yaml               triton's ServiceAccount (+ pod label)
    deploy/k8s/overlays/<env>/mlflow/                      the MLflow server, with its identity
    deploy/k8s/overlays/<env>/monitoring/                  the drift CronJob, with its identity
    deploy/airflow/identity-<env>.yaml                     Helm values: the Airflow worker's account

The bases under deploy/k8s carry no identity at all (an empty one would deploy silently and fail
at the first bucket read); `--check` stops a deploy with a clear message until these files exist.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..config import Platform
from .terraform import InfraError

OUTPUT = "workload_identities"  # the stack's output (infra/stack/outputs.tf)
GENERATED = "# Written by `make identities ENV={env}` from `terraform output -json` ({output}.{workload}); do not edit."


@dataclass(frozen=True)
class Workload:
    """Where a workload's ServiceAccount lives in deploy/ and which pod template runs under it."""

    base: str  # folder of its manifests under deploy/k8s, or the Helm values file under deploy/
    pod_kind: str  # Deployment, CronJob, or "helm" for the Airflow chart
    pod_name: str  # {slug} is the project slug
    container: str  # the container that reads storage (for container_env)
    target: str  # where the patch goes, under deploy/; {env} is the environment


# The workloads that touch object storage (the stack's workload_identities keys); batch_worker
# only exists with the batch serving pattern.
WORKLOADS: dict[str, Workload] = {
    "triton": Workload("k8s/base", "Deployment", "triton", "triton", "k8s/overlays/{env}"),
    "mlflow": Workload("k8s/mlflow", "Deployment", "mlflow", "mlflow", "k8s/overlays/{env}/mlflow"),
    "monitor": Workload("k8s/monitoring", "CronJob", "{slug}-drift", "drift", "k8s/overlays/{env}/monitoring"),
    "airflow": Workload("airflow/values.yaml", "helm", "airflow", "worker", "airflow/identity-{env}.yaml"),
    "batch_worker": Workload("k8s/base", "Deployment", "batch-worker", "worker", "k8s/overlays/{env}"),
}
OPTIONAL = {"batch_worker"}
PATCH = "identity.yaml"


@dataclass(frozen=True)
class Identity:
    workload: str
    namespace: str
    service_account: str
    identity: str
    annotations: dict[str, str]
    pod_labels: dict[str, str]
    container_env: dict[str, str]  # what the workload's container needs to use the identity


def fix_hint(env: str) -> str:
    return f"run `make apply ENV={env}` (it creates the identities), then `make identities ENV={env}`"


def read_identities(document: dict[str, Any], env: str) -> dict[str, Identity]:
    """The identities in a `terraform output -json` document; errors name the output and the fix."""
    if OUTPUT not in document:
        raise InfraError(f"terraform output has no {OUTPUT!r} for {env}: {fix_hint(env)}")
    entry = document[OUTPUT]
    values = entry.get("value") if isinstance(entry, dict) and "value" in entry else entry
    if not isinstance(values, dict):
        raise InfraError(f"terraform output {OUTPUT} is not a map: {fix_hint(env)}")
    missing = sorted(set(WORKLOADS) - OPTIONAL - set(values))
    if missing:
        raise InfraError(f"terraform output {OUTPUT} lacks {', '.join(missing)}: {fix_hint(env)}")
    identities: dict[str, Identity] = {}
    for workload in [key for key in WORKLOADS if key in values]:
        value = values[workload]
        annotations = {str(k): str(v) for k, v in (value.get("annotations") or {}).items()}
        empty = [key for key, annotation in annotations.items() if not annotation.strip()]
        if not str(value.get("identity", "")).strip() or not annotations or empty:
            raise InfraError(
                f"terraform output {OUTPUT}.{workload} has no identity"
                f"{' (empty ' + ', '.join(empty) + ')' if empty else ''}: {fix_hint(env)}"
            )
        identities[workload] = Identity(
            workload=workload,
            namespace=str(value["namespace"]),
            service_account=str(value["service_account"]),
            identity=str(value["identity"]),
            annotations=annotations,
            pod_labels={str(k): str(v) for k, v in (value.get("pod_labels") or {}).items()},
            container_env={str(k): str(v) for k, v in (value.get("container_env") or {}).items()},
        )
    return identities


# A ServiceAccount that reaches no cloud service (e.g. the vision stream worker: camera and Redis
# URLs come from its Secret) says so with this annotation and is bound to no cloud identity.
NO_IDENTITY = "platform/cloud-identity"


def service_accounts(path: Path) -> set[str]:
    """Names of the ServiceAccounts a manifest folder (or the Airflow values file) declares that need
    a cloud identity (all but those annotated `platform/cloud-identity: none`)."""
    if path.is_file():  # Helm values: the chart creates the worker account under this name
        values = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        name = ((values.get("workers") or {}).get("serviceAccount") or {}).get("name")
        return {str(name)} if name else set()
    names: set[str] = set()
    for manifest in sorted(path.glob("*.yaml")):
        for document in yaml.safe_load_all(manifest.read_text(encoding="utf-8")):
            if isinstance(document, dict) and document.get("kind") == "ServiceAccount":
                annotations = document["metadata"].get("annotations") or {}
                if str(annotations.get(NO_IDENTITY, "")) != "none":
                    names.add(str(document["metadata"]["name"]))
    return names


def _pod_template(kind: str, name: str, labels: dict[str, str], container: str, env: dict[str, str]) -> dict[str, Any]:
    template: dict[str, Any] = {"metadata": {"labels": labels}}
    if env:  # strategic merge: containers and env entries merge by name
        variables = [{"name": key, "value": value} for key, value in env.items()]
        template["spec"] = {"containers": [{"name": container, "env": variables}]}
    spec: dict[str, Any] = {"template": template}
    if kind == "CronJob":
        spec = {"jobTemplate": {"spec": {"template": template}}}
    return {
        "apiVersion": "batch/v1" if kind == "CronJob" else "apps/v1",
        "kind": kind,
        "metadata": {"name": name},
        "spec": spec,
    }


def _dump(header: str, documents: list[dict[str, Any]]) -> str:
    return header + "\n" + yaml.safe_dump_all(documents, sort_keys=False, default_flow_style=False)


def render(identities: dict[str, Identity], env: str, slug: str) -> dict[str, str]:
    """Every file `make identities` writes, by path under deploy/."""
    files: dict[str, str] = {}
    patches: dict[str, list[dict[str, Any]]] = {}  # several workloads of one overlay share its patch
    headers: dict[str, list[str]] = {}
    for key, identity in identities.items():
        workload = WORKLOADS[key]
        target = workload.target.format(env=env)
        header = GENERATED.format(env=env, output=OUTPUT, workload=key)
        if workload.pod_kind == "helm":
            values: dict[str, Any] = {
                "workers": {"serviceAccount": {"name": identity.service_account, "annotations": identity.annotations}}
            }
            if identity.pod_labels:
                values["workers"]["labels"] = identity.pod_labels
            if identity.container_env:
                values["workers"]["env"] = [{"name": k, "value": v} for k, v in identity.container_env.items()]
            files[target] = header + "\n" + yaml.safe_dump(values, sort_keys=False)
            continue
        # The serving overlay sets its namespace itself; the other bases name theirs.
        overlay = target == f"k8s/overlays/{env}"
        metadata = {"name": identity.service_account} | ({} if overlay else {"namespace": identity.namespace})
        documents = patches.setdefault(f"{target}/{PATCH}", [])
        headers.setdefault(f"{target}/{PATCH}", []).append(header)
        documents.append(
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": metadata | {"annotations": identity.annotations},
            }
        )
        if identity.pod_labels or identity.container_env:
            pod_name = workload.pod_name.format(slug=slug)
            pod = _pod_template(
                workload.pod_kind, pod_name, identity.pod_labels, workload.container, identity.container_env
            )
            pod["metadata"] |= {key_: value for key_, value in metadata.items() if key_ == "namespace"}
            documents.append(pod)
        if not overlay:  # mlflow and monitoring: a per-environment kustomization around the base
            files[f"{target}/kustomization.yaml"] = (
                f"{header}\n"
                "apiVersion: kustomize.config.k8s.io/v1beta1\n"
                "kind: Kustomization\n"
                "resources:\n"
                f"  - ../../../{workload.base.removeprefix('k8s/')}\n"
                "patches:\n"
                f"  - path: {PATCH}\n"
            )
    for path, documents in patches.items():
        files[path] = _dump("\n".join(headers[path]), documents)
    return files


def register_patch(kustomization: Path) -> bool:
    """Add `- path: identity.yaml` to the overlay's patches (once; the rest of the file untouched)."""
    text = kustomization.read_text(encoding="utf-8")
    entry = f"- path: {PATCH}"
    if any(line.strip() == entry for line in text.splitlines()):
        return False
    lines = text.splitlines(keepends=True)
    for index, line in enumerate(lines):
        if line.rstrip() == "patches:":
            following = lines[index + 1] if index + 1 < len(lines) else ""
            indent = (
                following[: len(following) - len(following.lstrip())] if following.lstrip().startswith("-") else "  "
            )
            lines.insert(index + 1, f"{indent}{entry}\n")
            break
    else:
        lines.append(("" if text.endswith("\n") or not text else "\n") + f"patches:\n  {entry}\n")
    kustomization.write_text("".join(lines), encoding="utf-8")
    return True


def check_subjects(identities: dict[str, Identity], deploy: Path, env: str) -> None:
    """Each identity trusts a ServiceAccount the manifests declare (else the patch would miss it)."""
    for key, identity in identities.items():
        declared = service_accounts(deploy / WORKLOADS[key].base)
        if identity.service_account not in declared:
            raise InfraError(
                f"{OUTPUT}.{key} trusts ServiceAccount {identity.service_account!r}, but deploy/{WORKLOADS[key].base} "
                f"declares {', '.join(sorted(declared)) or 'none'}: keep infra/stack/main.tf (workload_identities) "
                f"and the manifests in step, then `make apply ENV={env}`"
            )


def write(platform: Platform, env: str, document: dict[str, Any]) -> list[Path]:
    """Write the identity files of `env`; returns the paths written."""
    deploy = platform.path.parent / "deploy"
    identities = read_identities(document, env)
    check_subjects(identities, deploy, env)
    overlay = deploy / "k8s" / "overlays" / env
    if not (overlay / "kustomization.yaml").is_file():
        raise InfraError(
            f"{overlay}/kustomization.yaml does not exist: run `copier update` to render the {env} overlay"
        )
    written: list[Path] = []
    for relative, text in render(identities, env, str(platform.project["slug"])).items():
        path = deploy / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    register_patch(overlay / "kustomization.yaml")
    problems = check(platform, env)
    if problems:  # e.g. the manifests gained a workload the applied stack has no identity for yet
        raise InfraError(f"{'; '.join(problems)}: {fix_hint(env)}")
    return written


def _annotated(path: Path, helm: bool) -> set[str]:
    """The ServiceAccounts an identity file binds (every annotation set, none empty)."""
    documents = [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if isinstance(doc, dict)]
    if helm:
        accounts = [((doc.get("workers") or {}).get("serviceAccount") or {}) for doc in documents]
        pairs = [(str(a.get("name", "")), a.get("annotations") or {}) for a in accounts]
    else:
        pairs = [
            (str(doc["metadata"]["name"]), doc["metadata"].get("annotations") or {})
            for doc in documents
            if doc.get("kind") == "ServiceAccount"
        ]
    return {name for name, annotations in pairs if annotations and all(str(v).strip() for v in annotations.values())}


def check(platform: Platform, env: str) -> list[str]:
    """What keeps `env` from deploying with its identities: empty when every ServiceAccount the
    manifests declare (each one a storage workload's) has its identity in place."""
    root = platform.path.parent
    deploy = root / "deploy"
    problems: list[str] = []
    expected: dict[Path, set[str]] = {}
    for workload in WORKLOADS.values():  # every ServiceAccount the bases declare is a storage workload's
        target = deploy / workload.target.format(env=env)
        path = target if workload.pod_kind == "helm" else target / PATCH
        expected.setdefault(path, set()).update(service_accounts(deploy / workload.base))
    for path, accounts in expected.items():
        relative = path.relative_to(root)
        if not path.is_file():
            problems.append(f"{relative} is missing (ServiceAccount {', '.join(sorted(accounts))})")
            continue
        annotated = _annotated(path, helm=path.name != PATCH)
        for account in sorted(accounts - annotated):
            problems.append(f"{relative} has no identity for ServiceAccount {account}")
    kustomization = deploy / "k8s" / "overlays" / env / "kustomization.yaml"
    if kustomization.is_file() and f"- path: {PATCH}" not in kustomization.read_text(encoding="utf-8"):
        problems.append(f"{kustomization.relative_to(root)} does not apply {PATCH}")
    return problems


def load_outputs(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise InfraError(f"cannot read {path} as `terraform output -json`: {error}") from error
    if not isinstance(document, dict):
        raise InfraError(f"{path} is not a `terraform output -json` document (a JSON object)")
    return document
