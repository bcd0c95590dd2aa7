"""Notification sensors: Dagster events posted to the platform webhook (`Notifier`).

* `notify_run_failure` — a run failed (warning), plus the error-severity checks it failed;
* `notify_run_success` — error-severity checks that failed in a successful run (warning) and
  each champion alias that moved (info, "model promoted");
* `notify_retraining_started` — a retraining run started (info), with its trigger.

Each reads the run's own event log (nothing heavy) and records every check result it sees for
the platform metrics (`core.check_status`). A webhook that refuses fails the tick, so Dagster
retries it and shows the error. Off by default, like every sensor here: start them in the UI.
"""

from __future__ import annotations

from collections.abc import Iterable

import dagster as dg

from mlops_assets.components.model_pipeline.common import MODEL_TAG, STAGE_TAG, TRIGGER_TAG
from mlops_assets.core import check_status, notify
from mlops_assets.resources.notifier import Notifier
from mlops_assets.settings import Settings

RETRAIN_STAGE = "retrain"
_INTERVAL = 30


def _run_labels(run: dg.DagsterRun) -> dict[str, str]:
    return {
        "job": run.job_name,
        "run_id": run.run_id,
        "model": run.tags.get(MODEL_TAG, ""),
        "trigger": run.tags.get(TRIGGER_TAG, ""),
    }


def check_notifications(
    instance: dg.DagsterInstance, run: dg.DagsterRun, home: str
) -> list[notify.Notification]:
    """Every check evaluation of the run is recorded for the metrics; the failed ones of
    error severity become notifications."""
    out = []
    for entry in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
        evaluation = entry.dagster_event.event_specific_data
        asset = evaluation.asset_key.to_user_string()
        severity = evaluation.severity.value.lower()
        check_status.write_check_status(
            home,
            check_status.CheckStatus(
                asset,
                evaluation.check_name,
                evaluation.passed,
                severity,
                run.run_id,
                entry.timestamp,
            ),
        )
        if evaluation.passed or severity != "error":
            continue
        out.append(
            notify.Notification(
                "AssetCheckFailed",
                "warning",
                f"check {evaluation.check_name} on {asset} failed: "
                f"{evaluation.description or 'no description'}",
                {**_run_labels(run), "asset": asset, "check": evaluation.check_name},
            )
        )
    return out


def promotion_notifications(
    instance: dg.DagsterInstance, run: dg.DagsterRun
) -> list[notify.Notification]:
    """A materialized `<model>/champion` whose version changed: the alias moved."""
    out = []
    for entry in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION):
        materialization = entry.dagster_event.event_specific_data.materialization
        path = materialization.asset_key.path
        if len(path) != 2 or path[1] != "champion":
            continue
        meta = {k: getattr(v, "value", v) for k, v in materialization.metadata.items()}
        version, previous = str(meta.get("version", "")), str(meta.get("previous_version", ""))
        if not version or version == previous:
            continue
        out.append(
            notify.Notification(
                "ModelPromoted",
                "info",
                f"{path[0]}: champion is now version {version} (was {previous or 'none'})",
                {**_run_labels(run), "model": path[0], "version": version},
            )
        )
    return out


def _failure_reason(context: dg.RunFailureSensorContext) -> str:
    """The failed steps and their errors (first line each), else the run's own message."""
    steps = []
    for entry in context.instance.all_logs(
        context.dagster_run.run_id, of_type=dg.DagsterEventType.STEP_FAILURE
    ):
        error = entry.dagster_event.event_specific_data.error
        cause = error.cause or error
        steps.append(f"{entry.step_key}: {cause.message.strip().splitlines()[0]}")
    return "; ".join(steps[:5]) or context.failure_event.message or "run failed"


def _send(notifier: Notifier, notes: Iterable[notify.Notification], log) -> dg.SkipReason | None:
    notes = list(notes)
    if not notes:
        return dg.SkipReason("nothing to notify")
    if not notifier.enabled:
        return dg.SkipReason(f"{len(notes)} event(s), but no webhook: set MLOPS_NOTIFY_WEBHOOK_URL")
    errors = []
    for note in notes:
        try:
            notifier.send(note)
            log.info(f"notified {note.name} ({note.severity})")
        except notify.NotifyError as err:
            errors.append(str(err))
    if errors:
        raise dg.Failure("; ".join(errors))
    return None


def build_notification_sensors() -> list[dg.SensorDefinition]:
    @dg.run_failure_sensor(
        name="notify_run_failure",
        minimum_interval_seconds=_INTERVAL,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description="Posts every failed run (warning) and the error-severity checks it failed "
        "to the notification webhook.",
    )
    def notify_run_failure(
        context: dg.RunFailureSensorContext, notifier: Notifier, settings: Settings
    ):
        run = context.dagster_run
        failed = notify.Notification(
            "DagsterRunFailed",
            "warning",
            f"run of {run.job_name} failed: {_failure_reason(context)}",
            _run_labels(run),
        )
        checks = check_notifications(context.instance, run, settings.home)
        return _send(notifier, [failed, *checks], context.log)

    @dg.run_status_sensor(
        run_status=dg.DagsterRunStatus.SUCCESS,
        name="notify_run_success",
        minimum_interval_seconds=_INTERVAL,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description="Posts error-severity checks that failed in a successful run (warning) and "
        "every champion promotion (info) to the notification webhook.",
    )
    def notify_run_success(
        context: dg.RunStatusSensorContext, notifier: Notifier, settings: Settings
    ):
        run = context.dagster_run
        notes = [
            *check_notifications(context.instance, run, settings.home),
            *promotion_notifications(context.instance, run),
        ]
        return _send(notifier, notes, context.log)

    @dg.run_status_sensor(
        run_status=dg.DagsterRunStatus.STARTED,
        name="notify_retraining_started",
        minimum_interval_seconds=_INTERVAL,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description="Posts each retraining run's start (info), with its trigger.",
    )
    def notify_retraining_started(context: dg.RunStatusSensorContext, notifier: Notifier):
        run = context.dagster_run
        if run.tags.get(STAGE_TAG) != RETRAIN_STAGE:
            return dg.SkipReason(f"{run.job_name} is not a retraining run")
        trigger = run.tags.get(TRIGGER_TAG, "manual")
        model = run.tags.get(MODEL_TAG, "")
        note = notify.Notification(
            "RetrainingStarted",
            "info",
            f"{model}: retraining started (trigger {trigger})",
            _run_labels(run),
        )
        return _send(notifier, [note], context.log)

    return [notify_run_failure, notify_run_success, notify_retraining_started]
