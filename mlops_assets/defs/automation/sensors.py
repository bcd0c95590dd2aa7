"""The landing-zone sensor: a new day folder starts the shared data layer's daily run.

What happens next is per model: each model's `<model>_scoring_sensor` (built by the
model-pipeline component) sees the day's data materialized and runs that model's scoring, and
its delayed-label performance for the day whose labels just arrived. The sensor is idempotent
(`run_key`), keeps a cursor and survives restarts; it only lists folders.
"""

import datetime as dt

import dagster as dg

from mlops_assets.core.ingest import landed_days
from mlops_assets.defs.automation.jobs import daily_job
from mlops_assets.settings import Settings

TRIGGER_TAG = "mlops/trigger"


@dg.sensor(
    job=daily_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="A new day folder in the landing zone → that day's partition of daily_job "
    "(each model's scoring sensor follows up once the day's data is in).",
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
    requests = [
        dg.RunRequest(
            run_key=f"landing:{day.isoformat()}",
            partition_key=day.isoformat(),
            tags={TRIGGER_TAG: "new_data"},
        )
        for day in new_days
    ]
    return dg.SensorResult(run_requests=requests, cursor=new_days[-1].isoformat())


sensors = [landing_zone_sensor]
