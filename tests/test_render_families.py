"""Tier 2: a project holds only its own family's contract, sample data, model and family tests.

One project per family (the first use case of the catalog with that family) is rendered; its
contract.yaml, data/samples/, training/families/ and family-only tests must be that family's and no
other's. The partials/contract/ table, which the contract is rendered from, has every family.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import jinja2
import pytest
import yaml
from conftest import REPO
from platform_engine import Answers, decide
from platform_engine.tables import use_cases

# The families of feature-row projects: every vision use case trains its own PyTorch model instead
# (src/<package>/vision/, tests/test_render_vision.py), so "vision" has no feature-row project.
FAMILIES = ("tabular", "time_series", "recommendations", "text", "generation", "audio")
# training/families/ modules beyond <family>.py: the library code the family's model needs.
SHARED_TRAINING = {
    "tabular": {"lightgbm_trees"},
    "time_series": {"lightgbm_trees"},
    "audio": {"lightgbm_trees"},
    "recommendations": set(),
    "text": {"sklearn_export"},
    "generation": {"sklearn_export"},
}
# Tests rendered for some families only (the rest test whatever family the project has).
FAMILY_TESTS = {
    "tests/test_text_features.py": {"text", "generation"},
    "tests/stack/test_training_recommendations.py": {"recommendations"},
}


def family_of(use_case: str) -> str:
    return str(decide(Answers(use_case=use_case)).model.numbers["family"])


def first_use_case(family: str) -> str:
    """The family's first use case whose project holds the family's own modules (a use case with a
    PyTorch framework holds src/<package>/vision/ instead: tests/test_render_vision.py)."""
    return next(
        use_case
        for use_case in use_cases()
        if family_of(use_case) == family and not decide(Answers(use_case=use_case)).model.numbers.get("framework")
    )


def test_every_family_has_a_use_case_and_a_contract_row() -> None:
    assert {family_of(use_case) for use_case in use_cases()} == {*FAMILIES, "vision"}
    assert all(
        decide(Answers(use_case=use_case)).model.numbers["framework"]
        for use_case in use_cases()
        if family_of(use_case) == "vision"
    ), "every vision use case names its PyTorch framework"
    rows = {path.stem for path in (REPO / "partials" / "contract").glob("*.yaml")}
    # vision_images: the contract of vision projects with a PyTorch framework (per-image statistics)
    assert rows == {*FAMILIES, "vision_images"}
    for family in [*FAMILIES, "vision_images"]:
        text = (REPO / "partials" / "contract" / f"{family}.yaml").read_text(encoding="utf-8")
        # vision_images names its task's prediction statistics with Jinja (detection's here)
        decisions = {"model": {"framework": {"task": "detection", "classes": ["circle", "square"]}}}
        row = yaml.safe_load(jinja2.Environment().from_string(text).render(decisions=decisions))
        assert {"entity", "features", "label", "task", "primary_metric", "baseline"} <= set(row), family
        assert "family" not in row, "contract.yaml.jinja writes the family's name from decisions.model.family"


@pytest.mark.parametrize("family", FAMILIES)
def test_a_project_holds_its_familys_modules_only(family: str, render: Callable[..., Path]) -> None:
    project = render(use_case=first_use_case(family))
    (package,) = project.glob("src/*/contract.py")
    src = package.parent
    contract = yaml.safe_load((src / "contract.yaml").read_text(encoding="utf-8"))
    source = yaml.safe_load((REPO / "partials" / "contract" / f"{family}.yaml").read_text(encoding="utf-8"))
    assert contract == {"family": family, **source}
    assert not (src / "data" / "families.yaml").exists() and not (src / "data" / "families.py").exists()
    samples = {path.stem for path in (src / "data" / "samples").glob("*.py")}
    assert samples == {"__init__", family}, "the family's sample generator only"
    trained = {path.stem for path in (src / "training" / "families").glob("*.py")}
    assert trained == {"__init__", family, *SHARED_TRAINING[family]}, "the family's model only"
    for test, families in FAMILY_TESTS.items():
        assert (project / test).is_file() == (family in families), test
    for name in ("sample.py", "validate.py", "etl.py"):
        text = (src / "data" / name).read_text(encoding="utf-8")
        assert "GENERATORS" not in text and "families.yaml" not in text, name
