"""Alert thresholds from the reference's monitoring table."""

from __future__ import annotations

from .answers import Answers
from .model_choice import model_option
from .records import Decision, GpuSizing
from .tables import table


def schedule_as_cron(schedule: str) -> str:
    """A cron expression for a schedule answer: @presets become cron, cron stays as it is."""
    presets: dict[str, str] = table("monitoring")["cron_presets"]
    return presets.get(schedule.strip(), schedule.strip())


def summary_quantiles(quantile: float, rank_error: float) -> str:
    """Triton's `--metrics-config summary_quantiles=` value: `<quantile>:<error>`."""
    if not 0.0 < quantile < 1.0 or not 0.0 < rank_error < min(quantile, 1.0 - quantile):
        raise ValueError(f"summary quantile {quantile:g} with rank error {rank_error:g} is not a valid target")
    return f"{quantile:g}:{rank_error:g}"


def decide_monitoring(answers: Answers, pool: GpuSizing) -> Decision:
    rule = table("monitoring")
    baseline_ms = float(model_option(answers)["latency_ms"])
    capacity_rps = pool.capacity_rps_per_replica * pool.replicas
    return Decision(
        key="monitoring",
        title="Monitoring thresholds",
        choice=(
            f"PSI > {answers.drift_threshold:g} ({answers.drift_schedule}), p95 > "
            f"{baseline_ms * rule['latency_p95_multiple_of_baseline']:g} ms, errors > {rule['error_rate_max']:.0%}"
        ),
        reason="because the reference's alert table sets 2x baseline latency, 1% errors, 80% capacity, 5% anomalies",
        alternatives=("KS test", "Jensen-Shannon divergence"),
        numbers={
            "psi_threshold": float(answers.drift_threshold),
            "psi_min_window_rows": int(rule["psi_min_window_rows"]),
            "drift_schedule": answers.drift_schedule,
            "drift_cron": schedule_as_cron(answers.drift_schedule),
            "latency_p95_baseline_ms": baseline_ms,
            "latency_p95_alert_ms": baseline_ms * rule["latency_p95_multiple_of_baseline"],
            "latency_p95_target_ms": float(answers.latency_p95_ms),
            "latency_summary_quantiles": summary_quantiles(
                float(rule["latency_summary_quantile"]), float(rule["latency_summary_rank_error"])
            ),
            "error_rate_max": rule["error_rate_max"],
            "throughput_capacity_rps": round(capacity_rps, 3),
            "throughput_alert_below_rps": round(capacity_rps * rule["throughput_min_share_of_capacity"], 3),
            "throughput_min_share_of_capacity": rule["throughput_min_share_of_capacity"],
            "data_anomaly_max_share": rule["data_anomaly_max_share"],
        },
    )
