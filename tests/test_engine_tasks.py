"""Tier 1: the production contracts (data/tasks.yaml) and `decisions.task`.

The engine records the use case's contract in platform.yaml (`decisions.task`), null where the use
case serves its family's flat contract. A project renders exactly the head modules the contract
lists (Jinja conditions in the file names under tasks/heads/), so the table and those file names
are checked against each other here. Only projects with a contract (and the text families, whose
sample data uses the text helpers) render src/<package>/tasks/ at all.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jinja2
import pytest
from conftest import REPO
from platform_engine import Answers, decide
from platform_engine import tasks as tasks_module
from platform_engine.tables import table, use_cases
from platform_engine.tasks import task_contract, task_use_cases

SRC = REPO / "template" / "src" / "{{ package_name }}"
TASKS = next(path for path in SRC.iterdir() if path.name.endswith("tasks{% endif %}"))
HEADS = TASKS / "heads"
# What the task layer adds beside heads/ (training, serving, smoke, the Triton python model), and on
# the edge pattern the device runner.
TASK_MODULES = {"contract.py", "training.py", "serving.py", "smoke.py", "triton_task_model.py"}
FLAT = {"text_classification", "audio_classification", "tabular", "time_series", "recommendations"}
# Vision use cases with a PyTorch framework in the catalog serve their contract with it, on every
# serving pattern (test_engine_frameworks.py): no head, no task contract.
FRAMEWORK = {"image_classification", "object_detection", "segmentation", "ocr", "face_recognition"}
# Text generation's language model (decisions.model.llm, test_engine_generation.py) serves its
# contract the same way.
LANGUAGE_MODEL = {"text_generation"}
HEADS_OF = {
    "embeddings": "text_embedding",
    "speech_to_text": "event_transcriber",
    "search_rag": "retriever",
    "text_to_speech": "speech_synthesizer",
}
# Modules a project of these families renders whatever its contract: data/samples/<family>.py
# imports them for the text and generation families' features.
FAMILY_MODULES = {"text": {"text", "vocabulary"}, "generation": {"text", "vocabulary"}}


def _answers(use_case: str) -> Answers:
    return Answers(use_case=use_case)


def _decisions(use_case: str) -> dict[str, Any]:
    return decide(_answers(use_case)).to_dict()


def _rendered_names(folder: Path, decisions: dict[str, Any]) -> set[str]:
    """The file names Copier renders from `folder` for these decisions (empty names are skipped)."""
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined)
    names = {environment.from_string(path.name).render(decisions=decisions) for path in folder.iterdir()}
    return {name for name in names if name and name != "__pycache__"}


def test_the_task_use_cases_are_the_catalogs_with_a_head_and_the_rest_are_flat() -> None:
    assert set(task_use_cases()) == set(HEADS_OF)
    assert set(use_cases()) == set(HEADS_OF) | FLAT | FRAMEWORK | LANGUAGE_MODEL
    for use_case in use_cases():
        task = _decisions(use_case)["task"]
        if use_case in FLAT | FRAMEWORK | LANGUAGE_MODEL:
            assert task is None, use_case
        else:
            assert task["head"] == HEADS_OF[use_case]
            assert task["use_case"] == use_case
            assert task["family"] == table("catalog")["use_cases"][use_case]["family"]


@pytest.mark.parametrize("use_case", sorted(HEADS_OF))
def test_a_contract_is_plain_data_with_its_tensors_and_words(use_case: str) -> None:
    task = _decisions(use_case)["task"]
    assert json.loads(json.dumps(task)) == task  # plain data: it is dumped into platform.yaml
    assert set(task) == {"use_case", "family", "head", "modules", "options", "inputs", "outputs", "smoke",
                         "production"}  # fmt: skip
    assert task["modules"][-1] == task["head"]
    assert task["inputs"] and task["outputs"]
    for tensor in (*task["inputs"], *task["outputs"]):
        assert tensor["dtype"] in ("FP32", "INT32", "UTF8")
        assert tensor["dims"] and all(isinstance(size, int) and size > 0 for size in tensor["dims"])
    assert "\n" not in task["smoke"] and len(task["smoke"]) > 40
    assert "\n" not in task["production"] and len(task["production"]) > 40


@pytest.mark.parametrize("use_case", sorted(HEADS_OF))
def test_text_options_match_the_text_tensors(use_case: str) -> None:
    """A head with text tensors has `text_bytes`, and every text tensor is that wide."""
    task = _decisions(use_case)["task"]
    text = [tensor for tensor in (*task["inputs"], *task["outputs"]) if tensor["dtype"] == "UTF8"]
    for tensor in text:
        assert tensor["dims"] == [task["options"]["text_bytes"]], (use_case, tensor)
    if "dims" in task["options"]:
        vectors = [t for t in task["outputs"] if t["name"] == "embedding"]
        assert all(t["dims"] == [task["options"]["dims"]] for t in vectors), use_case


@pytest.mark.parametrize("use_case", sorted(use_cases()))
def test_a_project_renders_exactly_its_heads_modules(use_case: str) -> None:
    """src/<package>/tasks/ of a rendered project: with a contract, the task layer and heads/ with
    the base, the contract's modules (and the text helpers of the text and generation families);
    for the text families without one, heads/ with the text helpers only; otherwise no tasks/."""
    decisions = _decisions(use_case)
    task = decisions["task"]
    family = decisions["model"]["family"]
    helpers = FAMILY_MODULES.get(family, set())
    folder = jinja2.Environment().from_string(TASKS.name).render(decisions=decisions)
    assert folder == ("tasks" if task or helpers else ""), "tasks/ renders only with a contract or text helpers"
    if not folder:
        return
    expected = {"__init__"} | ({"base", *task["modules"]} if task else set()) | helpers
    assert _rendered_names(HEADS, decisions) == {f"{name}.py" for name in expected}
    edge = decisions["serving_pattern"]["choice"] == "edge"
    # the bundle's runner, or the load test's request (a RAG project load-tests its `rag` model instead)
    layer = TASK_MODULES | ({"edge.py"} if edge else set() if decisions["model"].get("rag") else {"load_request.py"})
    assert _rendered_names(TASKS, decisions) == {"__init__.py", "heads"} | (layer if task else set())


def test_every_head_module_in_the_template_is_named_by_a_contract() -> None:
    """No orphan module under tasks/heads/ (each file's condition names its own module)."""
    named = {name for use_case in task_use_cases() for name in task_contract(use_case)["modules"]}  # type: ignore[index]
    in_template = set()
    for path in HEADS.iterdir():
        if path.name in ("__init__.py", "__pycache__") or path.name.endswith("base.py{% endif %}"):
            continue
        match = re.fullmatch(r"\{%.*'(\w+)' in decisions\.task\.modules.*%\}(\w+)\.py\{% endif %\}", path.name)
        assert match and match.group(1) == match.group(2), f"{path.name}: the condition must name the module"
        in_template.add(match.group(2))
    assert in_template == named


def test_a_contract_of_another_family_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    original = table("tasks")
    wrong = {"tasks": {**original["tasks"], "embeddings": {**original["tasks"]["embeddings"], "family": "audio"}}}
    monkeypatch.setattr(tasks_module, "table", lambda name: wrong if name == "tasks" else table(name))
    with pytest.raises(ValueError, match=r"embeddings wraps the audio family, catalog\.yaml says text"):
        task_contract("embeddings")


def test_modules_that_miss_the_heads_own_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    original = table("tasks")
    wrong = {"tasks": {**original["tasks"], "embeddings": {**original["tasks"]["embeddings"], "modules": ["text"]}}}
    monkeypatch.setattr(tasks_module, "table", lambda name: wrong if name == "tasks" else table(name))
    with pytest.raises(ValueError, match="must end with the head's own module 'text_embedding'"):
        task_contract("embeddings")
