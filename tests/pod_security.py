"""Offline checks of built Kubernetes manifests: the restricted Pod Security Standard and which peers
NetworkPolicies let reach a Service port.

The Pod Security rules follow https://kubernetes.io/docs/concepts/security/pod-security-standards/
(baseline and restricted, as of Kubernetes 1.30). The reference implementation is the Go module
k8s.io/pod-security-admission; no maintained offline checker is on the Python package index, so this
is a small pure one: each rule is a line of data or a few lines of code, and a violation names the
workload, the field and the value.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

Doc = dict[str, Any]

POD_TEMPLATE_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
# Restricted: "Volume Types" lists the only volume sources a pod may use.
ALLOWED_VOLUMES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}
# Baseline: "Sysctls" (the safe set).
SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}
SELINUX_TYPES = {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
SECCOMP_ALLOWED = {"RuntimeDefault", "Localhost"}
APPARMOR_ALLOWED = {"RuntimeDefault", "Localhost"}
ADDABLE_CAPABILITIES = {"NET_BIND_SERVICE"}  # restricted: the only capability a container may add


def workload_name(doc: Doc) -> str:
    return f"{doc['kind']}/{doc['metadata'].get('namespace', '')}/{doc['metadata']['name']}"


def pod_spec(doc: Doc) -> Doc | None:
    path = POD_TEMPLATE_PATHS.get(doc.get("kind", ""))
    if path is None:
        return None
    node: Any = doc
    for key in path:
        node = node.get(key, {})
    return dict(node)


def pod_metadata(doc: Doc) -> Doc:
    node: Any = doc
    for key in POD_TEMPLATE_PATHS[doc["kind"]][:-1]:
        node = node.get(key, {})
    return dict(node.get("metadata") or {})


def pod_annotations(doc: Doc) -> dict[str, str]:
    return dict(pod_metadata(doc).get("annotations") or {})


def containers(spec: Doc) -> Iterator[tuple[str, Doc]]:
    for field in ("initContainers", "containers", "ephemeralContainers"):
        for container in spec.get(field) or []:
            yield f"{field}[{container.get('name', '?')}]", container


def restricted_violations(doc: Doc) -> list[str]:
    """Every rule of the baseline and restricted profiles the workload's pod template breaks."""
    spec = pod_spec(doc)
    if spec is None:
        return []
    problems: list[str] = []
    pod_context = spec.get("securityContext") or {}

    # baseline: host namespaces, hostPath (via the volume list below), hostPort, privileged,
    # capabilities, AppArmor, SELinux, /proc mount, seccomp not Unconfined, sysctls, HostProcess
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(field):
            problems.append(f"spec.{field} is true (host namespaces are forbidden)")
    for name, value in pod_annotations(doc).items():
        if name.startswith("container.apparmor.security.beta.kubernetes.io/") and not (
            value == "runtime/default" or value.startswith("localhost/")
        ):
            problems.append(f"annotation {name}={value} (AppArmor must be runtime/default or localhost/*)")
    for sysctl in pod_context.get("sysctls") or []:
        if sysctl.get("name") not in SAFE_SYSCTLS:
            problems.append(f"securityContext.sysctls {sysctl.get('name')} is not in the safe set")

    # restricted: volume types
    for volume in spec.get("volumes") or []:
        sources = set(volume) - {"name"}
        if not sources <= ALLOWED_VOLUMES:
            problems.append(f"volume {volume.get('name')} uses {sorted(sources - ALLOWED_VOLUMES)}")

    pod_non_root = pod_context.get("runAsNonRoot") is True
    pod_seccomp = (pod_context.get("seccompProfile") or {}).get("type")
    problems += _context_problems("spec.securityContext", pod_context)
    for where, container in containers(spec):
        context = container.get("securityContext") or {}
        problems += [f"{where}: {problem}" for problem in _context_problems("securityContext", context)]
        if context.get("privileged"):
            problems.append(f"{where}: securityContext.privileged is true")
        if context.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{where}: securityContext.allowPrivilegeEscalation must be false")
        if context.get("procMount", "Default") != "Default":
            problems.append(f"{where}: securityContext.procMount is {context['procMount']}")
        non_root = context.get("runAsNonRoot", pod_non_root)
        if non_root is not True:
            problems.append(f"{where}: runAsNonRoot must be true (pod or container securityContext)")
        seccomp = (context.get("seccompProfile") or {}).get("type") or pod_seccomp
        if seccomp not in SECCOMP_ALLOWED:
            problems.append(f"{where}: seccompProfile.type is {seccomp!r} (RuntimeDefault or Localhost)")
        capabilities = context.get("capabilities") or {}
        if "ALL" not in (capabilities.get("drop") or []):
            problems.append(f"{where}: capabilities.drop must include ALL")
        added = set(capabilities.get("add") or []) - ADDABLE_CAPABILITIES
        if added:
            problems.append(f"{where}: capabilities.add {sorted(added)} (only NET_BIND_SERVICE)")
        for port in container.get("ports") or []:
            if port.get("hostPort"):
                problems.append(f"{where}: hostPort {port['hostPort']} (host ports are forbidden)")
    return problems


