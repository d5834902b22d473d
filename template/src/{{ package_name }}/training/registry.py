"""The registered champion, for the serving and monitoring layers.

    info = champion()                    # ChampionInfo of models:/<name>@champion

The ONNX export (`onnx/model.onnx` of the champion's run) is what serving runs; a champion without
one (an export that failed its check) falls back to the MLflow pyfunc model (scoring.py computes
the feature-row champion's scores either way).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import Platform, local_path, use_mlflow
from .errors import NoChampionError
from .settings import TrainingSettings, load_settings
from .tracking import check_tracking_uri

ONNX_ARTIFACT = "onnx/model.onnx"
REFERENCE_ARTIFACT = "reference/features.parquet"


@dataclass(frozen=True)
class ChampionInfo:
    """The version behind models:/<name>@champion and its serving contract."""

    name: str
    version: str
    run_id: str
    model_uri: str  # models:/<name>/<version>: pinned, unlike the alias
    onnx_path: Path | None  # local copy of onnx/model.onnx, None when the export is unavailable
    features: tuple[str, ...]  # the input columns, in order (FP32 [n, len(features)], input `features`)
    task: str  # binary | multiclass | regression
    classes: tuple[str, ...]  # output `scores` columns for classifiers (empty for regression)
    primary_metric: str
    score: float | None
    family: str
    tracking_uri: str

    @property
    def reference_features_uri(self) -> str:
        """The drift reference: a sample of the champion's training features (Parquet)."""
        return f"runs:/{self.run_id}/{REFERENCE_ARTIFACT}"

    @property
    def n_outputs(self) -> int:
        return len(self.classes) if self.task != "regression" else 1


def tracking_client(settings: TrainingSettings, tracking_uri: str | None) -> Any:
    """An MlflowClient on `tracking_uri` (or the project's), which is also made MLflow's current tracking
    and registry URI."""
    from mlflow.tracking import MlflowClient

    uri = tracking_uri or settings.tracking_uri()
    check_tracking_uri(uri)
    use_mlflow(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def champion(
    platform_: Platform | None = None, *, tracking_uri: str | None = None, download_dir: Path | None = None
) -> ChampionInfo:
    """The champion of this project's registered model; NoChampionError before the first promotion.

    The ONNX file is downloaded to `download_dir` (default .local/champion/<version>/).
    """
    from mlflow.exceptions import MlflowException

    settings = load_settings(platform_)
    client = tracking_client(settings, tracking_uri)
    uri = tracking_uri or settings.tracking_uri()
    name = settings.registered_model_name
    try:
        version = client.get_model_version_by_alias(name, settings.champion_alias)
    except MlflowException as error:
        raise NoChampionError(
            f"registered model '{name}' has no '{settings.champion_alias}' version in {uri}; run `make train`"
        ) from error
    run = client.get_run(version.run_id)
    params = run.data.params
    artifacts = {item.path for item in client.list_artifacts(version.run_id, str(Path(ONNX_ARTIFACT).parent))}
    onnx_path: Path | None = None
    if ONNX_ARTIFACT in artifacts:
        target = download_dir or local_path("state_dir", settings.platform) / "champion" / str(version.version)
        target.mkdir(parents=True, exist_ok=True)
        onnx_path = Path(client.download_artifacts(version.run_id, ONNX_ARTIFACT, str(target)))
    contract = settings.contract
    # a framework model (vision/) logs its own primary metric (e.g. map50); the contract's otherwise
    primary_metric = str(params.get("primary_metric", contract.primary_metric))
    return ChampionInfo(
        name=name,
        version=str(version.version),
        run_id=str(version.run_id),
        model_uri=f"models:/{name}/{version.version}",
        onnx_path=onnx_path,
        features=tuple(json.loads(params["features"])) if "features" in params else contract.features,
        task=str(params.get("task", contract.task)),
        classes=tuple(json.loads(params["classes"])) if "classes" in params else contract.classes,
        primary_metric=primary_metric,
        score=run.data.metrics.get(primary_metric),
        family=str(params.get("family", contract.name)),
        tracking_uri=uri,
    )
