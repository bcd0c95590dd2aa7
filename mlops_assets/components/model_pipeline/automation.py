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
        "episode": dg.define_asset_job(
            keys.name("retraining_episode_job"),
            selection=dg.AssetSelection.checks(
                dg.AssetCheckKey(keys.asset("retraining_episodes"), EPISODE_CHECK)
            ),
            tags=common.tags(spec, "episode"),
            description=f"`{spec.name}`: record the retraining episode's state (open, "
            f"escalated, closed) as the `{EPISODE_CHECK}` check of `retraining_episodes`.",
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


EPISODE_CHECK = "retraining_episode"
EPISODE_STATE_TAG = "mlops/episode_state"  # open | escalated | closed


def episodes_key(spec: ModelSpec) -> dg.AssetKey:
    return spec.keys.asset("retraining_episodes")


def build_episodes_spec(spec: ModelSpec) -> dg.AssetSpec:
    """Where the episode check lives: an observed-only asset next to the champion, so no
    selection of the model's assets runs the check by accident."""
    return dg.AssetSpec(
        key=episodes_key(spec),
        group_name=spec.keys.group("monitoring"),
        owners=spec.owners,
        kinds={"dagster"},
        tags={common.MODEL_TAG: spec.name},  # no stage: no phase or job selects it
        deps=[spec.keys.champion],
        description=f"`{spec.name}`'s retraining episodes as the drift sensor sees them; its "
        f"`{EPISODE_CHECK}` check is their state (open, escalated, closed).",
    )


def build_episode_check(spec: ModelSpec) -> dg.AssetChecksDefinition:
    """The retraining episode's state, as the drift sensor saw it: open (warn), escalated
    (error: the champion is below its floor and retraining could not fix it), closed
    (passed). It reads the run's tags, which the sensor wrote: a run without them fails."""

    @dg.asset_check(
        asset=episodes_key(spec),
        name=EPISODE_CHECK,
        description=f"`{spec.name}`'s retraining episode: open (warn), escalated to a person "
        "(error: the champion is below its floor and retraining could not fix it), closed.",
    )
    def retraining_episode(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        tags = context.run.tags
        state = tags.get(EPISODE_STATE_TAG)
        if state not in ("open", "escalated", "closed"):
            raise dg.Failure(
                f"{EPISODE_STATE_TAG} tag missing: `{spec.name}_retrain_on_drift_sensor` "
                "runs this check when an episode opens, escalates or closes"
            )
        message = tags.get(common.ESCALATION_TAG) or tags.get("mlops/reason", "")
        metadata = {
            "episode": tags.get(common.EPISODE_TAG, ""),
            "onset_day": tags.get(common.ONSET_TAG, ""),
            "state": state,
            "attempts": dg.MetadataValue.json(json.loads(tags.get("mlops/attempts", "[]"))),
        }
        if state == "escalated":
            context.log.error(f"{spec.name}: {message}")
        return dg.AssetCheckResult(
            passed=state == "closed",
            severity=dg.AssetCheckSeverity.ERROR
            if state == "escalated"
            else dg.AssetCheckSeverity.WARN,
            description=message,
            metadata=metadata,
        )

    return retraining_episode


def _outcome(context: dg.SensorEvaluationContext, run_key: str) -> str:
    """What the retraining run asked under `run_key` did: promoted (success), failed, or
    pending (not launched yet, queued, running)."""
    from mlops_assets.core import retraining

    records = context.instance.get_run_records(
        dg.RunsFilter(tags={"dagster/run_key": run_key}), limit=1
    )
    if not records:
        return retraining.PENDING
    status = records[0].dagster_run.status
    if status == dg.DagsterRunStatus.SUCCESS:
        return retraining.PROMOTED
    if status in (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED):
        return retraining.FAILED
    return retraining.PENDING


def build_retrain_on_drift_sensor(spec: ModelSpec, jobs: dict) -> dg.SensorDefinition:
    from mlops_assets.components.model_pipeline.monitoring import summary_store
    from mlops_assets.core import retraining

    retrain, episode_job = jobs["retrain"], jobs["episode"]
    training_set_op = spec.keys.training_set.to_python_identifier()
    r = spec.retraining
    policy = retraining.RetrainPolicy(
        min_drifted_features=r.min_drifted_features,
        consecutive_days=r.consecutive_days,
        performance_floor=spec.performance.auc_pr_floor,
        cooldown_days=r.cooldown_days,
        label_delay_days=spec.labels.delay_days,
        retry_label_days=r.retry_label_days,
        backoff_factor=r.backoff_factor,
        max_retry_wait_days=r.max_retry_wait_days,
        max_attempts=r.max_attempts,
        recovery_days=r.recovery_days,
    )

    def episode_request(ep, state: str, day: str, message: str) -> dg.RunRequest:
        attempts = [{"day": a.day, "run_key": a.run_key, "outcome": a.outcome} for a in ep.attempts]
        tags = {
            EPISODE_STATE_TAG: state,
            common.EPISODE_TAG: f"{ep.kind}:{ep.opened}",
            common.ONSET_TAG: ep.onset,
            common.TRIGGER_DAY_TAG: day,
            "mlops/attempts": json.dumps(attempts)[:2000],
            "mlops/reason": message[:1000],
        }
        if state == "escalated":
            tags[common.ESCALATION_TAG] = message[:2000]
        return dg.RunRequest(
            run_key=f"{spec.name}:episode:{state}:{ep.kind}:{ep.opened}",
            job_name=episode_job.name,
            tags=tags,
        )

    @dg.sensor(
        name=spec.keys.name("retrain_on_drift_sensor"),
        jobs=[retrain, episode_job],
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description=f"`{spec.name}`: ≥ {policy.min_drifted_features} drifted inputs for ≥ "
        f"{policy.consecutive_days} calendar days, or a labelled day's AUC-PR below "
        f"{policy.performance_floor} (dated by its label arrival) → an episode and one "
        f"retraining; a failed one is retried after {policy.retry_label_days} new labelled "
        f"days (×{policy.backoff_factor:g}, cap {policy.max_retry_wait_days}); after "
        f"{policy.max_attempts} failures the episode escalates (check `{EPISODE_CHECK}`).",
    )
    def retrain_on_drift_sensor(context: dg.SensorEvaluationContext, settings: Settings):
        state = retraining.RetrainState.from_json(context.cursor)
        summaries = summary_store(settings, spec).read()
        pending = state.episode.attempts if state.episode else []
        outcomes = {
            a.run_key: _outcome(context, f"{spec.name}:{a.run_key}")
            for a in pending
            if a.outcome == retraining.PENDING
        }
        decision = retraining.decide(summaries, state, policy, outcomes)
        requests = []
        for t in decision.triggers:
            context.log.info(f"{spec.name} retraining: {t.kind} on {t.day}: {t.reason}")
            requests.append(
                dg.RunRequest(
                    run_key=f"{spec.name}:{t.run_key}",
                    job_name=retrain.name,
                    # the attempt learns from the labels known on its evidence day: the same
                    # run key always means the same data, however late the run starts
                    run_config={
                        "ops": {training_set_op: {"config": {"label_arrived_until": t.day}}}
                    },
                    tags={
                        common.TRIGGER_TAG: t.kind,
                        common.TRIGGER_DAY_TAG: t.day,
                        common.ONSET_TAG: t.onset,
                        common.ATTEMPT_TAG: str(t.attempt),
                        common.EPISODE_TAG: t.episode,
                        "mlops/reason": t.reason[:200],
                    },
                )
            )
        for ep in decision.opened:
            requests.append(episode_request(ep, "open", ep.opened, ep.reason))
        for esc in decision.escalations:
            context.log.error(f"{spec.name}: {esc.message}")
            requests.append(episode_request(esc.episode, "escalated", esc.day, esc.message))
        for closed in decision.closed:
            ep = retraining.Episode.from_dict(
                {k: v for k, v in closed.items() if k not in ("closed", "closed_because")}
            )
            why = f"closed on {closed['closed']}: {closed['closed_because']}"
            requests.append(episode_request(ep, "closed", closed["closed"], why))
        new_state = decision.state
        if not requests:
            ep = new_state.episode
            status = (
                "no episode"
                if ep is None
                else f"{ep.kind} episode since {ep.opened}: {len(ep.attempts)} attempt(s), "
                f"{ep.failed} failed" + (", escalated" if ep.escalated else "")
            )
            return dg.SensorResult(
                skip_reason=f"no trigger (evaluated through {new_state.last_day}, "
                f"drift streak {new_state.streak}; {status})",
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
