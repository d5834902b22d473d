"""platform.yaml's shape: one pydantic model per section, the one place where keys, types and defaults live.

`config.load()` validates the file against `PlatformFile` once per process; a wrong key or value fails
there with the key's path (`data.etl.retries`) instead of deep inside a layer. `make schema` writes
the JSON Schema of these models to platform.schema.json, which editors use (the yaml-language-server
comment at the top of platform.yaml) and the project's tests compare with the models.

The layer sections forbid unknown keys, so a typo is an error rather than a setting silently
ignored. `decisions` is the engine's output (copier update rewrites it): only the decisions every
layer reads are checked, each for a non-empty choice and reason.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

SCHEMA_VERSION = 1
REQUIRED_DECISIONS = ("model", "hosting", "serving_pattern", "precision", "gpu", "batching", "monitoring", "cost")


class Section(BaseModel):
    """A hand-editable section: unknown keys are typos, so they fail."""

    model_config = ConfigDict(extra="forbid")


class Open(BaseModel):
    """A section whose keys are free-form (rendered from the answers, or a user's own mapping)."""

    model_config = ConfigDict(extra="allow")


# ------------------------------------------------------------------ rendered from the answers


class Generator(Open):
    engine_version: str


class Project(Open):
    name: str
    slug: str = Field(min_length=1)
    package: str = Field(min_length=1)
    description: str = ""
    owner: str = Field(min_length=1)
    cost_center: str = Field(min_length=1)
    cloud: Literal["aws", "gcp", "azure"]
    environments: list[str]
    ci_provider: str


class Decision(Open):
    choice: Any
    reason: str

    @field_validator("choice")
    @classmethod
    def _choice_set(cls, value: Any) -> Any:
        if value is None or not str(value).strip():
            raise ValueError("choice is empty")
        return value

    @field_validator("reason")
    @classmethod
    def _reason_set(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("reason is empty")
        return value


class ModelDecision(Decision):
    family: Literal["tabular", "time_series", "recommendations", "text", "generation", "vision", "audio"]


class Decisions(Open):
    """The decision engine's output; the decisions every layer reads must be there."""

    model: ModelDecision
    hosting: Decision
    serving_pattern: Decision
    precision: Decision
    gpu: Decision
    batching: Decision
    monitoring: Decision
    cost: Decision


# ------------------------------------------------------------------ local profile


class Local(Section):
    state_dir: str = ".local"
    airflow_home: str = ".local/airflow"
    mlflow_tracking_uri: str = "sqlite:///.local/mlflow.db"
    mlflow_artifact_root: str = ".local/mlartifacts"
    feast_repo: str = "feature_repo"
    offline_store: str = ".local/offline"
    online_store: str = ".local/online.db"
    feast_registry: str = ".local/registry.db"
    model_repository: str = ".local/model_repository"
    inference_log: str = ".local/inference_log"
    reports: str = ".local/reports"
    logs: str = ".local/logs"


# ------------------------------------------------------------------ data layer


class Etl(Section):
    dag_id: str
    schedule: str = "@daily"
    start_date: str = "2026-01-01"
    catchup: bool = False
    retries: int = Field(default=2, ge=0)
    retry_delay_minutes: int = Field(default=5, ge=0)
    task_timeout_minutes: int = Field(default=30, gt=0)
    dagrun_timeout_minutes: int = Field(default=120, gt=0)
    tags: list[str] = Field(default_factory=list)


class Validation(Section):
    anomaly_threshold: float = Field(default=0.05, ge=0, le=1)
    max_clock_skew_minutes: int = Field(default=5, ge=0)


class Sample(Section):
    rows_per_interval: int = Field(default=2000, gt=0)
    entities: int = Field(default=500, gt=0)
    seed: int = 42
    dirty_share: float = Field(default=0.01, ge=0, lt=1)


class DataPaths(Section):
    raw: str = ".local/raw"
    staging: str = ".local/staging"
    quarantine: str = ".local/quarantine"


class LocalSource(Section):
    kind: Literal["sample"] = "sample"


class CloudSource(Section):
    kind: Literal["postgres", "parquet", "images"]
    conn_id: str = "data_source"
    table: str
    timestamp_column: str = "event_timestamp"
    parquet_uri: str | None = None


class Source(Section):
    local: LocalSource = Field(default_factory=LocalSource)
    cloud: CloudSource


class FeatureStoreCloud(Open):
    """The cloud stores; besides the variable below, its keys describe them for people."""

    offline_uri_env: str = "FEAST_OFFLINE_URI"


class FeatureStore(Section):
    project: str = Field(min_length=1)
    repo: str = "feature_repo"
    local: dict[str, Any] = Field(default_factory=dict)  # describes the local stores (local: paths)
    cloud: FeatureStoreCloud = Field(default_factory=FeatureStoreCloud)


class Data(Section):
    family: str
    etl: Etl
    validation: Validation = Field(default_factory=Validation)
    sample: Sample = Field(default_factory=Sample)
    paths: DataPaths = Field(default_factory=DataPaths)
    source: Source
    feature_store: FeatureStore


# ------------------------------------------------------------------ training layer


class Registry(Section):
    challenger_alias: str = "challenger"
    champion_alias: str = "champion"


class Dataset(Section):
    test_fraction: float = Field(default=0.25, ge=0.05, le=0.5)
    seed: int = 42
    min_rows: int = Field(default=50, gt=0)
    reference_rows: int = Field(default=2000, gt=0)


class QualityGate(Section):
    metric: str
    min: float | None = None
    max: float | None = None
    min_lift_over_baseline: float | None = None
    max_ratio_to_baseline: float | None = None


class Pipeline(Section):
    name: str
    local_root: str = ".local/kfp"


class Remote(Section):
    kfp_endpoint: str = ""
    namespace: str = "kubeflow"
    experiment: str
    image: str = ""
    config_path: str = "/app/platform.yaml"
    tracking_uri: str


class MlflowServer(Section):
    namespace: str = "mlflow"
    backend_store_secret: str = "mlflow-backend"
    artifacts_configmap: str = "mlflow-artifacts"


class Training(Section):
    registered_model_name: str
    experiment: str
    family: str
    smoke_model: str
    registry: Registry = Field(default_factory=Registry)
    dataset: Dataset = Field(default_factory=Dataset)
    model_params: dict[str, Any] = Field(default_factory=dict)
    quality_gate: dict[str, QualityGate]
    pipeline: Pipeline
    remote: Remote
    mlflow_server: MlflowServer = Field(default_factory=MlflowServer)


# ------------------------------------------------------------------ serving layer


class Ports(Section):
    http: int = Field(default=8000, ge=0, le=65535)
    grpc: int = Field(default=8001, ge=0, le=65535)
    metrics: int = Field(default=8002, ge=0, le=65535)


class Client(Section):
    protocol: Literal["http", "grpc"] = "http"
    timeout_seconds: float = Field(default=10.0, gt=0)
    retries: int = Field(default=3, ge=0)
    backoff_seconds: float = Field(default=0.2, ge=0)
    log_inferences: bool = True


class Batch(Section):
    redis_url: str = "redis://localhost:6379/0"
    request_queue: str
    result_prefix: str
    result_ttl_seconds: int = Field(default=86400, gt=0)
    max_wait_ms: float = Field(ge=0)


class DeviceBudget(Section):
    device: str
    memory_mb: float = Field(gt=0)
    latency_ms: float = Field(gt=0)


class Edge(Section):
    bundle_dir: str = ".local/edge"
    sync_uri: str
    precision: Literal["fp32", "fp16", "int8", "int4"]
    device_budget: DeviceBudget
    min_agreement: float = Field(default=0.99, gt=0, le=1)
    latency_runs: int = Field(default=200, ge=20, description="runs behind the p95 latency (at least 20)")


class Kubernetes(Section):
    namespaces: dict[str, str]
    image: str


class Gateway(Section):
    """The real-time gateway Ingress: cert-manager ClusterIssuer and DNS name per environment."""

    cluster_issuer: str = Field(min_length=1)
    hosts: dict[Literal["dev", "prod"], str] = Field(default_factory=dict)


class Serving(Section):
    model_name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    model_uri: str = ""
    host: str = "127.0.0.1"
    ports: Ports = Field(default_factory=Ports)
    startup_timeout_seconds: float = Field(default=120, gt=0)
    allocator: Literal["jemalloc", "system"] = "jemalloc"
    client: Client = Field(default_factory=Client)
    # Only in projects of that serving pattern (decisions.serving_pattern).
    batch: Batch | None = None
    edge: Edge | None = None
    gateway: Gateway | None = None
    kubernetes: Kubernetes


# ------------------------------------------------------------------ monitoring layer


class InferenceLog(Section):
    sample_rate: float = Field(default=1.0, ge=0, le=1)
    uri: str = ""
    cloud_uri: str = ""
    flush_rows: int = Field(default=1000, gt=0)
    flush_seconds: float = Field(default=10.0, gt=0)
    max_buffered_rows: int = Field(default=100000, gt=0)


class Drift(Section):
    window_hours: float = Field(default=24, gt=0)
    min_window_rows: int = Field(gt=0)
    max_rows: int = Field(default=100000, gt=0)
    drift_share: float = Field(default=0.5, gt=0, le=1)
    retrain_after_windows: int = Field(default=3, ge=1)
    retrain_dag_id: str
    summary_statistics_families: list[str] = Field(default_factory=lambda: ["vision", "audio", "text", "generation"])
    mlflow_experiment: str


class Alerts(Section):
    enabled: bool = False
    webhook_url: str = ""
    timeout_seconds: float = Field(default=5.0, gt=0)
    report_base_url: str = ""


class Prometheus(Section):
    textfile: str = ".local/reports/drift.prom"
    pushgateway_url: str = ""
    job: str
    namespace: str
    triton_model: str
    rule_for: str = "5m"


class Monitoring(Section):
    inference_log: InferenceLog = Field(default_factory=InferenceLog)
    drift: Drift
    alerts: Alerts = Field(default_factory=Alerts)
    prometheus: Prometheus


# ------------------------------------------------------------------ infrastructure layer


class Infra(Section):
    terraform_min_version: str = "1.10.0"
    envs_dir: str = "infra/envs"
    environments: list[str]
    required_env: list[str] = Field(default_factory=list)
    budget_alert_thresholds_percent: list[int] = Field(default_factory=lambda: [80, 100])


class PlatformFile(BaseModel):
    """The whole of platform.yaml. Sections of your own are allowed beside these (a misspelt
    layer section still fails: the layer's own is then missing)."""

    model_config = ConfigDict(extra="allow", title="platform.yaml")

    schema_version: Literal[1] = Field(
        description="Bumped by copier update migrations; run `copier update` when it differs"
    )
    generator: Generator
    project: Project
    answers: dict[str, Any]
    decisions: Decisions
    local: Local = Field(default_factory=Local)
    data: Data
    training: Training
    serving: Serving
    monitoring: Monitoring
    infra: Infra


def json_schema() -> dict[str, Any]:
    """The JSON Schema of platform.yaml (what platform.schema.json holds)."""
    return PlatformFile.model_json_schema()
