"""Engine values the infrastructure layer renders: sizing inputs per environment and the cost curve."""

from __future__ import annotations

import dataclasses

import pytest
from platform_engine import Answers, decide
from platform_engine.cost import cost_curve, curve_volumes
from platform_engine.sizing import node_pool_for, size_node_pool, sizing_inputs

ANSWER_SETS = [
    Answers(),
    Answers(use_case="text_generation", model_size_b=70, peak_rps=3, latency_p95_ms=3000, cloud="gcp"),
    Answers(use_case="text_generation", hosting="api", monthly_requests=20_000, peak_rps=2, latency_p95_ms=3000),
    Answers(use_case="image_classification", cloud="azure", gpu_type="a10g", environments=("prod",)),
]


@pytest.mark.parametrize("answers", ANSWER_SETS)
def test_sizing_inputs_reproduce_the_pools(answers: Answers) -> None:
    decisions = decide(answers)
    precision = decisions.precision.choice
    hosting, pattern = decisions.hosting.choice, decisions.serving_pattern.choice
    inputs = decisions.gpu.numbers["inputs"]
    assert set(inputs) == set(answers.environments)
    for env in answers.environments:
        assert inputs[env] == sizing_inputs(answers, precision, env, hosting, pattern)
        assert size_node_pool(**inputs[env]) == node_pool_for(answers, precision, env, hosting, pattern)
        assert decisions.gpu.numbers["environments"][env] == size_node_pool(**inputs[env]).to_dict()


def test_api_hosting_sizes_the_smoke_pool() -> None:
    answers = ANSWER_SETS[2]
    inputs = sizing_inputs(answers, "fp16", "prod", "api")
    assert inputs["gpu_type"] == "t4" and inputs["environment"] == "jobs_only" and inputs["peak_rps"] == 0.0


@pytest.mark.parametrize(
    "answers",
    [Answers(use_case="object_detection", serving_pattern="edge"), Answers(use_case="text_generation", hosting="api")],
)
def test_without_cloud_serving_the_fleet_is_jobs_only(answers: Answers) -> None:
    """A hosted API or edge devices: Triton runs no replica and the pool no node, and the cost
    counts no GPU hour; the cloud fleet for the same peak stays the comparison."""
    decisions = decide(answers)
    assert decisions.gpu.numbers["serves_in_cloud"] is False
    for env in answers.environments:
        pool = decisions.gpu.numbers["environments"][env]
        assert (pool["min_replicas"], pool["max_replicas"], pool["min_nodes"], pool["max_nodes"]) == (0, 1, 0, 1)
        cost = decisions.cost.numbers["environments"][env]
        assert cost["expected_nodes"] == 0 and cost["gpu"] == 0
    assert decisions.cost.numbers["self_hosted_monthly_usd"] > decisions.cost.numbers["environments"]["prod"]["total"]


@pytest.mark.parametrize(
    ("monthly", "break_even"), [(100_000, None), (20_000, 81_774.0), (5_000_000, 60_000.0), (1_000, 3e8)]
)
def test_curve_volumes_cover_the_volume_and_the_break_even(monthly: int, break_even: float | None) -> None:
    volumes = curve_volumes(monthly, break_even)
    assert volumes == sorted(set(volumes))
    assert volumes[0] <= max(1_000, monthly // 100)
    assert volumes[-1] >= monthly * 100
    if break_even:
        assert volumes[-1] >= 2 * break_even
    assert all(str(v).lstrip("125").strip("0") == "" for v in volumes), "1-2-5 steps"


def test_cost_curve_lines_cross_at_the_break_even() -> None:
    api, self_hosted, fixed = 0.027, 0.0000236, 2206.0
    break_even = fixed / (api - self_hosted)
    below, above = cost_curve([int(break_even * 0.5), int(break_even * 2)], api, self_hosted, fixed)
    assert below["api_usd"] < below["self_hosted_usd"]
    assert above["api_usd"] > above["self_hosted_usd"]
    assert cost_curve([1000], None, self_hosted, fixed)[0]["api_usd"] is None


@pytest.mark.parametrize("answers", ANSWER_SETS)
def test_cost_numbers_carry_the_curve(answers: Answers) -> None:
    cost = decide(answers).cost.numbers
    curve = cost["curve"]
    assert len(curve) >= 5
    assert cost["self_hosted_fixed_monthly_usd"] > 0
    assert all(point["self_hosted_usd"] >= cost["self_hosted_fixed_monthly_usd"] for point in curve)
    assert (curve[0]["api_usd"] is None) == (not cost["api_available"])


def test_decisions_still_pure() -> None:
    answers = dataclasses.replace(ANSWER_SETS[1])
    assert decide(answers).to_dict() == decide(answers).to_dict()
