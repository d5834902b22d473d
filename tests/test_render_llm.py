"""Tier 2: the language model is rendered only where the engine decides one (decisions.model.llm).

The text-generation project holds src/<package>/llm/, the corpus, the language model's pipeline,
mk/llm.mk, tests/llm/, docs/llm.md, the `llm` dependency group and platform.yaml's `llm:` section
(read back by the rendered package's own settings model, with the production checkpoint as the cloud
profile's setting); a tabular project holds none of it.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest
from conftest import project_record, render_project

pytestmark = pytest.mark.render

LLM_FILES = (
    "corpus/README.md",
    "corpus/questions.yaml",
    "pipelines/llm_pipeline.py",
    "mk/llm.mk",
    "docs/llm.md",
    "tests/llm/conftest.py",
    "tests/llm/test_llm_units.py",
    "tests/llm/test_llm_pipeline.py",
    "tests/llm/test_llm_serving.py",
)


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("llm-render")
    return {
        "text_generation": render_project(root / "text_generation", use_case="text_generation", model_size_b=70),
        "tabular": render_project(root / "tabular", use_case="tabular"),
    }


def test_the_text_generation_project_holds_the_language_model(projects: dict[str, Path]) -> None:
    project = projects["text_generation"]
    for name in LLM_FILES:
        assert (project / name).is_file(), name
    (package,) = project.glob("src/*/llm")
    assert {path.name for path in package.glob("*.py")} >= {
        "settings.py", "data.py", "steps.py", "serving.py", "triton_model.py", "client.py", "smoke.py", "streaming.py",
    }  # fmt: skip
    # the model's code path, shared with search/RAG projects' answer generator
    assert {path.name for path in package.parent.glob("lm/*.py")} == {"__init__.py", "model.py", "params.py"}
    pyproject = (project / "pyproject.toml").read_text()
    assert "llm = [" in pyproject and '"transformers' in pyproject and '"tokenizers' in pyproject
    assert "llm-train:" in (project / "mk" / "llm.mk").read_text()


def test_the_rendered_llm_section_loads_with_the_projects_own_settings_model(projects: dict[str, Path]) -> None:
    project = projects["text_generation"]
    package = project_record(project)["package"]
    sys.path.insert(0, str(project / "src"))
    try:
        for name in [name for name in sys.modules if name.split(".")[0] == package]:
            del sys.modules[name]
        config = importlib.import_module(f"{package}.config")
        settings = importlib.import_module(f"{package}.llm.settings")
        platform = config.load(project / "platform.yaml")
        llm = settings.load(platform)
        decided = platform.decision("model")["llm"]
        assert settings.checkpoint(llm, "local") == "local"
        assert (
            settings.checkpoint(llm, "cloud")
            == decided["production"]["checkpoint"]
            == ("meta-llama/Llama-3.1-70B-Instruct")
        )
        assert llm.local_model.model_dump() == decided["local"]
        assert llm.registered_model.endswith("-llm") and llm.model_name == "llm"
    finally:
        sys.path.remove(str(project / "src"))
        for name in [name for name in sys.modules if name.split(".")[0] == package]:
            del sys.modules[name]


def test_a_tabular_project_holds_no_language_model(projects: dict[str, Path]) -> None:
    project = projects["tabular"]
    for name in LLM_FILES:
        assert not (project / name).exists(), name
    assert not list(project.glob("src/*/llm"))
    assert "\nllm:" not in (project / "platform.yaml").read_text()
    assert "llm = [" not in (project / "pyproject.toml").read_text()
    assert "Llm" not in (project / "deploy/k8s/monitoring/rules/alerts.rules.yml").read_text()
