"""Tier 3: the search/RAG project's own RAG tests, run in the project (`--defaults` plus the use case).

tests/rag/ trains the embedding model through the Kubeflow pipeline on kfp.local with MLflow, runs
the Airflow ingestion DAG into Qdrant (dag.test), checks that the served ranking equals the
evaluation's, that a broken document fails the DAG and keeps the served index, and serves the index
from a real Triton over HTTP and gRPC. The default answers choose pgvector for the cloud, so
tests/rag/test_rag_pgvector.py also runs the store, the ingestion and the service on a real
PostgreSQL with pgvector (the pgserver wheel). The project is the one tests/test_project_heads.py
sets up.
"""

from __future__ import annotations

import pytest
from conftest import run_project_tests, template_fingerprint, use_case_project, use_case_project_name

pytestmark = pytest.mark.project


def project_of(params: dict[str, str]) -> str:
    return use_case_project_name("search_rag")


def test_the_search_rag_projects_rag_tests_pass() -> None:
    project = use_case_project("search_rag", template_fingerprint())
    command = ["uv", "run", "--frozen", "pytest", "-q", "-p", "no:cacheprovider", "tests/rag"]
    run_project_tests(project, command, "RAG", timeout=1800)
