"""Offline checks of the names in built Kubernetes manifests: the limits the API server enforces and
the JSON schemas `kubernetes-validate` uses do not (a 64-character namespace validates offline and is
refused at `kubectl apply`).

Rules from https://kubernetes.io/docs/concepts/overview/working-with-objects/names/ and
.../labels/ (Kubernetes 1.30): object names are DNS subdomains (253) unless their kind needs a DNS
label (63); a CronJob's name leaves 11 characters for the Jobs it creates (52); label values are 63
at most; a container port's name is an IANA service name (15). A project's slug may be 40
characters, so names built from it (`<slug>-<env>` namespaces, `<slug>-drift` CronJobs) are where a
long project name would break a deploy.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

Doc = dict[str, Any]

SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
RFC1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
LABEL_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
PORT_NAME = re.compile(r"(?=.*[a-z])[a-z0-9]+(-[a-z0-9]+)*")

# kind -> (pattern, longest name); other kinds are DNS subdomains of at most 253 characters.
NAME_RULES: dict[str, tuple[re.Pattern[str], int]] = {
    "Namespace": (DNS_LABEL, 63),
    "Service": (RFC1035_LABEL, 63),
    # workload names become part of their pods' names and of the labels their controllers set
    "Deployment": (DNS_LABEL, 63),
    "StatefulSet": (DNS_LABEL, 63),
    "DaemonSet": (DNS_LABEL, 63),
    "Job": (DNS_LABEL, 63),
    "CronJob": (DNS_LABEL, 52),
}
SUBDOMAIN_RULE = (SUBDOMAIN, 253)


def name_problems(doc: Doc) -> list[str]:
    """Each name in `doc` that Kubernetes would refuse, as `Kind/name: field 'value' (why)`."""
    kind, metadata = doc.get("kind", "?"), doc.get("metadata") or {}
    where = f"{kind}/{metadata.get('name', '?')}"
    problems = [f"{where}: {problem}" for problem in _problems(kind, metadata)]
    for path, labels in _label_maps(doc):
        for key, value in labels.items():
            problems += [f"{where}: {path} {problem}" for problem in label_problems(str(key), value)]
    for container in _containers(doc):
        problems += [f"{where}: container {problem}" for problem in _fits("name", container.get("name"), DNS_LABEL, 63)]
        for port in container.get("ports") or []:
            if "name" in port:
                problems += [f"{where}: container port {p}" for p in _fits("name", port["name"], PORT_NAME, 15)]
    return problems


def label_problems(key: str, value: Any) -> list[str]:
    """A label's key (optional DNS-subdomain prefix, then a name of at most 63) and value (at most 63,
    may be empty)."""
    prefix, _, name = key.rpartition("/")
    problems = _fits("key prefix", prefix, SUBDOMAIN, 253) if prefix else []
    problems += _fits("key", name, LABEL_NAME, 63)
    if not isinstance(value, str):
        return [*problems, f"{key}={value!r}: a label value must be a string"]
    return problems + (_fits(f"{key} value", value, LABEL_NAME, 63) if value else [])


def _problems(kind: str, metadata: dict[str, Any]) -> list[str]:
    pattern, longest = NAME_RULES.get(kind, SUBDOMAIN_RULE)
    problems = _fits("name", metadata.get("name"), pattern, longest)
    if "namespace" in metadata:
        problems += _fits("namespace", metadata["namespace"], DNS_LABEL, 63)
    return problems


def _fits(field: str, value: Any, pattern: re.Pattern[str], longest: int) -> list[str]:
    if not isinstance(value, str) or not value:
        return [f"{field} {value!r} is missing or not a string"]
    if len(value) > longest:
        return [f"{field} {value!r} is {len(value)} characters, over {longest}"]
    if not pattern.fullmatch(value):
        return [f"{field} {value!r} does not match {pattern.pattern}"]
    return []


def _label_maps(node: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every map of Kubernetes labels in the document, with where it is: objects' and pod templates'
    `metadata.labels`, selectors' `matchLabels`, and `nodeSelector` (node labels). Other `labels`
    (a PrometheusRule's alert labels) are Prometheus's, not Kubernetes's."""
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{path}.{key}" if path else str(key)
            kubernetes_labels = key in ("matchLabels", "nodeSelector") or (
                key == "labels" and path.endswith("metadata")
            )
            if kubernetes_labels and isinstance(value, dict):
                yield here, value
            else:
                yield from _label_maps(value, here)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _label_maps(item, f"{path}[{index}]")


def _containers(node: Any) -> Iterator[dict[str, Any]]:
    """Every container and init container in the document (pods, pod templates, job templates)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("containers", "initContainers") and isinstance(value, list):
                yield from (item for item in value if isinstance(item, dict))
            else:
                yield from _containers(value)
    elif isinstance(node, list):
        for item in node:
            yield from _containers(item)
