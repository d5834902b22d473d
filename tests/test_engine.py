"""Tier 1: the decision engine against the reference's tables and worked examples."""

from __future__ import annotations

import pytest
import yaml
from conftest import REPO
from platform_engine import AnswerError, Answers, decide, field_error
from platform_engine.cost import break_even_requests, self_hosted_cost_per_request
from platform_engine.hosting import factor_votes, recommended_hosting
from platform_engine.model_choice import recommend_model
from platform_engine.monitoring import summary_quantiles
from platform_engine.records import GpuSizing
from platform_engine.serving import gateway, hpa_queue_target_us, max_batch_size, queue_delay_ms, recommended_pattern
from platform_engine.sizing import (
    expected_monthly,
    gpus_per_replica,
    model_memory_gb,
    pool_candidates,
    size_node_pool,
)
from platform_engine.tables import prices, table, use_cases
from platform_engine.workload import api_cost_per_request, replica_rps, request_of

TIER = {"kind": "tier", "units_per_request": 1.0, "units_per_gpu_second": 0.0}
DECODE = {"kind": "decode", "units_per_request": 200.0, "units_per_gpu_second": 0.0}


def _copier_choices(question: str) -> list[str]:
    questions = yaml.safe_load((REPO / "copier.yml").read_text())
    choices = questions[question]["choices"]
    return list(choices.values()) if isinstance(choices, dict) else list(choices)


# ---------------------------------------------------------------- catalog and questions agree


def test_copier_use_cases_are_the_catalog() -> None:
    assert sorted(_copier_choices("use_case")) == sorted(use_cases())
    assert len(use_cases()) == 15


def test_every_price_table_tier_exists_per_cloud() -> None:
    tiers = [t["id"] for t in table("sizing")["tiers"]]
    for cloud in ("aws", "gcp", "azure"):
        assert sorted(table("prices")["gpu"][cloud]) == sorted(tiers)
        assert table("sizing")["node_pool"][cloud]["taint"]["effect"] == "NoSchedule"


# ---------------------------------------------------------------- model recommendation (quick-reference table)


@pytest.mark.parametrize(
    ("use_case", "preference", "model", "latency_ms"),
    [
        ("text_classification", "speed", "DistilBERT", 10),
        ("image_classification", "speed", "EfficientNet-B0", 5),
        # the quick reference's YOLOv8 is AGPL-3.0 (ultralytics): the catalog serves torchvision's SSDs
        ("object_detection", "speed", "SSDlite320-MobileNetV3", 10),
        ("object_detection", "accuracy", "SSD300-VGG16", 30),
        # its U-Net needs segmentation-models-pytorch and SAM segments by prompt: torchvision's segmenters
        ("segmentation", "accuracy", "DeepLabV3-ResNet50", 60),
        ("speech_to_text", "speed", "Whisper-base", 300),
        ("tabular", "speed", "LightGBM", 2),
    ],
)
def test_model_follows_the_quick_reference(use_case: str, preference: str, model: str, latency_ms: int) -> None:
    decision = recommend_model(Answers(use_case=use_case, accuracy_preference=preference))
    assert decision.choice == model
    assert decision.numbers["latency_ms"] == latency_ms
    assert decision.reason.startswith("because")


def test_generation_model_carries_its_size() -> None:
    decision = recommend_model(Answers(use_case="text_generation", model_size_b=70))
    assert "70B" in decision.choice
    assert decision.numbers["params_b"] == 70


# ---------------------------------------------------------------- API vs self-hosted


def test_six_factors_each_explained() -> None:
    votes = factor_votes(Answers())
    assert [v.factor for v in votes] == ["volume", "latency", "customization", "privacy", "team", "budget"]
    assert all(v.explanation for v in votes)


@pytest.mark.parametrize(
    ("answers", "factor", "vote"),
    [
        (Answers(monthly_requests=5_000, peak_rps=1), "volume", -1),
        (Answers(monthly_requests=500_000), "volume", 1),
        (Answers(latency_p95_ms=50), "latency", 1),
        (Answers(latency_p95_ms=800), "latency", -1),
        (Answers(data_sensitivity="hipaa"), "privacy", 1),
        (Answers(data_sensitivity="public"), "privacy", -1),
        (Answers(ml_team=False), "team", -1),
        (Answers(customization="domain_specific"), "customization", 1),
        (Answers(budget_style="predictable"), "budget", -1),
    ],
)
def test_factor_votes(answers: Answers, factor: str, vote: int) -> None:
    assert {v.factor: v.vote for v in factor_votes(answers)}[factor] == vote


