"""The drift job's numbers as Prometheus metrics: a textfile-collector file and, optionally, a Pushgateway.

Metric names (every series carries `project`, `model` and `model_version` labels):

    model_drift_psi{feature}                  PSI of one drift column (feature or summary statistic)
    model_drift_share                         share of drift columns with PSI >= threshold
    model_drift_detected                      1 when any column drifted, else 0
    model_drift_threshold                     the PSI threshold the job used
    model_drift_consecutive_windows           drifted windows in a row (the retraining trigger reads it)
    model_drift_window_rows                   rows in the current window
    model_data_anomaly_share                  share of window rows with a missing or out-of-range feature
    model_drift_last_run_timestamp_seconds    when the job last finished (any status)
    model_drift_job_status                    the job's exit status (0 ok, 3 drift, others: see drift/status.py)
"""

from __future__ import annotations

import os
import tempfile
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from ..config import Platform, platform


@dataclass(frozen=True)
class Sample:
    name: str
    value: float
    labels: dict[str, str] = field(default_factory=dict)


HELP = {
    "model_drift_psi": "PSI of a drift column, current window against the champion's training reference",
    "model_drift_share": "Share of drift columns whose PSI reached the threshold",
    "model_drift_detected": "1 when any drift column reached the PSI threshold",
    "model_drift_threshold": "PSI threshold used by the drift job",
    "model_drift_consecutive_windows": "Drifted windows in a row",
    "model_drift_window_rows": "Rows in the drift job's current window",
    "model_data_anomaly_share": "Share of window rows with a missing, non-finite or out-of-range feature",
    "model_drift_last_run_timestamp_seconds": "Unix time the drift job last finished",
    "model_drift_job_status": "Exit status of the drift job's last run (0 ok, 3 drift)",
}


@dataclass(frozen=True)
class PrometheusSettings:
    textfile: Path
    pushgateway_url: str
    job: str
    namespace: str

    @classmethod
    def from_platform(cls, platform_: Platform | None = None) -> PrometheusSettings:
        current = platform_ or platform()
        prometheus = current.settings.monitoring.prometheus
        textfile = Path(os.environ.get("DRIFT_METRICS_TEXTFILE") or prometheus.textfile)
        if str(textfile) and not textfile.is_absolute():
            textfile = current.path.parent / textfile
        return cls(
            textfile=textfile,
            pushgateway_url=os.environ.get("PUSHGATEWAY_URL") or prometheus.pushgateway_url,
            job=prometheus.job,
            namespace=prometheus.namespace,
        )


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def render(samples: list[Sample]) -> str:
    """The Prometheus text exposition format, one HELP/TYPE block per metric name."""
    lines: list[str] = []
    seen: set[str] = set()
    for sample in samples:
        if sample.name not in seen:
            seen.add(sample.name)
            lines.append(f"# HELP {sample.name} {HELP.get(sample.name, sample.name)}")
            lines.append(f"# TYPE {sample.name} gauge")
        labels = ",".join(f'{key}="{_escape(value)}"' for key, value in sorted(sample.labels.items()))
        lines.append(
            f"{sample.name}{{{labels}}} {sample.value:.10g}" if labels else f"{sample.name} {sample.value:.10g}"
        )
    return "\n".join(lines) + "\n"


def write_textfile(path: Path, samples: list[Sample]) -> None:
    """Replace the file atomically (the node-exporter textfile collector never reads half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(render(samples))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def push(url: str, job: str, samples: list[Sample], timeout: float = 5.0) -> None:
    """PUT the samples to a Pushgateway under /metrics/job/<job> (replaces that job's group)."""
    body = render(samples).encode("utf-8")
    request = urllib.request.Request(
        f"{url.rstrip('/')}/metrics/job/{job}",
        data=body,
        method="PUT",
        headers={"Content-Type": "text/plain; version=0.0.4"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        if response.status >= 300:
            raise OSError(f"Pushgateway answered {response.status}")


def export(settings: PrometheusSettings, samples: list[Sample]) -> list[str]:
    """Write the textfile and push; never raises. Returns the problems (empty when all went well)."""
    problems: list[str] = []
    if str(settings.textfile):
        try:
            write_textfile(settings.textfile, samples)
        except OSError as error:
            problems.append(f"metrics textfile {settings.textfile} not written: {error}")
    if settings.pushgateway_url:
        try:
            push(settings.pushgateway_url, settings.job, samples)
        except Exception as error:
            problems.append(f"metrics not pushed to {settings.pushgateway_url}: {error}")
    return problems
