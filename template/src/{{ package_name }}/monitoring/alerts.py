"""Drift alerts to a Slack-compatible incoming webhook.

Configured by platform.yaml `monitoring.alerts` (off by default locally); `$DRIFT_WEBHOOK_URL`
overrides the URL and `$DRIFT_ALERTS_ENABLED=true|false` the switch. Sending never raises: the
drift job reports a failed delivery and goes on.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from ..config import Platform, platform


@dataclass(frozen=True)
class AlertSettings:
    enabled: bool
    webhook_url: str
    timeout_seconds: float
    report_base_url: str

    @classmethod
    def from_platform(cls, platform_: Platform | None = None) -> AlertSettings:
        alerts = (platform_ or platform()).settings.monitoring.alerts
        switch = os.environ.get("DRIFT_ALERTS_ENABLED")
        enabled = alerts.enabled if switch is None else switch.lower() in ("1", "true", "yes")
        return cls(
            enabled=enabled,
            webhook_url=os.environ.get("DRIFT_WEBHOOK_URL") or alerts.webhook_url,
            timeout_seconds=alerts.timeout_seconds,
            report_base_url=alerts.report_base_url,
        )


def report_link(settings: AlertSettings, report_path: str) -> str:
    """A URL under report_base_url when one is set, else the report's path."""
    if not settings.report_base_url:
        return report_path
    return f"{settings.report_base_url.rstrip('/')}/{report_path.rsplit('/', 2)[-2]}/drift.html"


def drift_message(summary: dict[str, Any], settings: AlertSettings) -> dict[str, Any]:
    """Slack-compatible JSON: `text` for any webhook, `blocks` for Slack's layout."""
    psi: dict[str, float] = summary.get("psi", {})
    drifted: list[str] = summary.get("drifted_features", [])
    link = report_link(settings, str(summary.get("report_html", "")))
    lines = [f"• `{name}` PSI {psi.get(name, float('nan')):.3f}" for name in drifted]
    title = (
        f":warning: Drift in {summary.get('project')} (model {summary.get('model_name')} "
        f"v{summary.get('model_version')}): {len(drifted)} of {len(psi)} columns at PSI >= {summary.get('threshold')}"
    )
    streak = int(summary.get("consecutive_drift_windows", 1))
    details = "\n".join(
        [
            *lines,
            f"Window {summary.get('window', {}).get('start')} .. {summary.get('window', {}).get('end')}, "
            f"{summary.get('window', {}).get('rows')} rows; drifted {streak} window(s) in a row.",
            f"Report: {link}",
        ]
    )
    return {
        "text": f"{title}\n{details}",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "Model drift detected"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": title}},
            {"type": "section", "text": {"type": "mrkdwn", "text": details}},
        ],
        "drifted_features": drifted,
        "report": link,
    }


def send(settings: AlertSettings, payload: dict[str, Any]) -> str | None:
    """POST the payload; None when delivered (or alerts are off), else what went wrong. Never raises."""
    if not settings.enabled:
        return None
    if not settings.webhook_url:
        return "alerts are enabled but no webhook URL is set (monitoring.alerts.webhook_url or $DRIFT_WEBHOOK_URL)"
    try:
        request = urllib.request.Request(
            settings.webhook_url,
            data=json.dumps(payload).encode("utf-8"),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=settings.timeout_seconds) as response:
            if response.status >= 300:
                return f"webhook answered HTTP {response.status}"
    except urllib.error.HTTPError as error:
        return f"webhook answered HTTP {error.code}"
    except Exception as error:
        return f"webhook unreachable: {error}"
    return None