def test_small_general_workload_goes_to_the_api() -> None:
    answers = Answers(
        use_case="text_generation",
        monthly_requests=5_000,
        peak_rps=1,
        latency_p95_ms=2000,
        ml_team=False,
        budget_style="predictable",
        data_sensitivity="public",
    )
    assert recommended_hosting(answers) == "api"


def test_private_high_volume_workload_is_self_hosted() -> None:
    answers = Answers(use_case="text_generation", monthly_requests=1_000_000, peak_rps=50, data_sensitivity="pii")
    assert recommended_hosting(answers) == "self_hosted"


def test_use_case_without_api_is_always_self_hosted() -> None:
    assert recommended_hosting(Answers(use_case="tabular", monthly_requests=100, peak_rps=1)) == "self_hosted"


def test_hosting_override_is_recorded_with_a_warning() -> None:
    decisions = decide(
        Answers(
            use_case="text_generation", monthly_requests=1_000_000, peak_rps=50, data_sensitivity="pii", hosting="api"
        )
    )
    assert decisions.hosting.numbers["overridden"] is True
    codes = {w.code for w in decisions.warnings}
    assert {"hosting-override", "sensitive-data-to-api"} <= codes


# ---------------------------------------------------------------- cost model (the reference's worked examples)


def test_gpt4_worked_example() -> None:
    per_request = api_cost_per_request(prices()["api"]["gpt4"], request_of("text_generation"))
    assert per_request == pytest.approx(0.027)
    assert per_request * 100_000 == pytest.approx(2_700)


@pytest.mark.parametrize("use_case", [u for u in use_cases() if table("catalog")["use_cases"][u].get("api")])
def test_the_api_price_and_the_gpu_throughput_count_the_same_unit(use_case: str) -> None:
    """One unit of work per use case: the API prices the request's unit, and the GPU's requests/s
    is that unit's throughput divided by the request's amount (a longer clip costs more on both)."""
    entry = table("catalog")["use_cases"][use_case]
    request = request_of(use_case)
    assert prices()["api"][entry["api"]["pricing"]]["unit"] == request["unit"]
    decided = decide(Answers(use_case=use_case, hosting="self_hosted"))
    assert decided.cost.numbers["unit_of_work"] == decided.gpu.numbers["unit_of_work"]
    assert request.items() <= decided.cost.numbers["unit_of_work"].items()
    throughput = decided.gpu.numbers["inputs"]["prod"]["throughput"]
    if throughput["kind"] != "tier":  # work that grows with the request: twice the work, half the rate
        tier = table("sizing")["tiers"][0]
        doubled = {**throughput, "units_per_request": 2 * throughput["units_per_request"]}
        assert replica_rps(doubled, tier, 7.0) == pytest.approx(replica_rps(throughput, tier, 7.0) / 2)


def test_a_speech_request_is_one_clip_for_the_api_and_for_the_gpu() -> None:
    """A 90-second clip: 1.5 audio minutes on the API ($0.024) and 1.5 audio minutes of Whisper on
    the GPU, so self-hosting is ~100x cheaper per request, not thousands of times."""
    decided = decide(Answers(use_case="speech_to_text", hosting="self_hosted", monthly_requests=1_000_000))
    numbers = decided.cost.numbers
    assert numbers["api_cost_per_request_usd"] == pytest.approx(1.5 * 0.016)
    ratio = numbers["api_cost_per_request_usd"] / numbers["self_hosted_cost_per_request_usd"]
    assert 20 < ratio < 500, ratio
    prod = decided.gpu.numbers["environments"]["prod"]
    assert prod["capacity_rps_per_replica"] < 2  # Whisper-base transcribes ~1 audio minute per T4-second
    assert "90-second audio clip" in decided.gpu.numbers["throughput_basis"]


