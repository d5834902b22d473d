"""The serving settings: platform.yaml's `serving:` section plus the decisions it depends on."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..config import Platform, local_path, platform
from ..contract import Family, get_family
from ..platform_schema import Batch, Client, Edge
from .server import SUMMARY_QUANTILES, is_running, read_record

MODEL_URI_ENV = "SERVING_MODEL_URI"
REPOSITORY_ENV = "SERVING_REPOSITORY"
HOST_ENV = "SERVING_HOST"
STATE_DIR_ENV = "SERVING_STATE_DIR"
PORT_ENVS = {"http": "SERVING_HTTP_PORT", "grpc": "SERVING_GRPC_PORT", "metrics": "SERVING_METRICS_PORT"}


@dataclass(frozen=True)
class ServingSettings:
    """Everything the serving code needs, read once from platform.yaml."""

    model_name: str
    model_uri: str
    host: str
    ports: dict[str, int]
    startup_timeout_seconds: float
    allocator: str
    repository: Path
    state_dir: Path
    pattern: str
    family: str
    max_batch_size: int
    max_queue_delay_microseconds: int
    gpu_instance_count: int
    cpu_instance_count: int
    tensorrt_precision_mode: str | None
    latency_p95_target_ms: float
    client: Client
    latency_summary_quantiles: str = SUMMARY_QUANTILES
    # The serving pattern's own section (platform_schema.py): only edge projects have serving.edge,
    # only batch projects serving.batch. $EDGE_SYNC_URI and $REDIS_URL override their endpoints.
    edge: Edge | None = None
    edge_bundle_dir: Path = Path(".local/edge")
    batch: Batch | None = None
    # The use case has a production contract (decisions.task): src/<package>/tasks/ serves it.
    has_task: bool = False
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def contract(self) -> Family:
        return get_family(self.family)

    def url(self, protocol: str | None = None) -> str:
        kind = protocol or self.client.protocol
        return f"{self.host}:{self.ports['grpc' if kind == 'grpc' else 'http']}"

    def running_url(self, protocol: str | None = None) -> str:
        """host:port of the server `make serve` started (its record in state_dir, while it runs), else
        `url()`: with `serving.ports` at 0 (a free port) only the record knows where it listens."""
        record = read_record(self.state_dir)
        if record is None or not is_running(int(record["pid"])):
            return self.url(protocol)
        return replace(self, host=str(record["host"]), ports=dict(record["ports"])).url(protocol)

    @classmethod
    def from_platform(cls, platform_: Platform | None = None) -> ServingSettings:
        current = platform_ or platform()
        typed = current.settings  # validated, defaults filled in (platform_schema.py)
        serving = typed.serving
        section = current.section("serving")
        batching = current.decision("batching")
        precision = current.decision("precision")
        ports = {key: int(os.environ.get(env) or getattr(serving.ports, key)) for key, env in PORT_ENVS.items()}
        monitoring = current.decision("monitoring")
        edge, batch = serving.edge, serving.batch
        if edge is not None and os.environ.get("EDGE_SYNC_URI"):
            edge = edge.model_copy(update={"sync_uri": os.environ["EDGE_SYNC_URI"]})
        if batch is not None and os.environ.get("REDIS_URL"):
            batch = batch.model_copy(update={"redis_url": os.environ["REDIS_URL"]})
        bundle_dir = Path(edge.bundle_dir if edge else ".local/edge")
        return cls(
            model_name=serving.model_name,
            model_uri=os.environ.get(MODEL_URI_ENV) or champion_uri(current),
            host=os.environ.get(HOST_ENV) or serving.host,
            ports=ports,
            startup_timeout_seconds=serving.startup_timeout_seconds,
            allocator=serving.allocator,
            repository=Path(os.environ.get(REPOSITORY_ENV) or local_path("model_repository", current)),
            state_dir=Path(os.environ.get(STATE_DIR_ENV) or local_path("state_dir", current) / "triton"),
            pattern=str(current.decision("serving_pattern")["choice"]),
            family=typed.decisions.model.family,
            max_batch_size=int(batching["max_batch_size"]),
            max_queue_delay_microseconds=int(batching["max_queue_delay_microseconds"]),
            gpu_instance_count=int(batching["instance_count"]),
            cpu_instance_count=int(batching["cpu_instance_count"]),
            tensorrt_precision_mode=precision.get("tensorrt_precision_mode") or None,
            latency_p95_target_ms=float(monitoring.get("latency_p95_target_ms") or current.answers["latency_p95_ms"]),
            client=serving.client,
            latency_summary_quantiles=str(monitoring.get("latency_summary_quantiles") or SUMMARY_QUANTILES),
            edge=edge,
            edge_bundle_dir=bundle_dir if bundle_dir.is_absolute() else current.path.parent / bundle_dir,
            batch=batch,
            has_task=current.decisions.get("task") is not None,
            raw=section,
        )


def champion_uri(platform_: Platform) -> str:
    """`serving.model_uri`, else `models:/<training's registered model>@champion`."""
    serving = platform_.section("serving")
    if serving.get("model_uri"):
        return str(serving["model_uri"])
    training: dict[str, Any] = platform_.raw.get("training") or {}
    registered = (
        training.get("registered_model_name")
        or training.get("registered_model")
        or training.get("model_name")
        or (training.get("registry") or {}).get("model_name")
        or serving["model_name"]
    )
    alias = (training.get("registry") or {}).get("champion_alias") or training.get("champion_alias") or "champion"
    return f"models:/{registered}@{alias}"
