"""The serving settings: platform.yaml's `serving:` section plus the decisions it depends on."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import ConfigError, Platform, local_path, platform
from ..contract import get_family
from .server import SUMMARY_QUANTILES

MODEL_URI_ENV = "SERVING_MODEL_URI"
REPOSITORY_ENV = "SERVING_REPOSITORY"
HOST_ENV = "SERVING_HOST"
STATE_DIR_ENV = "SERVING_STATE_DIR"
PORT_ENVS = {"http": "SERVING_HTTP_PORT", "grpc": "SERVING_GRPC_PORT", "metrics": "SERVING_METRICS_PORT"}


@dataclass(frozen=True)
class FeatureContract:
    """What Triton receives for this project's family: FP32 [batch, len(features)]."""

    family: str
    features: tuple[str, ...]
    task: str
    classes: tuple[str, ...]

    @property
    def n_features(self) -> int:
        return len(self.features)

    @property
    def n_outputs(self) -> int:
        """Scores per row: one per class for classifiers, one for regression."""
        return len(self.classes) if self.classes else 1


def feature_contract(family: str) -> FeatureContract:
    """The serving view of `family` in contract.yaml; KeyError names the family the project was rendered for."""
    row = get_family(family)
    return FeatureContract(family=row.name, features=row.features, task=row.task, classes=row.classes)


@dataclass(frozen=True)
class ClientSettings:
    protocol: str = "http"
    timeout_seconds: float = 10.0
    retries: int = 3
    backoff_seconds: float = 0.2
    log_inferences: bool = True


@dataclass(frozen=True)
class BatchSettings:
    redis_url: str = "redis://localhost:6379/0"
    request_queue: str = "serving:requests"
    result_prefix: str = "serving:results:"
    result_ttl_seconds: int = 86400
    max_wait_ms: float = 20.0


EDGE_PRECISIONS = ("fp32", "fp16", "int8", "int4")


@dataclass(frozen=True)
class DeviceBudget:
    """What the edge bundle must fit on the device (serving.edge.device_budget)."""

    device: str = "edge device"
    memory_mb: float = 4096.0
    latency_ms: float = 200.0


@dataclass(frozen=True)
class EdgeSettings:
    """serving.edge: the precision the bundle is quantized to, the device budget it is checked
    against, and how closely the quantized model must agree with the champion."""

    precision: str = "fp32"
    budget: DeviceBudget = field(default_factory=DeviceBudget)
    min_agreement: float = 0.99
    latency_runs: int = 200

    @classmethod
    def from_platform(cls, platform_: Platform) -> EdgeSettings:
        """serving.edge, falling back to the decisions (projects rendered before these keys)."""
        edge = dict(platform_.section("serving").get("edge") or {})
        device = dict(platform_.decision("serving_pattern").get("edge_device") or {})
        budget = dict(edge.get("device_budget") or {})
        where = f"{platform_.path}: serving.edge"
        memory = device.get("model_memory_budget_mb", DeviceBudget.memory_mb)
        latency = device.get("latency_budget_ms", DeviceBudget.latency_ms)
        precision = str(edge.get("precision") or platform_.decision("precision").get("choice") or "fp32").lower()
        if precision not in EDGE_PRECISIONS:
            raise ConfigError(f"{where}.precision is {precision!r}; use one of {', '.join(EDGE_PRECISIONS)}")
        settings = cls(
            precision=precision,
            budget=DeviceBudget(
                device=str(budget.get("device") or device.get("label") or DeviceBudget.device),
                memory_mb=_number(budget, "memory_mb", memory, f"{where}.device_budget"),
                latency_ms=_number(budget, "latency_ms", latency, f"{where}.device_budget"),
            ),
            min_agreement=_number(edge, "min_agreement", cls.min_agreement, where),
            latency_runs=int(_number(edge, "latency_runs", cls.latency_runs, where)),
        )
        if settings.budget.memory_mb <= 0 or settings.budget.latency_ms <= 0:
            raise ConfigError(f"{where}.device_budget: memory_mb and latency_ms must be above 0")
        if not 0.0 < settings.min_agreement <= 1.0:
            raise ConfigError(f"{where}.min_agreement is {settings.min_agreement}; use a share in (0, 1]")
        if settings.latency_runs < 20:
            raise ConfigError(f"{where}.latency_runs is {settings.latency_runs}; a p95 needs at least 20 runs")
        return settings


def _number(section: dict[str, Any], key: str, fallback: Any, where: str) -> float:
    value = section.get(key, fallback)
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number):
        raise ConfigError(f"{where}.{key} is {value!r}; expected a number")
    return number


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
    edge_bundle_dir: Path = Path(".local/edge")
    edge_sync_uri: str = ""
    edge: EdgeSettings = field(default_factory=EdgeSettings)
    latency_summary_quantiles: str = SUMMARY_QUANTILES
    client: ClientSettings = field(default_factory=ClientSettings)
    batch: BatchSettings = field(default_factory=BatchSettings)
    # The use case has a production contract (decisions.task): src/<package>/tasks/ serves it.
    has_task: bool = False
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def contract(self) -> FeatureContract:
        return feature_contract(self.family)

    def url(self, protocol: str | None = None) -> str:
        kind = protocol or self.client.protocol
        return f"{self.host}:{self.ports['grpc' if kind == 'grpc' else 'http']}"

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
        bundle_dir = Path(serving.edge.bundle_dir if serving.edge else ".local/edge")
        batch = serving.batch
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
            edge_bundle_dir=bundle_dir if bundle_dir.is_absolute() else current.path.parent / bundle_dir,
            edge_sync_uri=os.environ.get("EDGE_SYNC_URI") or (serving.edge.sync_uri if serving.edge else ""),
            edge=EdgeSettings.from_platform(current),
            latency_summary_quantiles=str(monitoring.get("latency_summary_quantiles") or SUMMARY_QUANTILES),
            client=ClientSettings(**serving.client.model_dump()),
            # only batch projects have serving.batch; the others never start the worker
            batch=BatchSettings()
            if batch is None
            else BatchSettings(
                redis_url=os.environ.get("REDIS_URL") or batch.redis_url,
                request_queue=batch.request_queue,
                result_prefix=batch.result_prefix,
                result_ttl_seconds=batch.result_ttl_seconds,
                max_wait_ms=batch.max_wait_ms,
            ),
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
