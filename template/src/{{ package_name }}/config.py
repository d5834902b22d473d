"""Load and validate platform.yaml: the one source of this project's settings and decisions."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from .platform_schema import SCHEMA_VERSION, PlatformFile

CONFIG_ENV = "PLATFORM_CONFIG"
SUPPORTED_SCHEMA = SCHEMA_VERSION


class ConfigError(ValueError):
    """platform.yaml is missing, unreadable or incomplete; the message says where and what to do."""


def project_root() -> Path:
    """The folder holding platform.yaml: $PLATFORM_CONFIG's folder, else the nearest parent of cwd."""
    override = os.environ.get(CONFIG_ENV)
    if override:
        return Path(override).resolve().parent
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "platform.yaml").is_file():
            return folder
    return Path(__file__).resolve().parents[2]


def config_path() -> Path:
    override = os.environ.get(CONFIG_ENV)
    return Path(override).resolve() if override else project_root() / "platform.yaml"


@dataclass(frozen=True)
class Platform:
    """platform.yaml, parsed; sections stay plain mappings so new keys need no code change."""

    path: Path
    raw: dict[str, Any]
    # The validated models `load()` built `raw` from; a Platform made from a plain mapping has none.
    typed: PlatformFile | None = field(default=None, repr=False, compare=False)

    @property
    def project(self) -> dict[str, Any]:
        return dict(self.raw["project"])

    @property
    def answers(self) -> dict[str, Any]:
        return dict(self.raw["answers"])

    @property
    def decisions(self) -> dict[str, Any]:
        return dict(self.raw["decisions"])

    @property
    def warnings(self) -> list[dict[str, Any]]:
        return list(self.raw["decisions"].get("warnings", []))

    def section(self, name: str) -> dict[str, Any]:
        """A layer's own section (data, training, serving, monitoring, infra)."""
        if name not in self.raw:
            raise ConfigError(f"{self.path}: no '{name}' section; run `copier update` to add it")
        return dict(self.raw[name])

    def decision(self, key: str) -> dict[str, Any]:
        return dict(self.raw["decisions"][key])

    @property
    def settings(self) -> PlatformFile:
        """The file as typed sections (platform_schema.py), e.g. `settings.serving.client.retries`:
        the models `load()` validated, so the layers do not validate the file again."""
        return self.typed if self.typed is not None else PlatformFile.model_validate(self.raw)


def _location(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def validated(raw: Any, path: Path) -> PlatformFile:
    """A parsed platform.yaml as its typed sections; ConfigError naming every problem and its key."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    if "schema_version" in raw and raw["schema_version"] != SUPPORTED_SCHEMA:
        # The one problem whose fix is not an edit: say it alone, before the details it causes.
        raise ConfigError(
            f"{path}: schema_version {raw['schema_version']!r} is not {SUPPORTED_SCHEMA}; "
            "run `copier update` to migrate"
        )
    try:
        return PlatformFile.model_validate(raw)
    except ValidationError as error:
        raise ConfigError("; ".join(_problem(path, detail) for detail in error.errors())) from error


def _problem(path: Path, detail: Any) -> str:
    where = _location(tuple(detail["loc"]))
    if detail["type"] == "missing":
        if len(detail["loc"]) == 1:
            return f"{path}: missing section '{where}'; run `copier update` to add it"
        return f"{path}: {where} is missing"
    if detail["type"] == "extra_forbidden":
        return f"{path}: {where} is not a known setting (a typo? the keys are in platform.schema.json)"
    message = str(detail["msg"]).removeprefix("Value error, ")
    if message in ("choice is empty", "reason is empty"):
        return f"{path}: {where} is empty"
    if detail["type"] == "string_too_short":
        return f"{path}: {where} is empty"
    return f"{path}: {where}: {message} (got {detail.get('input')!r})"


def load(path: Path | None = None) -> Platform:
    """Read and validate platform.yaml; raise ConfigError naming every problem."""
    target = path or config_path()
    if not target.is_file():
        raise ConfigError(f"{target} not found; run from the project folder or set {CONFIG_ENV}")
    try:
        raw = yaml.safe_load(target.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ConfigError(f"{target} is not valid YAML: {error}") from error
    # Validated once, here; the layers read the sections with every default filled in.
    typed = validated(raw, target)
    return Platform(path=target, raw=typed.model_dump(mode="json"), typed=typed)


@cache
def platform() -> Platform:
    """The project's platform.yaml, loaded once per process."""
    return load()


def local_path(key: str, platform_: Platform | None = None) -> Path:
    """A local-profile path from platform.yaml's `local` section, resolved against the project root.

    Keys: state_dir, airflow_home, mlflow_artifact_root, feast_repo, offline_store, online_store,
    feast_registry, model_repository, inference_log, reports, logs.
    """
    current = platform_ or platform()
    value = current.section("local")[key]
    path = Path(value)
    return path if path.is_absolute() else current.path.parent / path


def use_mlflow(uri: str) -> str:
    """Point MLflow's tracking and its model registry at `uri`, and return it.

    Always both: MLflow keeps the registry URI for the rest of the process (and exports
    $MLFLOW_REGISTRY_URI to child processes), so a step that set only the tracking URI would read and
    write the models of whichever registry an earlier step pointed at.
    """
    import mlflow  # imported here: most of the package runs without MLflow loaded

    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return uri


def mlflow_tracking_uri(platform_: Platform | None = None) -> str:
    """The local tracking URI with its SQLite path made absolute; $MLFLOW_TRACKING_URI wins."""
    override = os.environ.get("MLFLOW_TRACKING_URI")
    if override:
        return override
    current = platform_ or platform()
    uri = str(current.section("local")["mlflow_tracking_uri"])
    prefix = "sqlite:///"
    if uri.startswith(prefix) and not uri.startswith(prefix + "/"):
        return prefix + str(current.path.parent / uri.removeprefix(prefix))
    return uri
