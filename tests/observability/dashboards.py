"""The Grafana dashboards' queries, and a check that runs each against a real Prometheus."""

from __future__ import annotations

import json
from pathlib import Path

from tests.observability.servers import ROOT, query

DASHBOARDS = ROOT / "deploy" / "grafana" / "dashboards"


def dashboards() -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in sorted(DASHBOARDS.glob("*.json"))}


def panel_queries() -> list[tuple[str, str, str]]:
    """(dashboard title, panel title, PromQL) for every target of every panel."""
    return [
        (d["title"], panel["title"], target["expr"])
        for d in dashboards().values()
        for panel in d["panels"]
        for target in panel["targets"]
    ]


def empty_queries(prometheus_url: str) -> list[str]:
    """The panels whose query returns no series right now."""
    return [
        f"{dashboard} / {panel}: {expr}"
        for dashboard, panel, expr in panel_queries()
        if not query(prometheus_url, expr)
    ]


def as_rules_file(dest: Path) -> Path:
    """Every panel query as a recording rule, so `promtool check rules` parses the PromQL."""
    rules = [
        {"record": f"dashboard:query_{i}", "expr": expr}
        for i, (_, _, expr) in enumerate(panel_queries())
    ]
    dest.write_text(json.dumps({"groups": [{"name": "dashboards", "rules": rules}]}))
    return dest
