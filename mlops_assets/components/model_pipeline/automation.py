"""The model's jobs, sensors and schedules, all named `<model>_…`.

* `<model>_scoring_sensor`: when the model's dataset has a new day (its last daily asset,
  `<dataset>/online_features`, materialized for that partition — by the dataset's landing
  sensor and daily job, or a backfill), run `<model>_scoring_job` for that day, and
  `<model>_performance_job` for the day whose labels that day brought (label delay from the
  YAML). Run keys
  `<model>:scoring:<day>` / `<model>:performance:<day>`; the cursor is the newest data day seen.
* `<model>_retrain_on_drift_sensor`: the pure retraining decision (`core.monitoring`) over the
  model's day summaries → `<model>_retrain_job`, run key `<model>:retrain:<kind>:<day>`.
* `<model>_retrain_on_new_data_sensor`: enough newly labelled days → `<model>_retrain_job`.
* `<model>_retrain_schedule` (the YAML's cron) and `<model>_scoring_schedule` (daily fallback).

Sensors only read (instance partitions, small JSON files) and decide through `core`; they never
do the heavy work themselves.
"""

import datetime as dt
import json

import dagster as dg

from mlops_assets.components.landing_dataset import DatasetSpec
from mlops_assets.components.model_pipeline import common
from mlops_assets.components.model_pipeline.spec import ModelSpec
from mlops_assets.core import monitoring
from mlops_assets.settings import Settings


def build_jobs(spec: ModelSpec) -> dict:
    keys = spec.keys
    training = [
        keys.training_set,
        *(keys.candidate(c.kind) for c in spec.candidates),
        keys.challenger,
        keys.champion,
        keys.onnx,
        keys.retraining_history,
    ]
    return {
        "retrain": dg.define_asset_job(
            keys.name("retrain_job"),
            selection=dg.AssetSelection.assets(*training),
            tags=common.tags(spec, "retrain"),
            description=f"`{spec.name}`: training set → candidates → approval gate → champion → "
            "ONNX → history.",
        ),
        "scoring": dg.define_asset_job(
            keys.name("scoring_job"),
            selection=dg.AssetSelection.assets(keys.daily_scores, keys.drift_report),
            tags=common.tags(spec, common.SCORING),
            description=f"`{spec.name}`: one day's scores by the champion, then its drift report.",
        ),
        "performance": dg.define_asset_job(
            keys.name("performance_job"),
            selection=dg.AssetSelection.assets(keys.model_performance),
            tags=common.tags(spec, common.PERFORMANCE),
            description=f"`{spec.name}`: performance of a scored day, once its delayed labels "
            f"arrived ({spec.labels.delay_days} days later).",
        ),
    }


def _partition_days(context: dg.SensorEvaluationContext, key: dg.AssetKey) -> list[dt.date]:
    return sorted(
        dt.date.fromisoformat(k) for k in context.instance.get_materialized_partitions(key)
    )


def build_scoring_sensor(spec: ModelSpec, dataset: DatasetSpec, jobs: dict) -> dg.SensorDefinition:
    keys = spec.keys
    data_ready = dataset.keys.online_features
    start = spec.partitions.start_date
    delay = spec.labels.delay_days
    scoring, performance = jobs["scoring"], jobs["performance"]

    @dg.sensor(
        name=keys.name("scoring_sensor"),
        jobs=[scoring, performance],
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description=f"A new data day (`{data_ready.to_user_string()}` materialized) "
        f"→ `{scoring.name}` for that day, and `{performance.name}` for the day whose labels it "
        f"brings ({delay} days back).",
    )
    def scoring_sensor(context: dg.SensorEvaluationContext):
        last = dt.date.fromisoformat(context.cursor) if context.cursor else None
        ready = [d for d in _partition_days(context, data_ready) if d >= start]
        new_days = [d for d in ready if last is None or d > last]
        if last is None:  # first tick: days already scored (e.g. by a backfill) are not new
            scored = set(_partition_days(context, keys.daily_scores))
            new_days = [d for d in new_days if d not in scored]
        if not new_days:
            cursor = context.cursor or (ready[-1].isoformat() if ready else None)
            return dg.SensorResult(
                skip_reason=f"no new data day after {cursor or 'the start'}", cursor=cursor
            )
        requests = []
        for day in new_days:
            requests.append(
                dg.RunRequest(
                    run_key=f"{spec.name}:scoring:{day}",
                    job_name=scoring.name,
                    partition_key=day.isoformat(),
                    tags={common.TRIGGER_TAG: "new_data"},
                )
            )
            labelled = day - dt.timedelta(days=delay)
            if labelled >= max(start, ready[0]):
                requests.append(
                    dg.RunRequest(
                        run_key=f"{spec.name}:performance:{labelled}",
                        job_name=performance.name,
                        partition_key=labelled.isoformat(),
                    )
                )
        return dg.SensorResult(run_requests=requests, cursor=new_days[-1].isoformat())

    return scoring_sensor


