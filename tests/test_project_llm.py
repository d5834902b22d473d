"""Tier 3: the text-generation project's own language-model tests, run in the project (`--defaults`
plus the use case).

tests/llm/ checks the corpus and settings, trains the tokenizer and the small Llama, runs the
Kubeflow pipeline on kfp.local with MLflow (gate against the unigram baseline, registry, promotion,
a gate failure that never becomes champion), and streams from a real local Triton with the vLLM
backend's contract. The project is the one tests/test_project_heads.py sets up.
"""

from __future__ import annotations

import pytest
from conftest import run_project_tests, template_fingerprint, use_case_project, use_case_project_name

pytestmark = pytest.mark.project


def project_of(params: dict[str, str]) -> str:
    return use_case_project_name("text_generation")


def test_the_text_generation_projects_llm_tests_pass() -> None:
    project = use_case_project("text_generation", template_fingerprint())
    command = ["uv", "run", "--frozen", "pytest", "-q", "-p", "no:cacheprovider", "tests/llm"]
    run_project_tests(project, command, "language model", timeout=1800)
