"""Tier 3: the text-generation project's own language-model tests, run in the project (`--defaults`
plus the use case).

tests/llm/ checks the corpus and settings, trains the tokenizer and the small Llama, runs the
Kubeflow pipeline on kfp.local with MLflow (gate against the unigram baseline, registry, promotion,
a gate failure that never becomes champion), and streams from a real local Triton with the vLLM
backend's contract. tests/gateway/ starts two local Tritons, a redis-server and the OpenAI-compatible
gateway (LiteLLM's Router): routing, fallback when a backend stops, the Redis cache, per-key rate
limits shared by two gateway processes, token and cost accounting, the budget alert and redaction.
"""

from __future__ import annotations

import pytest
from conftest import run_project_tests, template_fingerprint, use_case_project, use_case_project_name

pytestmark = pytest.mark.project


def project_of(params: dict[str, str]) -> str:
    return use_case_project_name("text_generation")


def test_the_text_generation_projects_llm_tests_pass() -> None:
    project = use_case_project("text_generation", template_fingerprint())
    command = ["uv", "run", "--frozen", "pytest", "-q", "-p", "no:cacheprovider", "tests/llm", "tests/gateway"]
    run_project_tests(project, command, "language model and gateway", timeout=1800)