def test_a_price_that_counts_another_unit_is_a_table_error() -> None:
    with pytest.raises(ValueError, match=r"counts 'image'.*'audio_minute'"):
        api_cost_per_request(prices()["api"]["vision"], request_of("speech_to_text"))


def test_llama_70b_worked_example() -> None:
    per_request = self_hosted_cost_per_request(hourly=3.0, requests_per_hour=50 * 60)
    assert per_request == pytest.approx(0.001)
    engineering = prices()["self_hosted_fixed"]["engineering_monthly"]
    assert per_request * 100_000 + engineering == pytest.approx(100 + 500)


def test_break_even_is_about_50k_per_month() -> None:
    fixed = sum(prices()["self_hosted_fixed"].values())
    assert break_even_requests(0.027, 0.001, fixed) == pytest.approx(50_000)


def test_break_even_none_when_api_is_cheaper_per_request() -> None:
    assert break_even_requests(0.001, 0.002, 1000) is None


def test_price_overrides_change_the_estimate() -> None:
    base = decide(Answers())
    cheaper = decide(Answers(price_overrides={"gpu": {"aws": {"t4": {"hourly": 0.1}}}}))
    assert cheaper.cost.numbers["monthly_total_usd"] < base.cost.numbers["monthly_total_usd"]
    assert base.cost.numbers["price_table_as_of"] == "2026-06"


def test_api_cost_in_decisions() -> None:
    decisions = decide(Answers(use_case="text_generation", hosting="api"))
    assert decisions.cost.numbers["api_monthly_usd"] == pytest.approx(2_700)
    assert decisions.gpu.numbers["environments"]["prod"]["min_nodes"] == 0


# ---------------------------------------------------------------- GPU sizing (the scale table)


@pytest.mark.parametrize(
    ("precision", "share_of_fp32"),
    [("fp32", 1.0), ("fp16", 0.5), ("int8", 0.25), ("int4", 0.125)],
)
def test_precision_memory_effect(precision: str, share_of_fp32: float) -> None:
    assert model_memory_gb(10, precision) == pytest.approx(model_memory_gb(10, "fp32") * share_of_fp32)


@pytest.mark.parametrize(
    ("params_b", "precision", "cloud", "tier", "gpus"),
    [
        (3, "fp16", "aws", "t4", 1),  # 7.2 GB fits a T4
        (7, "fp16", "aws", "a10g", 1),  # 16.8 GB: just over a T4; one A10G beats two T4s
        (13, "int8", "aws", "a10g", 1),  # 15.6 GB
        (70, "int4", "aws", "a10g", 2),  # 42 GB: two A10Gs per replica on g5.12xlarge, cheaper than A100s
        (70, "fp16", "aws", "a100_80gb", 4),  # 168 GB: A100 80GB x 4 (tensor parallel)
        (70, "int4", "gcp", "a100_80gb", 1),  # GCP's A100 80GB comes in 1- and 2-GPU shapes
    ],
)
def test_generation_sizing_takes_the_cheapest_gpu_that_holds_the_model(
    params_b: float, precision: str, cloud: str, tier: str, gpus: int
) -> None:
    pool = size_node_pool(
        cloud=cloud,
        params_b=params_b,
        precision=precision,
        peak_rps=1,
        throughput=DECODE,
        environment="prod",
        monthly_requests=2_592_000,  # the peak all month
    )
    assert (pool.tier, pool.gpus_per_replica, pool.fits) == (tier, gpus, True)


def test_a_small_model_under_high_traffic_scales_out_on_small_gpus() -> None:
    """A tabular model at 1,000 req/s: replicas of the cheapest GPU, not an A100 node."""
    decided = decide(Answers(use_case="tabular", peak_rps=1000, monthly_requests=100_000_000, hosting="self_hosted"))
    prod = decided.gpu.numbers["environments"]["prod"]
    # at the average load (39 req/s) one g4dn.xlarge runs; the peak takes 25 of them
    assert prod["tier"] == "t4" and prod["instance_type"] == "g4dn.xlarge"
    assert prod["max_replicas"] == prod["replicas_needed"] == 25  # 1000 * 1.25 / 50
    assert prod["max_nodes"] == 25 and prod["min_nodes"] == 1 and prod["min_replicas"] == 1
    assert decided.cost.numbers["self_hosted_monthly_usd"] < 15_000  # not the $31.6K p4de.24xlarge
    scale_up = [alt for alt in decided.gpu.alternatives if "p4de.24xlarge" in alt]
    assert scale_up and "/month" in scale_up[0], decided.gpu.alternatives  # recorded, with its cost


