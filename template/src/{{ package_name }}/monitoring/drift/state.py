"""The local streak of drifted windows (reports_dir/state.json)."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .status import EXIT_DRIFT, STATUS_NAMES


def read_state(reports_dir: Path) -> dict[str, Any]:
    path = reports_dir / "state.json"
    try:
        loaded = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (OSError, ValueError):
        loaded = {}
    return dict(loaded) if isinstance(loaded, dict) else {}


def update_state(reports_dir: Path, status: int, previous: int | None = None) -> int:
    """Drifted windows in a row, kept in reports_dir/state.json; returns the new count.

    Only finished checks (0 and 3) count: a refused window neither extends nor breaks a streak.
    `previous` (from MLflow, which outlives a CronJob's pod) wins over the file's count.
    """
    path = reports_dir / "state.json"
    state = read_state(reports_dir)
    before = int(state.get("consecutive_drift_windows", 0)) if previous is None else previous
    streak = before + 1 if status == EXIT_DRIFT else 0
    state.update(
        consecutive_drift_windows=streak, last_status=STATUS_NAMES[status], updated_at=datetime.now(UTC).isoformat()
    )
    reports_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2), encoding="utf-8")
    os.replace(tmp, path)
    return streak