def build_retrain_on_drift_sensor(spec: ModelSpec, jobs: dict) -> dg.SensorDefinition:
    from mlops_assets.components.model_pipeline.monitoring import summary_store

    retrain = jobs["retrain"]
    policy = monitoring.RetrainPolicy(
        min_drifted_features=spec.retraining.min_drifted_features,
        consecutive_days=spec.retraining.consecutive_days,
        performance_floor=spec.performance.auc_pr_floor,
        cooldown_days=spec.retraining.cooldown_days,
    )

    @dg.sensor(
        name=spec.keys.name("retrain_on_drift_sensor"),
        job=retrain,
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description=f"`{spec.name}`: ≥ {policy.min_drifted_features} drifted inputs for ≥ "
        f"{policy.consecutive_days} days, or AUC-PR below {policy.performance_floor} → one "
        f"retraining per episode, {policy.cooldown_days}-day cooldown.",
    )
    def retrain_on_drift_sensor(context: dg.SensorEvaluationContext, settings: Settings):
        state = monitoring.RetrainState.from_json(context.cursor)
        summaries = summary_store(settings, spec).read()
        triggers, new_state = monitoring.evaluate_retraining(summaries, state, policy)
        requests = [
            dg.RunRequest(
                run_key=f"{spec.name}:{t.run_key}",
                tags={
                    common.TRIGGER_TAG: t.kind,
                    "mlops/trigger_day": t.day,
                    "mlops/reason": t.reason[:200],
                },
            )
            for t in triggers
        ]
        for t in triggers:
            context.log.info(f"{spec.name} retraining: {t.kind} on {t.day}: {t.reason}")
        if not requests:
            return dg.SensorResult(
                skip_reason=f"no trigger (evaluated through {new_state.last_day}, "
                f"drift streak {new_state.streak})",
                cursor=new_state.to_json(),
            )
        return dg.SensorResult(run_requests=requests, cursor=new_state.to_json())

    return retrain_on_drift_sensor


def build_retrain_on_new_data_sensor(spec: ModelSpec, jobs: dict) -> dg.SensorDefinition:
    retrain = jobs["retrain"]
    labels_key = dg.AssetKey(spec.labels.dbt_model)
    need = spec.retraining.new_label_days
    delay = spec.labels.delay_days

    @dg.sensor(
        name=spec.keys.name("retrain_on_new_data_sensor"),
        job=retrain,
        minimum_interval_seconds=300,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description=f"`{spec.name}`: {need} newly labelled days since the last retraining this "
        f"sensor asked for → retrain.",
    )
    def retrain_on_new_data_sensor(context: dg.SensorEvaluationContext):
        """Counts days whose labels arrived (the label model's partitions at least `delay`
        days after the model's first day) since its cursor."""
        cursor = json.loads(context.cursor) if context.cursor else {}
        days = _partition_days(context, labels_key)
        first = max(spec.partitions.start_date, days[0]) if days else None
        label_days = [d for d in days if first and d - dt.timedelta(days=delay) >= first]
        if not label_days:
            return dg.SkipReason("no labels landed yet")
        since = cursor.get("since")
        if since is None:  # first evaluation: start counting from now on
            return dg.SensorResult(
                skip_reason="baseline set",
                cursor=json.dumps({"since": label_days[-1].isoformat()}),
            )
        fresh = [d for d in label_days if d.isoformat() > since]
        if len(fresh) < need:
            return dg.SkipReason(f"{len(fresh)} new label days (need {need})")
        newest = fresh[-1].isoformat()
        return dg.SensorResult(
            run_requests=[
                dg.RunRequest(
                    run_key=f"{spec.name}:retrain:new_data:{newest}",
                    tags={common.TRIGGER_TAG: "new_data"},
                )
            ],
            cursor=json.dumps({"since": newest}),
        )

    return retrain_on_new_data_sensor


def build_schedules(spec: ModelSpec, jobs: dict) -> list[dg.ScheduleDefinition]:
    keys = spec.keys
    return [
        dg.ScheduleDefinition(
            name=keys.name("retrain_schedule"),
            job=jobs["retrain"],
            cron_schedule=spec.schedules.retrain_cron,
            default_status=dg.DefaultScheduleStatus.STOPPED,
            tags={common.TRIGGER_TAG: "schedule"},
            description=f"Retrain `{spec.name}` on `{spec.schedules.retrain_cron}` on the newest "
            "labels (the gate decides promotion).",
        ),
        dg.build_schedule_from_partitioned_job(
            jobs["scoring"],
            name=keys.name("scoring_schedule"),
            hour_of_day=spec.schedules.scoring_hour,
            default_status=dg.DefaultScheduleStatus.STOPPED,
            tags={common.TRIGGER_TAG: "schedule"},
            description=f"Score yesterday with `{spec.name}`'s champion daily (a fallback to "
            "the scoring sensor).",
        ),
    ]