def test_a_peak_past_the_node_cap_is_a_warning_with_the_numbers() -> None:
    decided = decide(Answers(use_case="tabular", peak_rps=100_000, monthly_requests=10**10, hosting="self_hosted",
                             gpu_type="t4"))  # fmt: skip
    prod = decided.gpu.numbers["environments"]["prod"]
    assert prod["max_nodes"] == 100 and prod["replicas_needed"] > prod["max_replicas"]
    (warning,) = [w for w in decided.warnings if w.code == "fleet-capped"]
    # the most a T4 fleet holds under the cap: 100 x g4dn.metal (8 T4 each)
    assert f"{prod['replicas_needed']} replicas" in warning.message and "100 x g4dn.metal" in warning.message


def test_the_chosen_gpu_pool_is_never_dearer_than_another_that_fits() -> None:
    """For every use case and cloud, at low and high peaks: no catalog shape that holds the model and
    serves the peak costs less in the answered month than the chosen one."""
    for use_case in use_cases():
        for cloud in ("aws", "gcp", "azure"):
            for peak in (1.0, 50.0, 1000.0, 20_000.0):
                monthly = int(peak * 86_400)
                answers = Answers(use_case=use_case, cloud=cloud, peak_rps=peak, monthly_requests=monthly,
                                  hosting="self_hosted")  # fmt: skip
                decided = decide(answers)
                chosen = GpuSizing(**decided.gpu.numbers["environments"]["prod"])
                inputs = decided.gpu.numbers["inputs"]["prod"]
                candidates = pool_candidates(
                    **{k: v for k, v in inputs.items() if k not in ("gpu_type", "monthly_requests")}
                )
                for other in candidates:
                    if other.fits and other.max_replicas >= other.replicas_needed:
                        assert expected_monthly(chosen, monthly) <= expected_monthly(other, monthly) + 0.01, (
                            use_case, cloud, peak, other.instance_type,
                        )  # fmt: skip


@pytest.mark.parametrize(
    ("cloud", "tier", "instance"),
    [
        ("aws", "a10g", "g5.xlarge"),
        ("gcp", "a10g", "g2-standard-4"),
        ("azure", "t4", "Standard_NC4as_T4_v3"),
        ("aws", "t4", "g4dn.xlarge"),
        ("gcp", "a100_40gb", "a2-highgpu-1g"),
    ],
)
def test_instance_per_cloud(cloud: str, tier: str, instance: str) -> None:
    pool = size_node_pool(
        cloud=cloud, params_b=0.001, precision="fp32", peak_rps=1, throughput=TIER, environment="prod", gpu_type=tier
    )
    assert pool.instance_type == instance


def test_dev_scales_to_zero_and_caps_at_one() -> None:
    pool = size_node_pool(
        cloud="aws", params_b=0.001, precision="fp32", peak_rps=5000, throughput=TIER, environment="dev"
    )
    assert (pool.min_nodes, pool.max_nodes) == (0, 1)


def test_gpus_per_replica_rounds_to_power_of_two() -> None:
    assert [gpus_per_replica(m, 80) for m in (10, 81, 161, 300, 500)] == [1, 2, 4, 4, 8]


def test_model_that_does_not_fit_is_flagged() -> None:
    decisions = decide(
        Answers(use_case="text_generation", model_size_b=70, precision="fp16", gpu_type="t4", hosting="self_hosted")
    )
    assert any(w.code == "model-does-not-fit-gpu" for w in decisions.warnings)


# ---------------------------------------------------------------- batching and patterns


def test_reference_batching_defaults_for_relaxed_targets() -> None:
    assert max_batch_size(1000, "realtime", generation=False) == 32
    assert queue_delay_ms(1000) == pytest.approx(1)
    # the reference's 50 ms wait is the ceiling, reached only by very relaxed targets
    assert queue_delay_ms(60_000) == 50


