"""MLflow connection: fail fast and clearly when the tracking server cannot be reached."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from ..config import use_mlflow
from .errors import TrainingError

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

    from .settings import TrainingSettings

CONNECT_TIMEOUT_SECONDS = 5.0


def check_tracking_uri(uri: str, timeout: float = CONNECT_TIMEOUT_SECONDS) -> None:
    """TrainingError unless the tracking backend answers: a server's /health, or a SQLite file's folder.

    MLflow's own client retries for minutes against a dead server; this check answers in seconds.
    """
    parsed = urlparse(uri)
    if parsed.scheme in ("http", "https"):
        health = uri.rstrip("/") + "/health"
        try:
            with urllib.request.urlopen(health, timeout=timeout) as response:
                if response.status != 200:
                    raise TrainingError(f"MLflow tracking server {uri} answered {response.status} on /health")
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            raise TrainingError(
                f"MLflow tracking server {uri} is unreachable ({error}); start it or set "
                "MLFLOW_TRACKING_URI (the local profile needs no server: sqlite:///.local/mlflow.db)"
            ) from error
        return
    if parsed.scheme == "sqlite":
        database = Path(uri.removeprefix("sqlite:///"))
        try:
            database.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise TrainingError(f"MLflow tracking database {database}: cannot create its folder ({error})") from error
        return
    if parsed.scheme in ("postgresql", "mysql", "mssql") or parsed.scheme.startswith(("postgresql+", "mysql+")):
        host, port = parsed.hostname or "localhost", parsed.port or 5432
        try:
            socket.create_connection((host, port), timeout=timeout).close()
        except OSError as error:
            raise TrainingError(f"MLflow backend database {host}:{port} is unreachable ({error})") from error
        return
    if parsed.scheme in ("", "file"):
        raise TrainingError(
            f"MLflow tracking URI {uri!r} is a file store, which MLflow 3 refuses; use sqlite:///<path>.db"
        )


def connect(settings: TrainingSettings, tracking_uri: str | None = None) -> tuple[str, MlflowClient]:
    """Check the tracking URI (`tracking_uri`, else the settings'), point MLflow's tracking and registry at
    it, and return it with a client on it."""
    from mlflow.tracking import MlflowClient

    uri = tracking_uri or settings.tracking_uri()
    check_tracking_uri(uri)
    use_mlflow(uri)
    return uri, MlflowClient(tracking_uri=uri, registry_uri=uri)


def experiment_id(name: str, tracking_uri: str, artifact_root: Path) -> str:
    """The MLflow experiment `name`, created on first use. On a local SQLite store its artifacts go
    under `artifact_root` (.local/mlartifacts): MLflow's default is ./mlruns in the working folder."""
    import mlflow  # imported here: the connection check above runs without MLflow installed

    found = mlflow.get_experiment_by_name(name)
    if found is not None:
        return str(found.experiment_id)
    location = None
    if tracking_uri.startswith("sqlite:"):
        artifact_root.mkdir(parents=True, exist_ok=True)
        location = artifact_root.as_uri()
    return str(mlflow.create_experiment(name, artifact_location=location))