def _context_problems(where: str, context: Doc) -> list[str]:
    """Rules that apply alike to the pod's and each container's securityContext."""
    problems = []
    if context.get("runAsUser") == 0:
        problems.append(f"{where}.runAsUser is 0")
    if (context.get("seccompProfile") or {}).get("type") == "Unconfined":
        problems.append(f"{where}.seccompProfile.type is Unconfined")
    apparmor = (context.get("appArmorProfile") or {}).get("type")
    if apparmor is not None and apparmor not in APPARMOR_ALLOWED:
        problems.append(f"{where}.appArmorProfile.type is {apparmor}")
    selinux = context.get("seLinuxOptions") or {}
    if selinux.get("type", "") not in SELINUX_TYPES or selinux.get("user") or selinux.get("role"):
        problems.append(f"{where}.seLinuxOptions {selinux} (custom SELinux user/role/type)")
    if (context.get("windowsOptions") or {}).get("hostProcess"):
        problems.append(f"{where}.windowsOptions.hostProcess is true")
    return problems


# NetworkPolicy: which peers reach a port


def selects(selector: Doc | None, labels: dict[str, str]) -> bool:
    """A label selector (matchLabels and matchExpressions) against a set of labels."""
    selector = selector or {}
    if any(labels.get(key) != value for key, value in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values") or []
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def peer_names(peer: Doc, own_namespace: str) -> set[str]:
    """A `from` entry as peers: `ns:<name>` (any pod there) or `ns:<name>/<pod selector>`. A
    namespace selector must name namespaces (kubernetes.io/metadata.name) to be readable here."""
    if "ipBlock" in peer:
        return {f"ip:{peer['ipBlock'].get('cidr')}"}
    pods = peer.get("podSelector")
    suffix = "" if not pods else "/" + ",".join(f"{k}={v}" for k, v in sorted((pods.get("matchLabels") or {}).items()))
    if "namespaceSelector" not in peer:
        return {f"ns:{own_namespace}{suffix}"}
    selector = peer["namespaceSelector"] or {}
    if not selector:
        return {f"ns:*{suffix}"}
    names: set[str] = set()
    key = "kubernetes.io/metadata.name"
    if key in (selector.get("matchLabels") or {}):
        names.add(selector["matchLabels"][key])
    for expression in selector.get("matchExpressions") or []:
        if expression["key"] == key and expression["operator"] == "In":
            names |= set(expression["values"])
    if not names or len(selector.get("matchLabels") or {}) + len(selector.get("matchExpressions") or []) != 1:
        return {f"ns:?{selector}{suffix}"}
    return {f"ns:{name}{suffix}" for name in names}


def reachable_peers(docs: list[Doc], service: Doc) -> dict[str, set[str]]:
    """For each port of `service`: the peers the namespace's NetworkPolicies admit to the pods
    behind it ({"*"} when no policy selects those pods, i.e. ingress is open)."""
    namespace = service["metadata"].get("namespace", "")
    policies = [
        doc
        for doc in docs
        if doc["kind"] == "NetworkPolicy"
        and doc["metadata"].get("namespace", "") == namespace
        and "Ingress" in (doc["spec"].get("policyTypes") or ["Ingress"])
    ]
    pods = []
    for doc in docs:
        spec = pod_spec(doc)
        if spec is None or doc["metadata"].get("namespace", "") != namespace:
            continue
        labels = pod_metadata(doc).get("labels") or {}
        if service["spec"].get("selector") and selects({"matchLabels": service["spec"]["selector"]}, labels):
            pods.append((labels, spec))
    result: dict[str, set[str]] = {}
    for port in service["spec"]["ports"]:
        peers: set[str] = set()
        for labels, spec in pods:
            named = {
                p["name"]: p["containerPort"] for _, c in containers(spec) for p in c.get("ports") or [] if "name" in p
            }
            target = port.get("targetPort", port["port"])
            number = named.get(target, target) if isinstance(target, str) else target
            names = {name for name, value in named.items() if value == number}
            selecting = [policy for policy in policies if selects(policy["spec"].get("podSelector"), labels)]
            if not selecting:
                peers.add("*")
                continue
            for policy in selecting:
                for rule in policy["spec"].get("ingress") or []:
                    rule_ports = rule.get("ports")
                    if rule_ports and not any(
                        item.get("port") in names | {number} and item.get("protocol", "TCP") == "TCP"
                        for item in rule_ports
                    ):
                        continue
                    sources = rule.get("from")
                    if not sources:
                        peers.add("*")
                        continue
                    for source in sources:
                        peers |= peer_names(source, namespace)
        result[port["name"]] = peers
    return result
