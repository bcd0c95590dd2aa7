"""The daily data pipeline as a time-based fallback to the landing sensor. Each model's
retraining and scoring schedules are built by the model-pipeline component."""

import dagster as dg

from mlops_assets.defs.automation.jobs import daily_job

daily_schedule = dg.build_schedule_from_partitioned_job(
    daily_job,
    hour_of_day=2,
    default_status=dg.DefaultScheduleStatus.STOPPED,
    tags={"mlops/trigger": "schedule"},
)

schedules = [daily_schedule]
