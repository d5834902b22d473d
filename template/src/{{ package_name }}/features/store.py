"""The feature store as plain functions: what the DAG, training, serving and monitoring call.

Local profile: SQLite online store, Parquet (file) offline store, file registry, all at the paths of
platform.yaml `local:`. Cloud profile ($PLATFORM_PROFILE=cloud): feature_repo/feature_store.cloud.yaml
(Redis online store, SQL registry on PostgreSQL; endpoints from env vars set from Terraform outputs).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow.dataset as pads
from feast import FeatureStore, RepoConfig
from feast.repo_operations import apply_total_with_repo_instance

from ..contract import EVENT_TIMESTAMP
from ..data.offline import as_utc, latest_event_time, offline_root
from ..data.settings import DataSettings, load_settings, profile
from .definitions import build, names

CLOUD_YAML = "feature_store.cloud.yaml"


def repo_config(settings: DataSettings | None = None) -> RepoConfig:
    """The local profile's Feast configuration, from platform.yaml.

    The SQLite path is relative to the feature repo, as in feature_store.yaml: Feast records the
    joined path string in the registry's infra, so an absolute one here made `feast plan` report
    the tables as changed after every apply.
    """
    current = settings or load_settings()
    current.feast_registry.parent.mkdir(parents=True, exist_ok=True)
    current.online_store.parent.mkdir(parents=True, exist_ok=True)
    return RepoConfig(
        project=current.feast_project,
        provider="local",
        registry={"registry_type": "file", "path": str(current.feast_registry), "cache_ttl_seconds": 60},
        online_store={"type": "sqlite", "path": os.path.relpath(current.online_store, current.feast_repo)},
        offline_store={"type": "file"},
        entity_key_serialization_version=3,
        repo_path=current.feast_repo,
    )


def get_store(settings: DataSettings | None = None) -> FeatureStore:
    """A FeatureStore for the active profile (local unless $PLATFORM_PROFILE=cloud)."""
    current = settings or load_settings()
    if profile() == "cloud":
        return FeatureStore(repo_path=str(current.feast_repo), fs_yaml_file=current.feast_repo / CLOUD_YAML)
    return FeatureStore(config=repo_config(current))


def apply(settings: DataSettings | None = None) -> list[str]:
    """Register the family's entity, views and services (idempotent); return their names.

    The same code path as `feast apply` in feature_repo/: the registry then mirrors the repo
    (objects no longer defined are removed) and records the online-store tables it created, so a
    `feast plan` afterwards reports no changes. (FeatureStore.apply() records no infra: `feast plan`
    then listed every table as one to create.)
    """
    current = settings or load_settings()
    definitions = build(current)
    store = get_store(current)
    # Source validation off: the DAG applies right after loading the partition, and in the cloud
    # profile validating would read the object store once more for nothing.
    apply_total_with_repo_instance(
        store, store.project, store.registry, definitions.repo_contents(), skip_source_validation=True
    )
    return [str(item.name) for item in definitions.objects()]


def materialize(start: datetime, end: datetime, settings: DataSettings | None = None) -> datetime:
    """Write the latest values per entity from `start` on to the online store; return the window's end.

    The window ends at `end` or, when newer intervals are already loaded (a re-run or backfill of an
    old day), after the newest loaded event, so the online store keeps the newest values.
    """
    current = settings or load_settings()
    window_end = as_utc(end)
    newest = latest_event_time(current)
    if newest is not None and newest >= window_end:
        window_end = newest + timedelta(seconds=1)
    get_store(current).materialize(start_date=as_utc(start), end_date=window_end)
    return window_end


def training_entities(settings: DataSettings | None = None) -> pd.DataFrame:
    """Every (entity, event_timestamp) of the offline store: the default entity_df for training."""
    current = settings or load_settings()
    columns = [current.family.entity, EVENT_TIMESTAMP]
    root = offline_root(current)
    if "://" not in root and not any(Path(root).glob("*.parquet")):
        return pd.DataFrame({column: [] for column in columns})
    return pads.dataset(root, format="parquet").to_table(columns=columns).to_pandas()


def training_frame(entity_df: pd.DataFrame | None = None, settings: DataSettings | None = None) -> pd.DataFrame:
    """Point-in-time correct features + label for (entity, event_timestamp) rows (training service).

    Each row gets the latest values at or before its event_timestamp (within the TTL); values that
    arrive later are never joined. With no entity_df, every row of the offline store is used.
    """
    current = settings or load_settings()
    store = get_store(current)
    rows = training_entities(current) if entity_df is None else entity_df
    service = store.get_feature_service(names(current.family)["training"])
    return store.get_historical_features(entity_df=rows, features=service).to_df()


def online_features(entity_ids: Sequence[int], settings: DataSettings | None = None) -> pd.DataFrame:
    """The latest materialized features of the given entity ids (serving service), one row per id.

    Unknown ids come back with null features. Columns: the entity, then the contract's features.
    """
    current = settings or load_settings()
    family = current.family
    store = get_store(current)
    service = store.get_feature_service(names(family)["serving"])
    response = store.get_online_features(
        features=service, entity_rows=[{family.entity: int(entity)} for entity in entity_ids]
    )
    frame = response.to_df()
    return frame.loc[:, [family.entity, *family.features]]
