"""Notification sensors on real Dagster runs (a temporary instance), posting to a receiver the
test runs: Slack-format JSON straight to a webhook, and Alertmanager-format through a real
Alertmanager (the repo's rendered config) on to its receiver."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from mlops_assets.core import check_status
from mlops_assets.core.alerting import render_alertmanager_config
from mlops_assets.core.platform_metrics import PlatformReader
from mlops_assets.defs.notifications.sensors import build_notification_sensors
from mlops_assets.resources.notifier import Notifier
from mlops_assets.settings import Settings
from tests.net import free_port
from tests.observability import servers
from tests.observability.servers import Received, wait_until

TAGS = {"mlops/model": "toy", "mlops/stage": "retrain", "mlops/trigger": "drift"}


@dg.asset(key=["toy", "champion"])
def champion() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"version": "2", "previous_version": "1"})


@dg.asset(
    key=["toy", "drift_report"],
    check_specs=[
        dg.AssetCheckSpec("feature_drift", asset=["toy", "drift_report"]),
        dg.AssetCheckSpec("missing_rate_drift", asset=["toy", "drift_report"]),
    ],
)
def drift_report() -> dg.MaterializeResult:
    return dg.MaterializeResult(
        check_results=[
            dg.AssetCheckResult(
                check_name="feature_drift",
                passed=False,
                severity=dg.AssetCheckSeverity.ERROR,
                description="2 failing feature-days",
            ),
            dg.AssetCheckResult(check_name="missing_rate_drift", passed=True),
        ]
    )


@dg.asset(key=["toy", "training_set"])
def broken() -> None:
    raise ValueError("the training window is empty")


def _sensors() -> dict[str, dg.SensorDefinition]:
    return {s.name: s for s in build_notification_sensors()}


def _evaluate(sensor, instance, result, event_type, resources) -> object:
    run = instance.get_run_by_id(result.run_id)
    event = next(
        e.dagster_event
        for e in instance.all_logs(run.run_id)
        if e.dagster_event and e.dagster_event.event_type == event_type
    )
    context = dg.build_run_status_sensor_context(
        sensor_name=sensor.name,
        dagster_event=event,
        dagster_instance=instance,
        dagster_run=run,
        resources=resources,
    )
    if event_type == dg.DagsterEventType.RUN_FAILURE:
        context = context.for_run_failure()
    return sensor(context)


@pytest.fixture(scope="module")
def runs():
    """Three real runs: a retraining that promotes and fails a check, and a failed run."""
    with dg.instance_for_test() as instance:
        good = dg.materialize([champion, drift_report], instance=instance, tags=TAGS)
        bad = dg.materialize([broken], instance=instance, tags=TAGS, raise_on_error=False)
        assert good.success and not bad.success
        yield instance, good, bad


def _all_events(runs, resources) -> None:
    instance, good, bad = runs
    sensors = _sensors()
    _evaluate(
        sensors["notify_retraining_started"],
        instance,
        good,
        dg.DagsterEventType.RUN_START,
        resources,
    )
    _evaluate(
        sensors["notify_run_success"], instance, good, dg.DagsterEventType.RUN_SUCCESS, resources
    )
    _evaluate(
        sensors["notify_run_failure"], instance, bad, dg.DagsterEventType.RUN_FAILURE, resources
    )


def test_slack_format_reaches_the_webhook(runs, tmp_path: Path) -> None:
    received = Received()
    with servers.webhook(received) as hook:
        resources = {
            "notifier": Notifier(webhook_url=f"{hook}/slack", format="slack"),
            "settings": Settings(home=str(tmp_path)),
        }
        _all_events(runs, resources)
    posts = received.to("/slack")
    by_title = {p["attachments"][0]["title"]: p["attachments"][0]["text"] for p in posts}
    assert set(by_title) == {
        "RetrainingStarted (info)",
        "ModelPromoted (info)",
        "AssetCheckFailed (warning)",
        "DagsterRunFailed (warning)",
    }
    assert "trigger=drift" in by_title["RetrainingStarted (info)"]
    assert "model=toy" in by_title["ModelPromoted (info)"]
    assert "version 2 (was 1)" in by_title["ModelPromoted (info)"]
    assert "check=feature_drift" in by_title["AssetCheckFailed (warning)"]
    assert "asset=toy/drift_report" in by_title["AssetCheckFailed (warning)"]
    assert "the training window is empty" in by_title["DagsterRunFailed (warning)"]
    assert "missing_rate_drift" not in " ".join(by_title.values())  # it passed

    # every check result was recorded for the platform metrics
    reader = PlatformReader(tmp_path, [], [])
    values = {(s.name, s.labels): s.value for s in reader.read()}
    key = ("pipeline_failed_checks", (("asset", "toy/drift_report"), ("severity", "error")))
    assert values[key] == 1
    assert len(list(check_status.checks_dir(tmp_path).glob("*.json"))) == 2


def test_alertmanager_format_is_routed_by_tier(runs, tmp_path: Path) -> None:
    """Through a real Alertmanager with the repo's config: info events to Slack, the warning
    ones to e-mail."""
    received = Received()
    with servers.webhook(received) as hook, servers.smtp_sink(received) as smtp:
        config = tmp_path / "alertmanager.yml"
        config.write_text(
            render_alertmanager_config(
                {
                    "MLOPS_PAGERDUTY_ROUTING_KEY": "unused-here",
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
            )
        )
        with servers.alertmanager(tmp_path, config) as am:
            resources = {
                "notifier": Notifier(webhook_url=f"http://{am}", format="alertmanager"),
                "settings": Settings(home=str(tmp_path)),
            }
            _all_events(runs, resources)
            titles = lambda: {p["attachments"][0]["title"] for p in received.to("/slack")}  # noqa: E731
            wait_until(
                lambda: {"RetrainingStarted (info)", "ModelPromoted (info)"} <= titles(),
                60,
                "info events on Slack",
            )
            subjects = lambda: {m["Subject"] for m in received.mails}  # noqa: E731
            wait_until(
                lambda: (
                    {"[FIRING] AssetCheckFailed toy", "[FIRING] DagsterRunFailed toy"} <= subjects()
                ),
                60,
                "warning events by mail",
            )
    assert not received.to("/pagerduty")  # nothing here is critical
    slack = {
        p["attachments"][0]["title"]: p["attachments"][0]["text"] for p in received.to("/slack")
    }
    assert "source=dagster" in slack["ModelPromoted (info)"]
    assert "version=2" in slack["ModelPromoted (info)"]


def test_without_a_webhook_the_sensor_skips_and_says_why(runs, tmp_path: Path) -> None:
    instance, good, _ = runs
    resources = {"notifier": Notifier(), "settings": Settings(home=str(tmp_path))}
    result = _evaluate(
        _sensors()["notify_run_success"], instance, good, dg.DagsterEventType.RUN_SUCCESS, resources
    )
    assert isinstance(result, dg.SkipReason)
    assert "MLOPS_NOTIFY_WEBHOOK_URL" in result.skip_message


def test_an_unreachable_webhook_fails_the_tick_without_naming_it(runs, tmp_path: Path) -> None:
    """Dagster shows the failed tick and retries it; the URL (a secret) is not in the error."""
    instance, good, _ = runs
    secret_url = f"http://127.0.0.1:{free_port()}/services/T0/B0/secret-token"
    resources = {
        "notifier": Notifier(webhook_url=secret_url, format="slack"),
        "settings": Settings(home=str(tmp_path)),
    }
    sensor = _sensors()["notify_run_success"]
    with pytest.raises(dg.Failure, match="unreachable") as err:
        _evaluate(sensor, instance, good, dg.DagsterEventType.RUN_SUCCESS, resources)
    assert "secret-token" not in str(err.value)
