"""Alertmanager's configuration rendered from the repo's template and the environment.

The template (deploy/alertmanager/alertmanager.yml.tmpl) routes the three tiers (critical →
PagerDuty, warning → e-mail, info → Slack) and names its receivers' URLs and keys as
`${VARIABLE}`. Secrets have no default: a missing one fails the rendering with its name, so a
broken receiver shows up when the config is built, not at the first page. Every value goes in
as a quoted YAML scalar (or a validated boolean / duration), so a value cannot add YAML keys.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parents[2] / "deploy" / "alertmanager" / "alertmanager.yml.tmpl"

_DURATION = re.compile(r"^(\d+(ms|s|m|h|d|w|y))+$")


@dataclass(frozen=True)
class Variable:
    name: str
    help: str
    default: str | None = None  # None: required (every secret)
    kind: str = "text"  # text | bool | duration


VARIABLES: tuple[Variable, ...] = (
    Variable("MLOPS_PAGERDUTY_ROUTING_KEY", "PagerDuty Events v2 integration key (critical)"),
    Variable(
        "MLOPS_PAGERDUTY_URL",
        "PagerDuty Events API URL",
        default="https://events.pagerduty.com/v2/enqueue",
    ),
    Variable("MLOPS_ALERT_EMAIL_TO", "where warnings are mailed"),
    Variable("MLOPS_SMTP_SMARTHOST", "SMTP relay as host:port"),
    Variable("MLOPS_SMTP_FROM", "sender address of alert mails"),
    Variable("MLOPS_SMTP_USERNAME", "SMTP login"),
    Variable("MLOPS_SMTP_PASSWORD", "SMTP password"),
    Variable("MLOPS_SMTP_REQUIRE_TLS", "STARTTLS required", default="true", kind="bool"),
    Variable("MLOPS_SLACK_WEBHOOK_URL", "Slack incoming-webhook URL (info)"),
    Variable("MLOPS_SLACK_CHANNEL", "Slack channel of info alerts", default="#mlops-alerts"),
    Variable(
        "MLOPS_ALERT_GROUP_WAIT", "wait before a new group's first notification", "30s", "duration"
    ),
    Variable("MLOPS_ALERT_GROUP_INTERVAL", "wait between a group's updates", "5m", "duration"),
)


class MissingReceiverSetting(ValueError):
    """A variable the template needs is unset or invalid; the message names it."""


def _value(var: Variable, environ: Mapping[str, str]) -> str:
    raw = environ.get(var.name, "").strip()
    if not raw:
        if var.default is None:
            raise MissingReceiverSetting(f"{var.name} is not set ({var.help})")
        raw = var.default
    if var.kind == "bool":
        if raw.lower() not in {"true", "false"}:
            raise MissingReceiverSetting(f"{var.name} must be true or false, got {raw!r}")
        return raw.lower()
    if var.kind == "duration" and not _DURATION.match(raw):
        raise MissingReceiverSetting(f"{var.name} must be a duration like 30s or 5m, got {raw!r}")
    return json.dumps(raw)  # a JSON string is a valid double-quoted YAML scalar


def render_alertmanager_config(environ: Mapping[str, str], template: Path = TEMPLATE) -> str:
    """The template with every `${VARIABLE}` filled from `environ`.

    Raises MissingReceiverSetting naming every missing variable (all at once, so one
    rendering lists what to set), and ValueError when the template names an unknown one."""
    text = Template(Path(template).read_text())
    known = {v.name: v for v in VARIABLES}
    used = text.get_identifiers()
    unknown = sorted(set(used) - set(known))
    if unknown:
        raise ValueError(f"{template}: unknown variable(s) {unknown}; known: {sorted(known)}")
    values, problems = {}, []
    for name in used:
        try:
            values[name] = _value(known[name], environ)
        except MissingReceiverSetting as err:
            problems.append(str(err))
    if problems:
        raise MissingReceiverSetting("; ".join(problems))
    return text.substitute(values)


class Template(string.Template):
    """Only `${UPPER_CASE}` is a variable: any other `$` (Alertmanager's own `{{ $x }}`) stays."""

    pattern = (
        r"\$(?:(?P<escaped>(?!))|\{(?P<braced>[A-Z][A-Z0-9_]*)\}|(?P<named>(?!))|(?P<invalid>(?!)))"
    )
