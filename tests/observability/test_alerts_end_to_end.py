"""End to end: a real Prometheus scrapes the real exporter (`mlops-assets metrics`) and the
prediction service's address, evaluates the repo's rules and sends to a real Alertmanager
running the config rendered from the repo's template. Three faults, one per tier, each must
reach its receiver, played by the test, with the right labels:

* the prediction service is down (nothing answers its port) -> critical -> PagerDuty (webhook);
* a scored day's input drifts (the drift asset's summary file) -> warning -> e-mail (SMTP sink);
* a retraining promotes a new champion (the history asset's parquet) -> info -> Slack (webhook).

The rules are the repo's with `for:` set to 0 s (tests/observability/servers.fast_rules).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_assets.core.alerting import render_alertmanager_config
from tests.net import free_port
from tests.observability import servers
from tests.observability.platform_home import healthy_home, write_drift, write_history
from tests.observability.servers import Received, query, wait_until

pytestmark = pytest.mark.slow

ROUTING_KEY = "e2e-routing-key-0001"


def _text(mail) -> str:
    return "".join(
        part.get_payload(decode=True).decode() for part in mail.walk() if not part.is_multipart()
    )


def test_a_fault_per_tier_reaches_its_receiver(tmp_path: Path) -> None:
    home = tmp_path / "home"
    healthy_home(home)
    received = Received()
    with servers.webhook(received) as hook, servers.smtp_sink(received) as smtp:
        env = {
            "MLOPS_PAGERDUTY_ROUTING_KEY": ROUTING_KEY,
            "MLOPS_PAGERDUTY_URL": f"{hook}/pagerduty",
            "MLOPS_ALERT_EMAIL_TO": "oncall@example.org",
            "MLOPS_SMTP_SMARTHOST": smtp,
            "MLOPS_SMTP_FROM": "alerts@example.org",
            "MLOPS_SMTP_USERNAME": "alerts",
            "MLOPS_SMTP_PASSWORD": "sink-accepts-anything",
            "MLOPS_SMTP_REQUIRE_TLS": "false",
            "MLOPS_SLACK_WEBHOOK_URL": f"{hook}/slack",
            "MLOPS_ALERT_GROUP_WAIT": "1s",
            "MLOPS_ALERT_GROUP_INTERVAL": "1s",
        }
        config = tmp_path / "alertmanager.yml"
        config.write_text(render_alertmanager_config(env))
        rules = servers.fast_rules(tmp_path / "rules.yml")
        service_down = f"127.0.0.1:{free_port()}"
        with (
            servers.alertmanager(tmp_path, config) as am,
            servers.exporter(home, tmp_path) as exporter,
            servers.prometheus(
                tmp_path, {"mlops-platform": exporter, "mlops-serving": service_down}, [rules], am
            ) as prom,
        ):
            # healthy platform: scraped, rules evaluated, nothing of the platform fires
            wait_until(
                lambda: query(prom, 'ALERTS{alertname="MLServingDown",alertstate="firing"}'),
                60,
                "the service-down rule to be evaluated and fire",
            )
            # the two targets are scraped independently: wait for the exporter's first scrape
            wait_until(
                lambda: query(prom, 'model_drift_score{feature="total_amount_30d"}'),
                60,
                "the platform exporter to be scraped",
            )
            assert query(prom, 'retraining_runs_total{model="churn"}')[0]["value"][1] == "1"
            assert not query(prom, 'ALERTS{job="mlops-platform"}')

            # the faults: a drifted day, then a retraining that promotes version 2
            write_drift(home, "2026-03-02", {"total_amount_30d": 0.35, "support_tickets_90d": 0.02})
            write_history(home, champion=2)

            pages = wait_until(lambda: received.to("/pagerduty"), 60, "a PagerDuty event")
            mails = wait_until(
                lambda: [m for m in received.mails if "ModelFeatureDrift" in m["Subject"]],
                60,
                "a warning mail",
            )
            slack = wait_until(
                lambda: [
                    s
                    for s in received.to("/slack")
                    if s["attachments"][0]["title"].startswith("RetrainingStarted")
                ],
                60,
                "a Slack message",
            )

    page = pages[0]
    assert page["routing_key"] == ROUTING_KEY
    assert page["event_action"] == "trigger"
    details = page["payload"]["custom_details"]
    assert details["alertname"] == "MLServingDown"
    assert details["severity"] == "critical"
    assert details["job"] == "mlops-serving"
    assert details["instance"] == service_down
    assert page["payload"]["severity"] == "critical"

    mail = mails[0]
    assert mail["Subject"] == "[FIRING] ModelFeatureDrift churn"
    assert mail["To"] == "oncall@example.org"
    body = _text(mail)
    for label in ("feature = total_amount_30d", "model = churn", "severity = warning"):
        assert label in body, label
    assert "support_tickets_90d" not in body  # the input that did not drift did not fire

    message = slack[0]["attachments"][0]
    assert message["title"] == "RetrainingStarted (info)"
    for label in ("model=churn", "trigger=drift", "outcome=promoted", "severity=info"):
        assert label in message["text"], message["text"]
    # every page went to PagerDuty, every mail was a warning, every Slack message an info
    assert all(p["payload"]["custom_details"]["severity"] == "critical" for p in pages)
    assert all("severity = warning" in _text(m) for m in received.mails)
    titles = [s["attachments"][0]["title"] for s in received.to("/slack")]
    assert all(t.endswith("(info)") for t in titles), titles
