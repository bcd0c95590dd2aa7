"""Schedules: the daily pipeline as a time-based fallback to the landing sensor, and a
weekly retraining."""

import dagster as dg

from mlops_assets.defs.automation.jobs import daily_job, retrain_job

daily_schedule = dg.build_schedule_from_partitioned_job(
    daily_job,
    hour_of_day=2,
    default_status=dg.DefaultScheduleStatus.STOPPED,
    tags={"mlops/trigger": "schedule"},
)

weekly_retrain_schedule = dg.ScheduleDefinition(
    name="weekly_retrain_schedule",
    job=retrain_job,
    cron_schedule="0 4 * * 1",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    tags={"mlops/trigger": "schedule"},
    description="Retrain every Monday 04:00 on the newest labels (gate decides promotion).",
)

schedules = [daily_schedule, weekly_retrain_schedule]
