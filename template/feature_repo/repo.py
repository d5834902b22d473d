"""Feast definitions for the `feast` CLI (`feast apply` in this folder).

The objects are built from contract.yaml by `<package>.features.definitions`, the same code the
ETL DAG's feast_apply task runs, so the CLI and the DAG always register the same thing.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CONFIG = Path(os.environ.get("PLATFORM_CONFIG") or ROOT / "platform.yaml")
PACKAGE = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))["project"]["package"]
_built = importlib.import_module(f"{PACKAGE}.features.definitions").build()

project = _built.project
entity = _built.entity
source = _built.source
features_view = _built.features
labels_view = _built.labels
training_service = _built.training
serving_service = _built.serving
