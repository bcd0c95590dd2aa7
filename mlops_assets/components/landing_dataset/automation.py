"""A dataset's daily job, landing sensor and daily schedule, all named `<dataset>_…`.

* `<dataset>_daily_job`: one landed day through the dataset's data layer (ingest → dbt →
  online features).
* `<dataset>_landing_sensor`: a day the dataset has landed (its required files present; the
  landing zone is shared, another dataset's files do not count) → that day's partition of the
  daily job, run key `<dataset>:landing:<day>`. The cursor is the newest day requested; its
  first tick skips days already ingested (e.g. by a backfill). It only lists folders — and in
  `prod` first copies the dataset's new files from the S3 landing prefix (`LandingZone`).
* `<dataset>_daily_job_schedule`: the daily job for yesterday (a fallback to the sensor).

What happens next is per model: each model reading this dataset follows its online features.
"""

import datetime as dt

import dagster as dg

from mlops_assets.components.landing_dataset.spec import DatasetSpec
from mlops_assets.resources.landing import LandingZone
from mlops_assets.settings import Settings

TRIGGER_TAG = "mlops/trigger"


def build_daily_job(spec: DatasetSpec, assets: list[dg.AssetsDefinition]):
    return dg.define_asset_job(
        spec.keys.name("daily_job"),
        selection=dg.AssetSelection.assets(*assets),
        tags=spec.keys.tags(),
        description=f"One landed day of `{spec.name}` through its data layer: ingest → dbt → "
        "online features. The scoring sensor of each model on this dataset follows it.",
    )


def build_landing_sensor(spec: DatasetSpec, job) -> dg.SensorDefinition:
    keys = spec.keys
    raw_keys = [keys.raw(s.name) for s in spec.contract.sources if s.required]
    raw_keys = raw_keys or [keys.raw(s.name) for s in spec.contract.sources]

    @dg.sensor(
        name=keys.name("landing_sensor"),
        job=job,
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description=f"A day `{spec.name}` has landed (its required files present) → that day's "
        f"partition of `{job.name}` (run key `{spec.name}:landing:<day>`).",
    )
    def landing_sensor(
        context: dg.SensorEvaluationContext, settings: Settings, landing: LandingZone
    ):
        synced = landing.sync(settings.landing_dir, spec.contract.file_names)
        if synced.copied:
            context.log.info(f"copied from {landing.source}: {', '.join(synced.copied)}")
        for key, why in synced.refused:
            context.log.warning(f"{spec.name}: not copying {key} from S3: {why}")
        last = dt.date.fromisoformat(context.cursor) if context.cursor else None
        all_days = spec.landed_days(settings.landing_dir)
        new_days = [d for d in all_days if last is None or d > last]
        if last is None:  # first tick: days already ingested (e.g. by a backfill) are not new
            done = set.intersection(
                *(set(context.instance.get_materialized_partitions(k)) for k in raw_keys)
            )
            new_days = [d for d in new_days if d.isoformat() not in done]
        if not new_days:
            cursor = context.cursor or (all_days[-1].isoformat() if all_days else None)
            refused = f"; {len(synced.refused)} S3 key(s) refused (see the log)"
            return dg.SensorResult(
                skip_reason=f"no new {spec.name} day after {cursor or 'the start'}"
                + (refused if synced.refused else ""),
                cursor=cursor,
            )
        requests = [
            dg.RunRequest(
                run_key=f"{spec.name}:landing:{day.isoformat()}",
                partition_key=day.isoformat(),
                tags={TRIGGER_TAG: "new_data"},
            )
            for day in new_days
        ]
        return dg.SensorResult(run_requests=requests, cursor=new_days[-1].isoformat())

    return landing_sensor


def build_daily_schedule(spec: DatasetSpec, job) -> dg.ScheduleDefinition:
    return dg.build_schedule_from_partitioned_job(
        job,
        hour_of_day=spec.schedules.daily_hour,
        default_status=dg.DefaultScheduleStatus.STOPPED,
        tags={TRIGGER_TAG: "schedule"},
        description=f"`{job.name}` at {spec.schedules.daily_hour:02d}:00 for yesterday (a "
        f"fallback to `{spec.keys.name('landing_sensor')}`).",
    )
