"""The daily backup job: a real Dagster run that snapshots a data home into MLOPS_BACKUP_DIR,
keeps the newest snapshots only, and fails naming the variable when it is unset; its schedule
ships stopped."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import dagster as dg
import pytest

from mlops_assets.core.backup import verify_snapshot
from mlops_assets.defs.operations.backup import backup_job, backup_schedule, prune
from mlops_assets.settings import Settings


def _defs(home: Path) -> dg.Definitions:
    return dg.Definitions(jobs=[backup_job], resources={"settings": Settings(home=str(home))})


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    (home / "mlflow").mkdir(parents=True)
    con = sqlite3.connect(home / "mlflow" / "mlflow.db")
    con.execute("CREATE TABLE t (x INT)")
    con.commit()
    con.close()
    return home


def test_the_job_writes_a_verified_snapshot_and_keeps_the_newest(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backups = tmp_path / "backups"
    backups.mkdir()
    for old in ("20260101T000000Z", "20260102T000000Z"):  # two earlier snapshots of ours
        (backups / old).mkdir()
        (backups / old / "manifest.json").write_text("{}")
    (backups / "keep-me").mkdir()  # not ours: never touched
    monkeypatch.setenv("MLOPS_BACKUP_DIR", str(backups))
    result = (
        _defs(home)
        .resolve_job_def("backup_job")
        .execute_in_process(
            instance=dg.DagsterInstance.ephemeral(),
            run_config={"ops": {"backup_data_home": {"config": {"keep": 2}}}},
        )
    )
    snapshot = Path(result.output_for_node("backup_data_home"))
    assert snapshot.parent == backups
    assert [f.path for f in verify_snapshot(snapshot).files if f.path.startswith("home/")] == [
        "home/mlflow/mlflow.db"
    ]
    assert sorted(p.name for p in backups.iterdir()) == sorted(
        ["20260102T000000Z", snapshot.name, "keep-me"]
    )


def test_the_job_fails_naming_the_unset_variable(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLOPS_BACKUP_DIR", raising=False)
    result = (
        _defs(home)
        .resolve_job_def("backup_job")
        .execute_in_process(instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    )
    assert not result.success
    failure = result.failure_data_for_node("backup_data_home")
    assert "MLOPS_BACKUP_DIR is not set" in failure.error.message


def test_prune_with_nothing_to_remove(tmp_path: Path) -> None:
    assert prune(tmp_path, keep=3) == []


def test_the_schedule_is_daily_and_ships_stopped() -> None:
    assert backup_schedule.cron_schedule == "30 3 * * *"
    assert backup_schedule.default_status == dg.DefaultScheduleStatus.STOPPED
    assert backup_schedule.job_name == "backup_job"
