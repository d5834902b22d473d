"""The drift job's report files: drift.json, drift.html and summary.json per check, latest.json."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any


def write_reports(reports_dir: Path, stamp: str, summary: dict[str, Any], snapshot: Any) -> Path:
    """drift.json, drift.html and summary.json in reports_dir/<stamp>/, all or nothing."""
    reports_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=reports_dir, prefix=f".{stamp}."))
    target = reports_dir / stamp
    try:
        snapshot.save_json(str(staging / "drift.json"))
        snapshot.save_html(str(staging / "drift.html"))
        summary = {
            **summary,
            "report_dir": str(target),
            "report_json": str(target / "drift.json"),
            "report_html": str(target / "drift.html"),
        }
        (staging / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True), encoding="utf-8")
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    latest = reports_dir / "latest.json"
    latest_tmp = reports_dir / ".latest.json.tmp"
    latest_tmp.write_text(json.dumps(summary, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(latest_tmp, latest)
    return target
