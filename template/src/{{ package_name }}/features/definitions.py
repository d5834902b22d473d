"""Feast objects for the project's family, built from contract.yaml (no hand-written feature lists).

Names (with <family> = platform.yaml data.family, e.g. `tabular`):
  entity            <entity column>           e.g. customer_id (INT64 join key)
  feature views     <family>_features         the contract's features (online, TTL from contract.yaml)
                    <family>_labels           the label (offline only: never served)
  feature services  <family>_training         features + label, for get_historical_features
                    <family>_serving          features, for get_online_features
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from feast import Entity, FeatureService, FeatureView, Field, FileSource, Project, ValueType
from feast.repo_contents import RepoContents
from feast.types import Float64, Int64

from ..contract import CREATED_TIMESTAMP, EVENT_TIMESTAMP, Family
from ..data.offline import offline_root
from ..data.settings import DataSettings, load_settings


@dataclass(frozen=True)
class Definitions:
    project: Project
    entity: Entity
    source: FileSource
    features: FeatureView
    labels: FeatureView
    training: FeatureService
    serving: FeatureService

    def objects(self) -> list[Any]:
        """Everything `FeatureStore.apply` registers."""
        return [self.entity, self.source, self.features, self.labels, self.training, self.serving]

    def repo_contents(self) -> RepoContents:
        """The feature repo as `feast apply`/`feast plan` see it (feature_repo/repo.py holds the same)."""
        return RepoContents(
            projects=[self.project],
            data_sources=[self.source],
            feature_views=[self.features, self.labels],
            on_demand_feature_views=[],
            stream_feature_views=[],
            label_views=[],
            entities=[self.entity],
            feature_services=[self.training, self.serving],
            permissions=[],
        )


def names(family: Family) -> dict[str, str]:
    """The Feast object names of a family (stable: other layers use them)."""
    return {
        "entity": family.entity,
        "source": f"{family.name}_source",
        "features": f"{family.name}_features",
        "labels": f"{family.name}_labels",
        "training": f"{family.name}_training",
        "serving": f"{family.name}_serving",
    }


def build(settings: DataSettings | None = None) -> Definitions:
    """Entity, source, feature views and feature services of the project's family."""
    current = settings or load_settings()
    family = current.family
    named = names(family)
    tags = {"family": family.name, "owner": current.owner}
    entity = Entity(
        name=named["entity"],
        join_keys=[family.entity],
        value_type=ValueType.INT64,
        description=f"{family.description}: one {family.entity}",
        tags=tags,
    )
    source = FileSource(
        name=named["source"],
        path=offline_root(current),
        timestamp_field=EVENT_TIMESTAMP,
        created_timestamp_column=CREATED_TIMESTAMP,
        description="one Parquet file per data interval, written by the ETL DAG",
    )
    ttl = timedelta(days=family.ttl_days)
    label_type = Int64 if family.is_classification else Float64
    features = FeatureView(
        name=named["features"],
        entities=[entity],
        ttl=ttl,
        schema=[Field(name=family.entity, dtype=Int64), *(Field(name=c, dtype=Float64) for c in family.features)],
        source=source,
        online=True,
        tags=tags,
    )
    labels = FeatureView(
        name=named["labels"],
        entities=[entity],
        ttl=ttl,
        schema=[Field(name=family.entity, dtype=Int64), Field(name=family.label, dtype=label_type)],
        source=source,
        online=False,
        tags=tags,
    )
    training = FeatureService(name=named["training"], features=[features, labels], tags=tags)
    serving = FeatureService(name=named["serving"], features=[features], tags=tags)
    project = Project(name=current.feast_project, description=f"{family.description}: the {family.name} family")
    return Definitions(project, entity, source, features, labels, training, serving)
