"""Load and validate platform.yaml: the one source of this project's settings and decisions."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

CONFIG_ENV = "PLATFORM_CONFIG"
SUPPORTED_SCHEMA = 1
REQUIRED_SECTIONS = ("project", "answers", "decisions")
REQUIRED_DECISIONS = (
    "model",
    "hosting",
    "serving_pattern",
    "precision",
    "gpu",
    "batching",
    "monitoring",
    "cost",
)


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


def validate(raw: Any, path: Path) -> list[str]:
    """Every problem with a parsed platform.yaml (empty when valid)."""
    if not isinstance(raw, dict):
        return [f"{path}: the top level must be a mapping"]
    problems = [f"{path}: missing section '{name}'" for name in REQUIRED_SECTIONS if name not in raw]
    if problems:
        return problems
    if raw.get("schema_version") != SUPPORTED_SCHEMA:
        problems.append(
            f"{path}: schema_version {raw.get('schema_version')!r} is not {SUPPORTED_SCHEMA}; "
            "run `copier update` to migrate"
        )
    decisions = raw["decisions"]
    for key in REQUIRED_DECISIONS:
        entry = decisions.get(key) if isinstance(decisions, dict) else None
        if not isinstance(entry, dict):
            problems.append(f"{path}: decisions.{key} is missing")
            continue
        for field in ("choice", "reason"):
            if not str(entry.get(field, "")).strip():
                problems.append(f"{path}: decisions.{key}.{field} is empty")
    for key in ("slug", "package", "owner", "cost_center", "cloud"):
        if not str(raw["project"].get(key, "")).strip():
            problems.append(f"{path}: project.{key} is empty")
    return problems


def load(path: Path | None = None) -> Platform:
    """Read and validate platform.yaml; raise ConfigError naming every problem."""
    target = path or config_path()
    if not target.is_file():
        raise ConfigError(f"{target} not found; run from the project folder or set {CONFIG_ENV}")
    try:
        raw = yaml.safe_load(target.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ConfigError(f"{target} is not valid YAML: {error}") from error
    problems = validate(raw, target)
    if problems:
        raise ConfigError("; ".join(problems))
    return Platform(path=target, raw=raw)


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