def test_tight_latency_shrinks_batch_and_wait() -> None:
    assert max_batch_size(40, "realtime", generation=False) == 8
    # Triton's tuning starting point is the floor
    assert queue_delay_ms(40) == pytest.approx(0.1)
    assert queue_delay_ms(200) == pytest.approx(0.2)
    # the HPA scales on queueing that takes a tenth of the budget, far above the batcher's wait
    assert hpa_queue_target_us(200) == 20_000
    assert max_batch_size(90, "realtime", generation=False) == 16


def test_gateway_timeouts_cover_the_tail_of_the_latency_budget() -> None:
    """p95 target plus the batching wait, x10 for the tail, at least 5 s (never the old 2 s at 200 ms)."""
    assert gateway(200)["read_timeout_s"] == 5  # 10 x 200.2 ms = 2.002 s, under the floor
    assert "(the floor)" in gateway(200)["reason"]
    assert gateway(1000)["read_timeout_s"] == 11  # 10 x 1001 ms, rounded up to whole seconds
    assert gateway(2000)["send_timeout_s"] == gateway(2000)["read_timeout_s"] == 21
    assert gateway(2000)["connect_timeout_s"] == 2
    for target in (10, 50, 200, 999, 4999):  # never shorter than the budget itself
        assert gateway(target)["read_timeout_s"] * 1000 >= target + queue_delay_ms(target)


def test_gateway_routes_only_model_endpoints_and_only_for_realtime() -> None:
    realtime = decide(Answers(use_case="object_detection", latency_p95_ms=200)).serving_pattern.numbers
    assert realtime["gateway"]["endpoints"] == ["", "/ready", "/config", "/infer"]
    assert all(not path.startswith(("/repository", "/stats", "/trace")) for path in realtime["gateway"]["endpoints"])
    batch = decide(Answers(use_case="tabular", latency_p95_ms=8000)).serving_pattern
    assert batch.choice == "batch" and "gateway" not in batch.numbers


def test_batch_pattern_and_generation_batches() -> None:
    assert max_batch_size(2000, "batch", generation=False) == 64
    assert max_batch_size(2000, "realtime", generation=True) == 8


def test_pattern_recommendation() -> None:
    assert recommended_pattern(Answers(latency_p95_ms=200)) == "realtime"
    assert recommended_pattern(Answers(latency_p95_ms=60_000, peak_rps=10)) == "batch"


# ---------------------------------------------------------------- monitoring thresholds


def test_monitoring_thresholds_follow_the_reference() -> None:
    numbers = decide(Answers(use_case="object_detection")).monitoring.numbers
    assert numbers["latency_p95_alert_ms"] == 2 * numbers["latency_p95_baseline_ms"] == 20
    assert numbers["error_rate_max"] == 0.01
    assert numbers["throughput_min_share_of_capacity"] == 0.8
    assert numbers["data_anomaly_max_share"] == 0.05
    assert numbers["psi_threshold"] == 0.2
    # Triton summarises only the quantile the p95 rule reads (see the data file for the cost)
    assert numbers["latency_summary_quantiles"] == "0.95:0.02"


def test_summary_quantiles_are_checked() -> None:
    assert summary_quantiles(0.99, 0.001) == "0.99:0.001"
    for quantile, error in [(1.0, 0.01), (0.0, 0.01), (0.95, 0.0), (0.95, 0.06)]:
        with pytest.raises(ValueError, match="not a valid target"):
            summary_quantiles(quantile, error)


# ---------------------------------------------------------------- design review


@pytest.mark.parametrize(
    ("answers", "code"),
    [
        (Answers(use_case="text_generation", hosting="api", data_sensitivity="pii"), "sensitive-data-to-api"),
        (
            Answers(
                use_case="text_generation", model_size_b=70, monthly_requests=5_000, peak_rps=1, hosting="self_hosted"
            ),
            "below-break-even",
        ),
        (Answers(latency_p95_ms=50, serving_pattern="batch"), "batch-with-tight-latency"),
        (
            Answers(use_case="text_generation", model_size_b=70, gpu_type="t4", hosting="self_hosted"),
            "model-does-not-fit-gpu",
        ),
        (Answers(ml_team=False), "self-hosted-without-ml-team"),
        (Answers(use_case="text_generation", model_size_b=13, serving_pattern="edge"), "edge-model-too-large"),
        (Answers(drift_threshold=0.05), "psi-threshold-noisy"),
        (Answers(use_case="segmentation", accuracy_preference="accuracy", latency_p95_ms=50), "latency-below-model"),
    ],
)
def test_review_warns(answers: Answers, code: str) -> None:
    warnings = decide(answers).warnings
    found = {w.code: w for w in warnings}
    assert code in found, [w.code for w in warnings]
    assert found[code].answers and found[code].fix


