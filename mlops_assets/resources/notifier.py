"""The notification webhook as a resource: where platform events go and in which format.

`webhook_url` comes from `MLOPS_NOTIFY_WEBHOOK_URL` through `EnvVar` (a Slack webhook URL is
a secret); `format` from `MLOPS_NOTIFY_FORMAT` (`slack`, the default, or `alertmanager`).
Without a URL, notifications are off and the sensors say so in their skip reason."""

from __future__ import annotations

import os

import dagster as dg

from mlops_assets.core import notify

WEBHOOK_ENV = "MLOPS_NOTIFY_WEBHOOK_URL"
FORMAT_ENV = "MLOPS_NOTIFY_FORMAT"


class Notifier(dg.ConfigurableResource):
    """Posts `core.notify.Notification`s to one webhook."""

    webhook_url: str = ""
    format: str = "slack"

    @property
    def enabled(self) -> bool:
        return bool(self.webhook_url.strip())

    def send(self, notification: notify.Notification) -> None:
        notify.post(self.webhook_url.strip(), self.format, notification)


def notifier_from_env() -> Notifier:
    """The resource for `build_resources`: the URL stays an `EnvVar` (never in the UI or logs)."""
    fmt = os.environ.get(FORMAT_ENV, "slack").strip().lower() or "slack"
    if fmt not in notify.FORMATS:
        raise ValueError(f"{FORMAT_ENV} must be one of {notify.FORMATS}, got {fmt!r}")
    if not os.environ.get(WEBHOOK_ENV, "").strip():
        return Notifier(format=fmt)
    return Notifier(webhook_url=dg.EnvVar(WEBHOOK_ENV), format=fmt)
