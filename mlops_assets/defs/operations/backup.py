"""The daily backup: `backup_job` snapshots the data home into `MLOPS_BACKUP_DIR/<timestamp>`
(the same snapshot as `mlops-assets backup`) and keeps the newest `keep` snapshots;
`backup_job_schedule` runs it every day (off by default: turn it on in the UI once
`MLOPS_BACKUP_DIR` points at storage off this machine). With a daily backup the RPO is at most
one daily partition.

The op joins the warehouse pool, so it never waits on DuckDB's writer lock: runs writing the
warehouse and the backup take turns."""

import datetime as dt
import os
import shutil
from pathlib import Path

import dagster as dg

from mlops_assets.resources.warehouse import WAREHOUSE_POOL
from mlops_assets.settings import Settings

BACKUP_DIR_ENV = "MLOPS_BACKUP_DIR"
STAMP = "%Y%m%dT%H%M%SZ"


class BackupConfig(dg.Config):
    keep: int = 7  # snapshots kept in MLOPS_BACKUP_DIR (older ones of ours are removed)


@dg.op(pool=WAREHOUSE_POOL)
def backup_data_home(
    context: dg.OpExecutionContext, config: BackupConfig, settings: Settings
) -> dg.Output[str]:
    """Snapshot the data home (`mlops-assets backup`) and prune old snapshots."""
    from mlops_assets.backup_cli import PROJECT_ROOT
    from mlops_assets.core.backup import take_snapshot
    from mlops_assets.core.backup.snapshot import project_config_files
    from mlops_assets.resources.model_registry import code_version

    base = os.environ.get(BACKUP_DIR_ENV, "").strip()
    if not base:
        raise dg.Failure(f"{BACKUP_DIR_ENV} is not set: where should the daily snapshot go?")
    destination = Path(base) / dt.datetime.now(dt.UTC).strftime(STAMP)
    report = take_snapshot(
        settings.home_path,
        destination,
        code_version=code_version(),
        config_files=project_config_files(PROJECT_ROOT),
        progress=context.log.debug,
    )
    removed = prune(Path(base), keep=config.keep)
    return dg.Output(
        str(report.snapshot),
        metadata={
            "snapshot": dg.MetadataValue.path(str(report.snapshot)),
            "files": len(report.manifest.files),
            "bytes": report.total_bytes,
            "seconds": round(report.seconds, 2),
            "pruned": dg.MetadataValue.json([p.name for p in removed]),
        },
    )


def prune(base: Path, *, keep: int) -> list[Path]:
    """Remove all but the newest `keep` snapshots this job wrote (named by UTC timestamp, with
    a manifest); anything else in `base` is left alone."""
    ours = []
    for path in base.iterdir():
        try:
            dt.datetime.strptime(path.name, STAMP)
        except ValueError:
            continue
        if path.is_dir() and (path / "manifest.json").is_file():
            ours.append(path)
    ours.sort(key=lambda p: p.name)
    doomed = ours[: max(len(ours) - keep, 0)]
    for path in doomed:
        shutil.rmtree(path)
    return doomed


@dg.job(
    name="backup_job",
    description="Snapshot the data home into MLOPS_BACKUP_DIR (`mlops-assets backup`), keeping "
    "the newest ones.",
    tags={"mlops/trigger": "backup"},
)
def backup_job() -> None:
    backup_data_home()


backup_schedule = dg.ScheduleDefinition(
    name="backup_job_schedule",
    job=backup_job,
    cron_schedule="30 3 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="The daily backup at 03:30 UTC (after the daily runs): RPO ≤ one day.",
)


def build_backup_defs() -> dg.Definitions:
    return dg.Definitions(jobs=[backup_job], schedules=[backup_schedule])