def test_default_answers_are_consistent() -> None:
    assert decide(Answers()).warnings == ()


def test_every_decision_has_a_reason() -> None:
    for record in decide(Answers(use_case="search_rag", model_size_b=13)).records():
        assert record.reason.startswith("because"), record


# ---------------------------------------------------------------- answer validation


@pytest.mark.parametrize(
    ("field", "value", "context", "needle"),
    [
        ("project_slug", "1abc", {}, "project_slug"),
        ("project_slug", "class", {}, "reserved"),
        ("package_name", "my-pkg", {}, "package_name"),
        ("package_name", "import", {}, "reserved"),
        ("monthly_requests", 0, {}, "greater than 0"),
        ("monthly_requests", -5, {}, "greater than 0"),
        ("peak_rps", 0, {}, "greater than 0"),
        ("latency_p95_ms", -1, {}, "greater than 0"),
        ("peak_rps", 0.001, {"monthly_requests": 10_000_000}, "below the average"),
        ("peak_rps", 500, {"monthly_requests": 100}, "exceed"),
        ("model_size_b", 0.001, {}, "outside"),
        ("model_size_b", 5000, {}, "outside"),
        ("owner", "", {}, "must not be empty"),
        ("cost_center", "  ", {}, "must not be empty"),
        ("cost_center", "CC 12/3", {}, "label value"),
        ("cloud", "ibm", {}, "use one of"),
        ("use_case", "astrology", {}, "use one of"),
        ("hosting", "api", {"use_case": "tabular"}, "no hosted API"),
        ("drift_schedule", "daily", {}, "cron"),
        ("environments", [], {}, "at least one"),
        ("latency_p95_ms", "abc", {}, "1 to 3,600,000 milliseconds"),
        ("monthly_requests", "lots", {}, "must be a number"),
        ("monthly_requests", 10**13, {}, "outside 1 to 1,000,000,000,000"),
        ("peak_rps", 5e6, {}, "outside"),
        ("latency_p95_ms", 10**8, {}, "outside"),
        ("latency_p95_ms", True, {}, "must be a number"),
        ("project_name", "123 Fraud", {}, "must start with a letter"),
        ("project_name", "class", {}, "Python package 'class'"),
        ("project_name", "Tests", {}, "Python package 'tests'"),
        ("project_name", "a very long project name for a platform team of twenty", {}, "slug"),
    ],
)
def test_bad_answers_name_the_field_and_the_fix(field: str, value: object, context: dict, needle: str) -> None:
    message = field_error(field, value, context)
    assert needle in message
    assert field in message or needle == "reserved"


def test_derived_names_transliterate_and_given_names_win() -> None:
    from platform_engine import slugify

    assert slugify("Café Crème") == "cafe-creme"
    assert Answers(project_name="Café Crème").package == "cafe_creme"
    # a name whose derived slug is invalid is fine when the slug and package are given
    assert field_error("project_name", "123 Fraud", {"project_slug": "fraud", "package_name": "fraud"}) == ""


def test_answers_from_mapping_rejects_all_errors_at_once() -> None:
    with pytest.raises(AnswerError) as error:
        Answers.from_mapping({"monthly_requests": 0, "cloud": "ibm"})
    assert len(error.value.errors) >= 2


def test_drift_schedule_as_cron() -> None:
    assert decide(Answers(drift_schedule="@daily")).monitoring.numbers["drift_cron"] == "0 6 * * *"
    assert decide(Answers(drift_schedule="*/30 * * * *")).monitoring.numbers["drift_cron"] == "*/30 * * * *"
    assert "cron" in field_error("drift_schedule", "@fortnightly")


# ---------------------------------------------------------------- cost and data-leaving warnings

