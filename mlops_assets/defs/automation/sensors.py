"""Sensors: the landing zone starts the daily pipeline; drift, performance and new labels
start retraining. Each is idempotent (`run_key`), keeps a cursor and survives restarts; none
does heavy work itself — they read folders and small JSON summaries."""

import datetime as dt
import json

import dagster as dg

from mlops_assets.core import monitoring
from mlops_assets.core.ingest import landed_days
from mlops_assets.defs.automation.jobs import daily_job, performance_job, retrain_job
from mlops_assets.settings import LABEL_DELAY_DAYS, Settings

TRIGGER_TAG = "mlops/trigger"


@dg.sensor(
    jobs=[daily_job, performance_job],  # every job it requests must be declared
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="A new day folder in the landing zone → that day's partition of daily_job "
    f"(and model_performance for the day whose labels it brings, {LABEL_DELAY_DAYS} days back).",
)
def landing_zone_sensor(context: dg.SensorEvaluationContext, settings: Settings):
    last = dt.date.fromisoformat(context.cursor) if context.cursor else None
    all_days = landed_days(settings.landing_dir)
    new_days = [d for d in all_days if last is None or d > last]
    if last is None:  # first tick: days already ingested (e.g. by a backfill) are not new
        done = context.instance.get_materialized_partitions(dg.AssetKey("raw_transactions"))
        new_days = [d for d in new_days if d.isoformat() not in done]
    if not new_days:
        cursor = context.cursor or (all_days[-1].isoformat() if all_days else None)
        return dg.SensorResult(
            skip_reason=f"no new day folder after {cursor or 'the start'}", cursor=cursor
        )
    requests = []
    for day in new_days:
        key = day.isoformat()
        requests.append(
            dg.RunRequest(
                run_key=f"landing:{key}",
                job_name=daily_job.name,
                partition_key=key,
                tags={TRIGGER_TAG: "new_data"},
            )
        )
        labelled = day - dt.timedelta(days=LABEL_DELAY_DAYS)
        if labelled >= all_days[0]:
            requests.append(
                dg.RunRequest(
                    run_key=f"performance:{labelled}",
                    job_name=performance_job.name,
                    partition_key=labelled.isoformat(),
                )
            )
    return dg.SensorResult(run_requests=requests, cursor=new_days[-1].isoformat())


def _policy(settings: Settings) -> monitoring.RetrainPolicy:
    return monitoring.RetrainPolicy(
        min_drifted_features=settings.retrain_min_drifted_features,
        consecutive_days=settings.retrain_consecutive_days,
        performance_floor=settings.performance_auc_pr_floor,
        cooldown_days=settings.retrain_cooldown_days,
    )


@dg.sensor(
    job=retrain_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Persistent drift (≥ k drifted features for ≥ n days) or AUC-PR below its "
    "floor → one retraining per episode, with a cooldown.",
)
def retrain_on_drift_sensor(context: dg.SensorEvaluationContext, settings: Settings):
    state = monitoring.RetrainState.from_json(context.cursor)
    summaries = monitoring.read_summaries(settings.monitoring_days_dir)
    triggers, new_state = monitoring.evaluate_retraining(summaries, state, _policy(settings))
    requests = [
        dg.RunRequest(
            run_key=t.run_key,
            tags={TRIGGER_TAG: t.kind, "mlops/trigger_day": t.day, "mlops/reason": t.reason[:200]},
        )
        for t in triggers
    ]
    for t in triggers:
        context.log.info(f"retraining: {t.kind} on {t.day}: {t.reason}")
    if not requests:
        return dg.SensorResult(
            skip_reason=f"no trigger (evaluated through {new_state.last_day}, "
            f"drift streak {new_state.streak})",
            cursor=new_state.to_json(),
        )
    return dg.SensorResult(run_requests=requests, cursor=new_state.to_json())


@dg.sensor(
    job=retrain_job,
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Enough new labelled days since the champion's training window → retrain.",
)
def retrain_on_new_data_sensor(context: dg.SensorEvaluationContext, settings: Settings):
    """Counts label days landed since the last retraining this sensor requested (cursor)."""
    cursor = json.loads(context.cursor) if context.cursor else {}
    days = landed_days(settings.landing_dir)
    label_days = [
        d for d in days if (settings.landing_dir / d.isoformat() / "churn_labels.csv").exists()
    ]
    if not label_days:
        return dg.SkipReason("no labels landed yet")
    since = cursor.get("since")
    if since is None:  # first evaluation: start counting from now on
        return dg.SensorResult(
            skip_reason="baseline set", cursor=json.dumps({"since": label_days[-1].isoformat()})
        )
    fresh = [d for d in label_days if d.isoformat() > since]
    if len(fresh) < settings.retrain_new_label_days:
        return dg.SkipReason(
            f"{len(fresh)} new label days (need {settings.retrain_new_label_days})"
        )
    newest = fresh[-1].isoformat()
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(run_key=f"retrain:new_data:{newest}", tags={TRIGGER_TAG: "new_data"})
        ],
        cursor=json.dumps({"since": newest}),
    )


sensors = [landing_zone_sensor, retrain_on_drift_sensor, retrain_on_new_data_sensor]
