"""Platform notifications out of Dagster: a run failed, an error-severity check failed, a
retraining started, a model was promoted. One `Notification` shape, posted to one webhook in
one of two formats:

* `slack`: a Slack-compatible incoming-webhook body (`text` + one attachment);
* `alertmanager`: Alertmanager's API (`POST <url>/api/v2/alerts`), so the events are routed
  by the same three tiers as Prometheus' alerts (label `severity`).

Pure payload builders plus one small stdlib POST; the Dagster sensors that decide what to
send live in `mlops_assets/defs/notifications/`.
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

FORMATS = ("slack", "alertmanager")
SEVERITIES = ("critical", "warning", "info")
EVENT_TTL = dt.timedelta(minutes=30)  # an Alertmanager "alert" for a one-off event resolves then
_COLORS = {"critical": "danger", "warning": "warning", "info": "good"}


class NotifyError(RuntimeError):
    """The webhook refused or could not be reached (the message never names the URL)."""


@dataclass(frozen=True)
class Notification:
    name: str  # alertname, e.g. DagsterRunFailed
    severity: str  # critical | warning | info
    summary: str
    labels: Mapping[str, str] = field(default_factory=dict)  # model, job, asset, check, run_id
    link: str | None = None  # the run in the Dagster UI, when known

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, got {self.severity!r}")

    def all_labels(self) -> dict[str, str]:
        extra = {k: str(v) for k, v in self.labels.items() if v not in (None, "")}
        return {"alertname": self.name, "severity": self.severity, "source": "dagster", **extra}


def slack_payload(n: Notification) -> dict[str, Any]:
    labels = n.all_labels()
    pairs = " ".join(f"{k}={v}" for k, v in sorted(labels.items()))
    text = f"{n.summary} [{pairs}]" + (f"\n{n.link}" if n.link else "")
    return {
        "text": f"[{n.severity}] {n.name}: {n.summary}",
        "attachments": [
            {"title": f"{n.name} ({n.severity})", "text": text, "color": _COLORS[n.severity]}
        ],
    }


def alertmanager_payload(n: Notification, now: dt.datetime) -> list[dict[str, Any]]:
    alert: dict[str, Any] = {
        "labels": n.all_labels(),
        "annotations": {"summary": n.summary, "description": n.summary},
        "startsAt": now.isoformat(),
        "endsAt": (now + EVENT_TTL).isoformat(),
    }
    if n.link:
        alert["generatorURL"] = n.link
    return [alert]


def post(url: str, fmt: str, notification: Notification, timeout: float = 10.0) -> None:
    """Send `notification` to the webhook; raises NotifyError on a refusal or no answer."""
    if fmt not in FORMATS:
        raise ValueError(f"notification format must be one of {FORMATS}, got {fmt!r}")
    if not url.startswith(("http://", "https://")):
        raise ValueError("the notification webhook must be an http(s) URL")
    if fmt == "slack":
        target, body = url, slack_payload(notification)
    else:
        target = url.rstrip("/") + "/api/v2/alerts"
        body = alertmanager_payload(notification, dt.datetime.now(dt.UTC))
    request = urllib.request.Request(
        target,
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # http(s) only
            response.read()
    except urllib.error.HTTPError as err:
        raise NotifyError(f"{fmt} webhook answered {err.code} for {notification.name}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise NotifyError(f"{fmt} webhook unreachable for {notification.name}: {reason}") from None
