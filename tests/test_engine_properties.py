"""Tier 1 property tests: more traffic never means a cheaper fleet or a lower cost; the fleet serves the peak."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from platform_engine import Answers, decide
from platform_engine.answers import SECONDS_PER_MONTH, validate
from platform_engine.tables import use_cases

CLOUDS = st.sampled_from(["aws", "gcp", "azure"])
USE_CASES = st.sampled_from(use_cases())
PRECISIONS = st.sampled_from(["fp32", "fp16", "int8", "int4"])
SIZES = st.sampled_from([0.5, 3.0, 7.0, 13.0, 34.0, 70.0, 180.0])
RPS = st.floats(min_value=0.5, max_value=5_000, allow_nan=False)


def _pool_and_cost(answers: Answers) -> tuple[float, float, float, float]:
    """Peak fleet cost per hour, peak capacity (req/s), self-hosted monthly cost, cloud budget."""
    decisions = decide(answers)
    prod = decisions.gpu.numbers["environments"]["prod"]
    capacity = prod["max_replicas"] * prod["capacity_rps_per_replica"]
    if prod["replicas_needed"] <= prod["max_replicas"]:  # not capped: the fleet serves the peak
        # capacity per replica is rounded to 3 decimals
        assert capacity >= answers.peak_rps * decisions.gpu.numbers["headroom"] - prod["max_replicas"] * 5e-4
    return (
        prod["max_nodes"] * prod["hourly_per_node"],
        capacity,
        decisions.cost.numbers["self_hosted_monthly_usd"],
        decisions.cost.numbers["cloud_budget_usd"],
    )


@settings(max_examples=150, deadline=None)
@given(use_case=USE_CASES, cloud=CLOUDS, precision=PRECISIONS, size=SIZES, low=RPS, factor=st.floats(1.0, 20.0))
def test_more_peak_traffic_never_buys_a_cheaper_fleet_or_cost(
    use_case: str, cloud: str, precision: str, size: float, low: float, factor: float
) -> None:
    high = low * factor
    monthly = int(low * 3600 * 24)  # valid for both peaks: average below low, far below one second's worth
    common = dict(
        use_case=use_case,
        cloud=cloud,
        precision=precision,
        model_size_b=size,
        monthly_requests=monthly,
        hosting="self_hosted",
    )
    before = Answers(peak_rps=low, **common)  # type: ignore[arg-type]
    after = Answers(peak_rps=high, **common)  # type: ignore[arg-type]
    assert not validate(before) and not validate(after)
    fleet_a, capacity_a, cost_a, budget_a = _pool_and_cost(before)
    fleet_b, capacity_b, cost_b, budget_b = _pool_and_cost(after)
    assert fleet_b >= fleet_a - 1e-6  # any fleet that serves the higher peak serves the lower one
    assert capacity_b >= capacity_a - 1e-6 or fleet_b > fleet_a
    assert cost_b >= cost_a - 1e-6
    assert budget_b >= budget_a - 1e-6


@settings(max_examples=150, deadline=None)
@given(use_case=USE_CASES, cloud=CLOUDS, peak=RPS, low_share=st.floats(0.001, 1.0), factor=st.floats(1.0, 50.0))
def test_more_monthly_volume_never_lowers_the_cost(
    use_case: str, cloud: str, peak: float, low_share: float, factor: float
) -> None:
    ceiling = peak * SECONDS_PER_MONTH  # the peak running all month
    low = max(1, int(ceiling * low_share / 50))
    high = min(int(ceiling), int(low * factor))
    common = dict(use_case=use_case, cloud=cloud, peak_rps=peak)
    before = Answers(monthly_requests=low, **common)  # type: ignore[arg-type]
    after = Answers(monthly_requests=high, **common)  # type: ignore[arg-type]
    if validate(before) or validate(after):
        return  # e.g. peak below the average: rejected answers have no cost
    for hosting in ("self_hosted", "api"):
        if hosting == "api" and decide(before).cost.numbers["api_available"] is False:
            continue
        cost_a = decide(Answers(**{**before.__dict__, "hosting": hosting})).cost.numbers["monthly_total_usd"]
        cost_b = decide(Answers(**{**after.__dict__, "hosting": hosting})).cost.numbers["monthly_total_usd"]
        assert cost_b >= cost_a - 1e-6


@settings(max_examples=100, deadline=None)
@given(use_case=USE_CASES, cloud=CLOUDS, peak=RPS)
def test_decisions_are_pure(use_case: str, cloud: str, peak: float) -> None:
    answers = Answers(use_case=use_case, cloud=cloud, peak_rps=peak, monthly_requests=int(peak * 3600))
    assert decide(answers).to_dict() == decide(answers).to_dict()


ANSWER_SPACE = st.fixed_dictionaries(
    {
        "use_case": USE_CASES,
        "cloud": CLOUDS,
        "hosting": st.sampled_from(["", "api", "self_hosted"]),
        "serving_pattern": st.sampled_from(["", "realtime", "batch", "edge"]),
        "precision": st.sampled_from(["", "fp32", "fp16", "int8", "int4"]),
        "gpu_type": st.sampled_from(["auto", "t4", "a10g", "a100_40gb", "a100_80gb"]),
        "model_size_b": SIZES,
        "data_sensitivity": st.sampled_from(["public", "internal", "pii", "hipaa", "financial"]),
        "budget_style": st.sampled_from(["predictable", "volume"]),
        "ml_team": st.booleans(),
        "latency_p95_ms": st.sampled_from([20, 80, 200, 1000, 6000]),
        "peak_rps": st.sampled_from([0.5, 10.0, 300.0, 5000.0]),
        "monthly_requests": st.sampled_from([2_000, 100_000, 10_000_000, 500_000_000]),
        "accuracy_preference": st.sampled_from(["speed", "accuracy"]),
        "vector_db": st.sampled_from(["pgvector", "pinecone"]),
        "drift_threshold": st.sampled_from([0.05, 0.2]),
    }
)


@settings(max_examples=300, deadline=None)
@given(data=ANSWER_SPACE)
def test_every_warnings_fix_removes_it_and_raises_no_other(data: dict[str, object]) -> None:
    answers = Answers(**data)  # type: ignore[arg-type]
    if validate(answers):
        return  # rejected answers have no warnings to fix
    decided = decide(answers)
    codes = {w.code for w in decided.warnings}
    for warning in decided.warnings:
        assert warning.fix_answers, f"{warning.code}: no answer change fixes it ({data})"
        after = {w.code for w in decide(Answers(**{**answers.__dict__, **warning.fix_answers})).warnings}
        assert warning.code not in after, (warning.code, warning.fix_answers)
        assert after <= codes, f"fixing {warning.code} with {warning.fix_answers} raised {after - codes}"
