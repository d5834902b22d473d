"""Tier 1 and 2: the RAG layer is decided for search/RAG only and rendered only there.

The engine's `decisions.model.rag` (catalog `retrieval`) names the embedding checkpoints, the
retriever, chunking and the vector stores; the search/RAG project holds src/<package>/rag/, the
corpus with its labelled questions, the ingestion DAG, the embedding pipeline, mk/rag.mk, tests/rag/,
docs/rag.md and platform.yaml's `rag:` section (read back by the rendered package's own settings
model); a tabular project holds none of it.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest
import yaml
from conftest import project_record, render_project
from platform_engine import Answers, decide

RAG_FILES = (
    "corpus/README.md",
    "corpus/questions.yaml",
    "dags/rag_ingest_dag.py",
    "pipelines/rag_pipeline.py",
    "mk/rag.mk",
    "docs/rag.md",
    "tests/rag/test_rag_units.py",
    "tests/rag/test_rag_pipeline.py",
    "tests/rag/test_rag_serving.py",
)


@pytest.mark.engine
def test_search_rag_decides_the_retrieval_stack_and_other_use_cases_none() -> None:
    rag = decide(Answers(use_case="search_rag")).model.numbers["rag"]
    assert rag["embedder"]["production"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert rag["embedder"]["local"] == "local"
    assert (rag["retriever"], rag["lexical_baseline"], rag["local_store"]) == ("hybrid", "bm25", "qdrant-local")
    assert (rag["vector_db"], rag["cloud_store"]) == ("pgvector", "pgvector")
    generator = rag["generator"]
    assert (generator["local"], generator["production"], generator["licence"]) == (
        "local", "Qwen/Qwen2.5-1.5B-Instruct", "Apache-2.0",
    )  # fmt: skip
    assert [model["api_key_env"] for model in generator["api"]] == ["OPENAI_API_KEY", "ANTHROPIC_API_KEY"]
    qdrant = decide(Answers(use_case="search_rag", vector_db="qdrant")).model.numbers["rag"]
    assert qdrant["cloud_store"] == "qdrant"
    for use_case in ("tabular", "text_generation", "object_detection"):
        assert decide(Answers(use_case=use_case)).model.numbers["rag"] is None


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("rag-render")
    return {
        "search_rag": render_project(root / "search_rag", use_case="search_rag", tune=True, vector_db="qdrant"),
        "search_rag_pgvector": render_project(root / "search_rag_pgvector", use_case="search_rag"),
        "search_rag_self_hosted": render_project(
            root / "search_rag_self_hosted", use_case="search_rag", hosting="self_hosted"
        ),
        "tabular": render_project(root / "tabular", use_case="tabular"),
    }


@pytest.mark.render
def test_the_search_rag_project_holds_the_rag_layer(projects: dict[str, Path]) -> None:
    project = projects["search_rag"]
    for name in RAG_FILES:
        assert (project / name).is_file(), name
    (package,) = project.glob("src/*/rag")
    assert {path.name for path in package.glob("*.py")} >= {
        "settings.py", "corpus.py", "embedder.py", "retrieval.py", "evaluation.py", "store.py", "steps.py",
        "ingest.py", "service.py", "serving.py", "client.py", "triton_model.py", "generator.py",
    }  # fmt: skip
    # the answer generator's model code path, shared with text-generation projects
    assert {path.name for path in package.parent.glob("lm/*.py")} == {"__init__.py", "model.py", "params.py"}
    shared = (package.parent / "lm" / "model.py").read_text(encoding="utf-8")
    assert "def generate(" in shared and "def stream(" not in shared and "unigram" not in shared  # the LLM's own
    assert not (package.parent / "llm").exists() and not (package.parent / "gateway").exists()
    documents = list((project / "corpus" / "documents").glob("*.md"))
    assert len(documents) >= 20
    questions = yaml.safe_load((project / "corpus" / "questions.yaml").read_text())["questions"]
    assert {q["split"] for q in questions} == {"train", "test"}
    pyproject = (project / "pyproject.toml").read_text()
    assert "rag = [" in pyproject and "sentence-transformers" in pyproject and "qdrant-client" in pyproject


@pytest.mark.render
def test_the_rendered_rag_section_loads_with_the_projects_own_settings_model(projects: dict[str, Path]) -> None:
    project = projects["search_rag"]
    package = project_record(project)["package"]
    sys.path.insert(0, str(project / "src"))
    try:
        for name in [name for name in sys.modules if name.split(".")[0] == package]:
            del sys.modules[name]
        config = importlib.import_module(f"{package}.config")
        settings = importlib.import_module(f"{package}.rag.settings")
        rag = settings.load(config.load(project / "platform.yaml"))
        assert settings.checkpoint(rag, "local") == "local"
        assert settings.checkpoint(rag, "cloud") == "sentence-transformers/all-MiniLM-L6-v2"
        assert settings.store_kind(rag, "cloud") == "qdrant"
        assert rag.registered_model.endswith("-embedder")
        assert settings.generator_checkpoint(rag, "local") == "local"
        assert settings.generator_checkpoint(rag, "cloud") == "Qwen/Qwen2.5-1.5B-Instruct"
        assert rag.generator.enabled and rag.generator.context_chunks <= rag.top_k
    finally:
        sys.path.remove(str(project / "src"))
        for name in [name for name in sys.modules if name.split(".")[0] == package]:
            del sys.modules[name]


@pytest.mark.render
def test_pgvector_is_wired_only_where_the_answer_chose_it(projects: dict[str, Path]) -> None:
    """vector_db=pgvector (the default): the store settings, the client libraries, and the test that
    runs the store against a real PostgreSQL with pgvector; a Qdrant project carries none of it."""
    pgvector, qdrant = projects["search_rag_pgvector"], projects["search_rag"]
    store = yaml.safe_load((pgvector / "platform.yaml").read_text())["rag"]["store"]
    assert store["kind"] == {"local": "qdrant-local", "cloud": "pgvector"}
    assert (store["dsn_env"], store["table"]) == ("RAG_DATABASE_URL", "rag_chunks")
    assert (pgvector / "tests/rag/test_rag_pgvector.py").is_file()
    pyproject = (pgvector / "pyproject.toml").read_text()
    assert all(name in pyproject for name in ('"pgserver>=', '"pgvector>=', '"psycopg[binary]>='))
    assert "RAG_DATABASE_URL" in (pgvector / "docs/rag.md").read_text()
    assert not (qdrant / "tests/rag/test_rag_pgvector.py").exists()
    assert "pgserver" not in (qdrant / "pyproject.toml").read_text()
    assert "dsn_env" not in yaml.safe_load((qdrant / "platform.yaml").read_text())["rag"]["store"]


@pytest.mark.render
def test_the_cloud_answer_generator_follows_the_hosting_decision(projects: dict[str, Path]) -> None:
    """hosting=api (the default here): the cloud profile sends the prompt to the hosted models, whose
    keys reach Triton from the optional Secret rag-generator-keys; self-hosted: the index's own model,
    no keys, no Secret."""
    from test_render_k8s import kustomize
    from test_render_vector_store import triton_container

    for name, backend in (("search_rag_pgvector", "api"), ("search_rag_self_hosted", "model")):
        project = projects[name]
        generator = yaml.safe_load((project / "platform.yaml").read_text())["rag"]["generator"]
        assert generator["backend"] == {"local": "model", "cloud": backend}, name
        keys = [model["api_key_env"] for model in generator.get("api", [])]
        assert bool(keys) == (backend == "api"), name
        overlays = [path for path in (project / "deploy" / "k8s" / "overlays").iterdir() if path.name != "local"]
        assert overlays, name
        for overlay in overlays:
            assert (overlay / "rag-generator-keys.yaml").exists() == (backend == "api"), overlay
            _, container = triton_container(kustomize(overlay))
            env = {var["name"]: var for var in container.get("env", [])}
            for key in keys:
                secret = {"name": "rag-generator-keys", "key": key, "optional": True}
                assert env[key]["valueFrom"]["secretKeyRef"] == secret, (overlay, key)
            assert "LD_PRELOAD" in env, "the base's variables survive the patch"
            assert not {"OPENAI_API_KEY", "ANTHROPIC_API_KEY"} & set(env) or backend == "api"


@pytest.mark.render
def test_a_tabular_project_holds_no_rag(projects: dict[str, Path]) -> None:
    project = projects["tabular"]
    for name in RAG_FILES:
        assert not (project / name).exists(), name
    assert not list(project.glob("src/*/rag")) and not list(project.glob("src/*/lm"))
    assert "rag:" not in (project / "platform.yaml").read_text().split("\ndecisions:")[0]
    assert "\nrag:" not in (project / "platform.yaml").read_text()
    assert "sentence-transformers" not in (project / "pyproject.toml").read_text()