COST_WARNINGS = {"below-break-even", "past-break-even"}


@pytest.mark.parametrize("use_case", [u for u in use_cases() if table("catalog")["use_cases"][u].get("api")])
def test_cost_warnings_do_not_depend_on_the_budget_style(use_case: str) -> None:
    fired = set()
    for hosting, monthly, peak in (("api", 500_000_000, 400.0), ("self_hosted", 2_000, 1.0), ("api", 2_000, 1.0)):
        by_style = {}
        for style in ("predictable", "volume"):
            decided = decide(Answers(use_case=use_case, hosting=hosting, monthly_requests=monthly, peak_rps=peak,
                                     budget_style=style))  # fmt: skip
            by_style[style] = [w for w in decided.warnings if w.code in COST_WARNINGS]
            for warning in by_style[style]:
                cost = decided.cost.numbers
                assert f"${cost['api_monthly_usd']:,.0f}" in warning.message
                assert f"${cost['self_hosted_monthly_usd']:,.0f}" in warning.message
                assert "break-even" in warning.message or "cheaper at any volume" in warning.message
        assert [w.code for w in by_style["predictable"]] == [w.code for w in by_style["volume"]], (use_case, hosting)
        fired |= {w.code for w in by_style["volume"]}
    assert "below-break-even" in fired


@pytest.mark.parametrize(("vector_db", "warns"), [("pinecone", True), ("pgvector", False), ("qdrant", False)])
def test_sensitive_data_to_a_hosted_vector_database_warns_and_names_it(vector_db: str, warns: bool) -> None:
    for sensitivity in ("pii", "hipaa", "financial", "internal"):
        decided = decide(Answers(use_case="search_rag", vector_db=vector_db, data_sensitivity=sensitivity,
                                 hosting="self_hosted"))  # fmt: skip
        found = [w for w in decided.warnings if w.code == "sensitive-data-to-hosted-service"]
        if warns and sensitivity != "internal":
            assert (
                len(found) == 1
                and "Pinecone" in found[0].message
                and found[0].answers
                == (
                    "data_sensitivity",
                    "vector_db",
                )
            )
        else:
            assert found == []


def test_sensitive_data_to_an_api_names_the_api() -> None:
    decided = decide(Answers(use_case="text_generation", hosting="api", data_sensitivity="hipaa"))
    (warning,) = [w for w in decided.warnings if w.code == "sensitive-data-to-api"]
    assert "GPT-4 / Claude API" in warning.message


@pytest.mark.parametrize("use_case", [u for u in use_cases() if table("catalog")["use_cases"][u].get("api")])
def test_the_model_record_names_what_is_served_and_the_cost_prices_it(use_case: str) -> None:
    entry = table("catalog")["use_cases"][use_case]
    api = decide(Answers(use_case=use_case, hosting="api"))
    assert api.model.choice == entry["api"]["name"]
    assert api.model.numbers["served_by"] == "api" and api.model.numbers["api_pricing"] == entry["api"]["pricing"]
    priced = api_cost_per_request(prices()["api"][api.model.numbers["api_pricing"]], request_of(use_case))
    assert api.cost.numbers["api_cost_per_request_usd"] == round(priced, 6)
    assert api.cost.choice.endswith("(api)")
    own = decide(Answers(use_case=use_case, hosting="self_hosted"))
    assert own.model.choice.startswith(entry["options"]["speed"]["model"])
    assert own.model.numbers["served_by"] == "self_hosted" and own.model.numbers["api_pricing"] is None
    assert own.cost.choice.endswith("(self-hosted)")


def test_the_gpu_reason_names_the_prod_fleet_also_when_only_dev_is_provisioned() -> None:
    common = dict(use_case="tabular", peak_rps=100_000, monthly_requests=10**10, hosting="self_hosted", gpu_type="t4")
    both = decide(Answers(**common, environments=("dev", "prod")), with_fixes=False).gpu  # type: ignore[arg-type]
    dev_only = decide(Answers(**common, environments=("dev",)), with_fixes=False).gpu  # type: ignore[arg-type]
    assert "g4dn.metal (1-100 nodes)" in both.reason
    assert (dev_only.reason, dev_only.alternatives) == (both.reason, both.alternatives)
