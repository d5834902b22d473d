"""Which data interval a DAG run covers, for every kind of Airflow 3 run (plain Python, no Airflow).

Scheduled and backfill runs carry their data interval. A manual run (`airflow dags trigger`, the UI's
Trigger button) has no logical date in Airflow 3, so it has no data interval either: it covers the
latest complete schedule interval before its `run_after`, which is what Airflow's own
`infer_manual_data_interval` picks for a cron data-interval timetable. A user may name the interval
instead with the run's params (conf) `data_interval_start` and `data_interval_end`. Anything else
raises IntervalError, which the DAG turns into a failure without retries: retrying cannot make a
missing interval appear.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any

START_PARAM = "data_interval_start"
END_PARAM = "data_interval_end"

Interval = tuple[datetime, datetime]


class IntervalError(ValueError):
    """The run has no usable data interval; the message says what to pass."""


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def latest_complete_interval(schedule: str, run_after: datetime) -> Interval:
    """The last whole interval of the cron `schedule` (UTC) that ends at or before `run_after`.

    At 05:00 on 2 March a daily schedule gives [1 March, 2 March); at exactly midnight too.
    """
    from croniter import croniter  # type: ignore[import-untyped]  # installed with the etl group

    moment = _aware(run_after).astimezone(UTC)
    if not croniter.is_valid(schedule):
        raise IntervalError(f"data.etl.schedule {schedule!r} in platform.yaml is not a cron expression")
    end = moment if croniter.match(schedule, moment) else croniter(schedule, moment).get_prev(datetime)
    start = croniter(schedule, end).get_prev(datetime)
    return _aware(start), _aware(end)


def _parse(name: str, value: Any) -> datetime:
    if isinstance(value, datetime):
        return _aware(value)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    try:
        return _aware(datetime.fromisoformat(str(value)))
    except ValueError:
        raise IntervalError(
            f"param {name}={value!r} is not an ISO date or datetime (e.g. 2026-03-01 or 2026-03-01T00:00:00+00:00)"
        ) from None


def run_interval(
    *,
    data_interval_start: datetime | None,
    data_interval_end: datetime | None,
    run_after: datetime | None,
    params: Mapping[str, Any] | None,
    latest: Callable[[datetime], Interval],
    run_type: str = "",
) -> Interval:
    """The [start, end) a run covers: the params' interval, else the run's own, else `latest(run_after)`.

    `latest` infers a manual run's interval (e.g. latest_complete_interval for the ETL's schedule).
    A run whose interval is missing or empty (manual runs; runs of a cron trigger timetable) falls
    back to it. Raises IntervalError for half an interval in params, a start not before its end, an
    interval that is not over yet, or a run without an interval and without a run_after.
    """
    kind = f"{run_type} run" if run_type else "run"
    given = {key: (params or {}).get(key) for key in (START_PARAM, END_PARAM)}
    if any(value not in (None, "") for value in given.values()):
        if any(value in (None, "") for value in given.values()):
            raise IntervalError(
                f"the {kind} names only one end of its interval: pass both params "
                f"{START_PARAM} and {END_PARAM} (e.g. 2026-03-01 and 2026-03-02), or neither"
            )
        start, end = (_parse(key, value) for key, value in given.items())
        source = "params"
    elif data_interval_start is not None and data_interval_end is not None and data_interval_start < data_interval_end:
        start, end = _aware(data_interval_start), _aware(data_interval_end)
        source = "the run's data interval"
    else:
        if run_after is None:
            raise IntervalError(
                f"the {kind} has no data interval and no run_after to infer one from: trigger it with "
                f"params {START_PARAM} and {END_PARAM}, or with a logical date"
            )
        start, end = latest(_aware(run_after))
        source = f"the latest complete interval before run_after {_aware(run_after).isoformat()}"
    if not start < end:
        raise IntervalError(f"the {kind}'s interval from {source} is empty or reversed: [{start}, {end})")
    if source == "params" and run_after is not None and end > _aware(run_after):
        raise IntervalError(
            f"the {kind}'s interval [{start.isoformat()}, {end.isoformat()}) is not over yet "
            f"(run_after {_aware(run_after).isoformat()}): its data may still change"
        )
    return start, end
