"""The generated dagster.yaml turns Dagster's run monitoring on (so the daemon frees the pool
slots of dead runs), existing data homes get it when their file is exactly what an earlier
version wrote, and a hand-edited file is kept, with a warning when it leaves slots held."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from mlops_assets.runner import (
    DAGSTER_YAML,
    PREVIOUS_DAGSTER_YAMLS,
    ensure_dagster_home,
    monitoring_problems,
)


@pytest.fixture
def dagster_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "dagster"
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


def test_the_generated_instance_monitors_runs_and_frees_slots(dagster_home: Path) -> None:
    lines: list[str] = []
    ensure_dagster_home(dagster_home.parent, progress=lines.append)
    assert (dagster_home / "dagster.yaml").read_text() == DAGSTER_YAML and lines == []
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        assert instance.run_monitoring_enabled
        assert instance.run_monitoring_settings["free_slots_after_run_end_seconds"] == 60
        assert instance.run_monitoring_start_timeout_seconds == 180
        assert instance.run_monitoring_poll_interval_seconds == 30
        assert instance.run_monitoring_max_runtime_seconds == 6 * 3600
        assert instance.event_log_storage.get_pool_config().default_pool_limit == 1
    assert monitoring_problems(DAGSTER_YAML) == []


def test_a_file_an_earlier_version_wrote_is_upgraded(dagster_home: Path) -> None:
    dagster_home.mkdir()
    config = dagster_home / "dagster.yaml"
    config.write_text(PREVIOUS_DAGSTER_YAMLS[0])
    lines: list[str] = []
    ensure_dagster_home(dagster_home.parent, progress=lines.append)
    assert config.read_text() == DAGSTER_YAML
    assert len(lines) == 1 and "upgraded" in lines[0] and "warning" not in lines[0]


HAND_EDITED = """\
# mine: SQLite in this folder, a bigger pool
concurrency:
  pools:
    default_limit: 2
"""


@pytest.mark.parametrize(
    ("monitoring", "problem"),
    [
        ("", "run_monitoring is off"),
        ("run_monitoring:\n  enabled: false\n", "run_monitoring is off"),
        ("run_monitoring:\n  enabled: true\n", "free_slots_after_run_end_seconds is not set"),
    ],
)
def test_a_hand_edited_file_is_kept_with_a_warning_when_slots_stay_held(
    dagster_home: Path, monitoring: str, problem: str
) -> None:
    dagster_home.mkdir()
    config = dagster_home / "dagster.yaml"
    config.write_text(HAND_EDITED + monitoring)
    lines: list[str] = []
    ensure_dagster_home(dagster_home.parent, progress=lines.append)
    assert config.read_text() == HAND_EDITED + monitoring
    assert len(lines) == 1 and lines[0].startswith(f"warning: {config} (edited by hand")
    assert problem in lines[0]


def test_a_hand_edited_file_with_monitoring_on_is_kept_silently(dagster_home: Path) -> None:
    dagster_home.mkdir()
    text = DAGSTER_YAML.replace("poll_interval_seconds: 30", "poll_interval_seconds: 5")
    (dagster_home / "dagster.yaml").write_text(text)
    lines: list[str] = []
    ensure_dagster_home(dagster_home.parent, progress=lines.append)
    assert (dagster_home / "dagster.yaml").read_text() == text and lines == []


@dg.asset(
    partitions_def=dg.DailyPartitionsDefinition(start_date="2026-01-01", end_date="2026-01-08")
)
def tiny(context) -> None:  # unannotated: a string annotation is refused here
    context.log.info(f"day {context.partition_key}")


def _materialize_days(instance: dg.DagsterInstance, days: list[str]) -> str:
    job = dg.Definitions(assets=[tiny]).resolve_implicit_global_asset_job_def()
    results = [job.execute_in_process(instance=instance, partition_key=day) for day in days]
    assert all(r.success for r in results)
    return results[-1].run_id


def test_the_pooled_event_log_keeps_the_history_an_earlier_version_wrote(
    dagster_home: Path,
) -> None:
    from mlops_assets.instance_storage import PooledSqliteEventLogStorage

    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").write_text(PREVIOUS_DAGSTER_YAMLS[0])  # stock event log
    with dg.DagsterInstance.from_config(str(dagster_home)) as before:
        assert type(before.event_log_storage).__name__ == "SqliteEventLogStorage"
        old_run = _materialize_days(before, ["2026-01-01", "2026-01-02"])
    ensure_dagster_home(dagster_home.parent)
    with dg.DagsterInstance.from_config(str(dagster_home)) as after:
        storage = after.event_log_storage
        assert isinstance(storage, PooledSqliteEventLogStorage)
        assert Path(storage._base_dir) == dagster_home / "history" / "runs"  # the same files
        assert any("day 2026-01-02" in e.user_message for e in after.all_logs(old_run))
        # more runs than engines kept open: older shards are closed and still readable
        runs = [_materialize_days(after, [f"2026-01-0{d}"]) for d in range(3, 8)]
        assert len(storage._engines) <= 5
        for run_id in [old_run, *runs]:
            assert after.get_run_by_id(run_id).is_success
            assert any(
                e.dagster_event and e.dagster_event.is_step_success for e in after.all_logs(run_id)
            )
        keys = after.get_materialized_partitions(dg.AssetKey("tiny"))
    assert keys == {f"2026-01-0{d}" for d in range(1, 8)}
    with dg.DagsterInstance.from_config(str(dagster_home)) as reopened:  # another process's view
        assert reopened.get_materialized_partitions(dg.AssetKey("tiny")) == keys
