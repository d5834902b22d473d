"""The drift job's inputs: the champion's training reference (MLflow) and Parquet files."""

from __future__ import annotations

import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ...config import use_mlflow
from .settings import DriftSettings
from .status import EXIT_CONFIG, EXIT_NO_REFERENCE, DriftJobError

REFERENCE_ARTIFACT = "reference/features.parquet"


@dataclass
class Reference:
    frame: pd.DataFrame
    source: str
    model_name: str = ""
    model_version: str = ""
    run_id: str = ""


def check_tracking_server(tracking_uri: str, timeout: float = 5.0) -> None:
    """Fail in seconds when an MLflow server does not answer (MLflow's client retries for minutes)."""
    if not tracking_uri.startswith(("http://", "https://")):
        return
    try:
        with urllib.request.urlopen(tracking_uri.rstrip("/") + "/health", timeout=timeout) as response:
            if response.status == 200:
                return
            problem = f"answered HTTP {response.status} on /health"
    except (OSError, ValueError) as error:
        problem = f"is unreachable ({error})"
    raise DriftJobError(EXIT_NO_REFERENCE, f"no reference: the MLflow tracking server {tracking_uri} {problem}")


def load_champion_reference(settings: DriftSettings, tracking_uri: str) -> Reference:
    """The training reference logged with the run behind the champion alias."""
    check_tracking_server(tracking_uri)
    import mlflow
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    use_mlflow(tracking_uri)
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    try:
        version = client.get_model_version_by_alias(settings.registered_model_name, settings.champion_alias)
    except MlflowException as error:
        raise DriftJobError(
            EXIT_NO_REFERENCE,
            f"no champion: registered model {settings.registered_model_name!r} has no alias "
            f"{settings.champion_alias!r} in {tracking_uri} (train and promote a model first: make train)",
        ) from error
    run_id = str(version.run_id or "")
    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=REFERENCE_ARTIFACT, dst_path=tmp)
        except Exception as error:
            raise DriftJobError(
                EXIT_NO_REFERENCE,
                f"champion {settings.registered_model_name} v{version.version} (run {run_id}) has no "
                f"{REFERENCE_ARTIFACT}: retrain with the current training code, which logs it",
            ) from error
        frame = read_parquet(Path(path), "reference")
    return Reference(
        frame=frame,
        source=f"models:/{settings.registered_model_name}@{settings.champion_alias} (run {run_id})",
        model_name=settings.registered_model_name,
        model_version=str(version.version),
        run_id=run_id,
    )


def read_parquet(path: Path, what: str) -> pd.DataFrame:
    if not path.is_file():
        raise DriftJobError(EXIT_CONFIG, f"{what} file {path} does not exist")
    try:
        return pd.read_parquet(path)
    except Exception as error:
        raise DriftJobError(EXIT_CONFIG, f"{what} file {path} is not readable Parquet: {error}") from error
