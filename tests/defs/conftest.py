"""A small simulated world in a temp data home, and helpers to materialize the real graph."""

import datetime as dt
from pathlib import Path

import dagster as dg
import pytest

from mlops_assets.datasets.simulator import SimulationConfig, simulate
from mlops_assets.settings import Settings

START = dt.date(2026, 1, 1)


@pytest.fixture
def data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """MLOPS_HOME in tmp_path (dbt's profile reads it too) with 8 simulated days."""
    home = tmp_path / "home"
    monkeypatch.setenv("MLOPS_HOME", str(home))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    (tmp_path / "dagster").mkdir()
    settings = Settings.from_env()
    simulate(
        SimulationConfig(start_date=START, days=8, customers=1000, seed=3),
        settings.landing_dir,
    )
    return settings


@pytest.fixture
def defs(data_home: Settings) -> dg.Definitions:
    from mlops_assets.definitions import defs as load

    return load()


def day(i: int) -> str:
    return (START + dt.timedelta(days=i)).isoformat()


def materialize(
    defs: dg.Definitions,
    selection: str,
    *,
    start: str,
    end: str | None = None,
    instance: dg.DagsterInstance | None = None,
    raise_on_error: bool = True,
) -> dg.ExecuteInProcessResult:
    """Run the selection for one partition or an inclusive range, as one run (like a
    single-run backfill) — the runner's own code path."""
    from mlops_assets.runner import run_selection

    return run_selection(
        defs,
        selection,
        instance=instance or dg.DagsterInstance.ephemeral(),
        partition_range=(start, end or start),
        raise_on_error=raise_on_error,
    )
