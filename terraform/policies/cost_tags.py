"""Checkov custom policy CKV_MLOPS_1: every taggable resource carries the cost tags.

Run: checkov -d infra --external-checks-dir terraform/policies (the generated project: infra/policies).
A resource passes when its tag attribute (tags / labels / resource_labels ..., see cost_tags_data.py)
  - resolves to a mapping that holds every cost tag key, or
  - is an expression built from the module's cost-tag map (var.tags, local.tags, var.labels,
    local.labels, module.<cost_tags>.tags / .labels), which the cost_tags module fills with every key,
  - or is such an expression that checkov evaluated part of the way (it resolves the variables
    when every module input is known), in which every cost tag key stands as a map key.
A missing attribute, an empty mapping, or a literal mapping without a key fails.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck

# Loaded by path: checkov imports this file on its own, without the folder on sys.path.
_spec = importlib.util.spec_from_file_location("cost_tags_data", Path(__file__).with_name("cost_tags_data.py"))
assert _spec is not None and _spec.loader is not None
_data = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_data)
REQUIRED_KEYS: tuple[str, ...] = tuple(_data.REQUIRED_KEYS)
TAGGABLE: dict[str, str] = dict(_data.TAGGABLE)
COST_TAG_REFERENCE = re.compile(r"\b(var|local)\.(tags|labels)\b|\bmodule\.[\w-]+\.(tags|labels)\b")


def _unwrap(value: Any) -> Any:
    """Checkov wraps attribute values in one-element lists."""
    while isinstance(value, list) and len(value) == 1:
        value = value[0]
    return value


def _attribute(conf: dict[str, Any], path: str) -> Any:
    current: Any = conf
    for part in path.split("."):
        current = _unwrap(current)
        if not isinstance(current, dict) or part not in current:
            return None
        current = current[part]
    return _unwrap(current)


def _map_key(key: str) -> re.Pattern[str]:
    """`key` as a quoted map key inside an expression string: 'owner': or "owner":."""
    return re.compile(rf"""['"]{re.escape(key)}['"]\s*:""")


def _map_key(key: str) -> re.Pattern[str]:
    """`key` as a quoted map key inside an expression string: 'owner': or "owner":."""
    return re.compile(rf"""['"]{re.escape(key)}['"]\s*:""")


class CostTags(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Taggable resources carry the cost tags (" + ", ".join(REQUIRED_KEYS) + ")",
            id="CKV_MLOPS_1",
            categories=[CheckCategories.GENERAL_SECURITY],
            supported_resources=list(TAGGABLE),
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        resource_type = self.entity_type
        value = _attribute(conf, TAGGABLE[resource_type])
        if isinstance(value, dict):
            missing = [key for key in REQUIRED_KEYS if key not in value]
            self.details = [f"missing cost tags: {', '.join(missing)}"] if missing else []
            return CheckResult.FAILED if missing else CheckResult.PASSED
        if isinstance(value, str) and COST_TAG_REFERENCE.search(value):
            return CheckResult.PASSED
        if isinstance(value, str) and all(_map_key(key).search(value) for key in REQUIRED_KEYS):
            return CheckResult.PASSED
        if isinstance(value, str) and all(_map_key(key).search(value) for key in REQUIRED_KEYS):
            return CheckResult.PASSED
        self.details = [f"{TAGGABLE[resource_type]} is not set from the cost tags"]
        return CheckResult.FAILED


check = CostTags()
