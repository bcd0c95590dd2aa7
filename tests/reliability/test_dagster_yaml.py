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
