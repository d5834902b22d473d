"""The data layer's settings: platform.yaml's `data:` section and `local:` paths, typed."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ..config import Platform, local_path, platform
from ..contract import Family, get_family
from ..platform_schema import FeatureStore, Source

PROFILE_ENV = "PLATFORM_PROFILE"
PROFILES = ("local", "cloud")


def profile() -> str:
    """`local` (embedded engines, the default) or `cloud` ($PLATFORM_PROFILE=cloud)."""
    value = os.environ.get(PROFILE_ENV, "local").strip() or "local"
    if value not in PROFILES:
        raise ValueError(f"${PROFILE_ENV}={value!r}; expected one of {PROFILES}")
    return value


@dataclass(frozen=True)
class DataSettings:
    """Everything the ETL reads from platform.yaml."""

    root: Path
    family: Family
    owner: str
    dag_id: str
    schedule: str
    start_date: datetime
    catchup: bool
    retries: int
    retry_delay_minutes: int
    task_timeout_minutes: int
    dagrun_timeout_minutes: int
    tags: tuple[str, ...]
    anomaly_threshold: float
    max_clock_skew_minutes: int
    sample_rows: int
    sample_entities: int
    seed: int
    dirty_share: float
    raw_dir: Path
    staging_dir: Path
    quarantine_dir: Path
    offline_store: Path
    online_store: Path
    feast_registry: Path
    feast_repo: Path
    feast_project: str
    source: Source
    feature_store: FeatureStore

    @property
    def offline_dir(self) -> Path:
        """The family's folder in the offline store: one Parquet file per data interval."""
        return self.offline_store / self.family.name


def _path(root: Path, value: str) -> Path:
    path = Path(value)
    return path if path.is_absolute() else root / path


def load_settings(platform_: Platform | None = None) -> DataSettings:
    """Read the data settings from platform.yaml (the project's one source of settings)."""
    current = platform_ or platform()
    root = current.path.parent
    data = current.settings.data  # validated, defaults filled in (platform_schema.py)
    etl, sample, paths = data.etl, data.sample, data.paths
    start = datetime.fromisoformat(etl.start_date)
    return DataSettings(
        root=root,
        family=get_family(data.family),
        owner=current.settings.project.owner,
        dag_id=etl.dag_id,
        schedule=etl.schedule,
        start_date=start if start.tzinfo else start.replace(tzinfo=UTC),
        catchup=etl.catchup,
        retries=etl.retries,
        retry_delay_minutes=etl.retry_delay_minutes,
        task_timeout_minutes=etl.task_timeout_minutes,
        dagrun_timeout_minutes=etl.dagrun_timeout_minutes,
        tags=tuple(etl.tags),
        anomaly_threshold=data.validation.anomaly_threshold,
        max_clock_skew_minutes=data.validation.max_clock_skew_minutes,
        sample_rows=sample.rows_per_interval,
        sample_entities=sample.entities,
        seed=sample.seed,
        dirty_share=sample.dirty_share,
        raw_dir=_path(root, paths.raw),
        staging_dir=_path(root, paths.staging),
        quarantine_dir=_path(root, paths.quarantine),
        offline_store=local_path("offline_store", current),
        online_store=local_path("online_store", current),
        feast_registry=local_path("feast_registry", current),
        feast_repo=_path(root, data.feature_store.repo),
        feast_project=data.feature_store.project,
        source=data.source,
        feature_store=data.feature_store,
    )
