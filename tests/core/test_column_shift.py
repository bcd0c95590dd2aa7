"""core.column_shift on the simulator's raw files: calm worlds raise no flag, a scale change
of a raw column (a unit or currency switch upstream) and a change of a category's share are
flagged on their first day."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from mlops_assets.core import ingest
from mlops_assets.core.column_shift import ShiftPolicy, judged_columns, shifts
from mlops_assets.datasets.simulator import (
    SUPPORT_TICKETS,
    TRANSACTIONS,
    SimulationConfig,
    simulate,
)

START = dt.date(2026, 1, 1)
DAYS = 42
CHANGE = 35  # the first changed day
POLICY = ShiftPolicy()


def world(tmp: Path, seed: int) -> Path:
    landing = tmp / f"world{seed}"
    simulate(SimulationConfig(start_date=START, days=DAYS, customers=800, seed=seed), landing)
    return landing


def load(landing: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for source in (TRANSACTIONS, SUPPORT_TICKETS):
        for i in range(DAYS):
            day = START + dt.timedelta(days=i)
            ingest.ingest_file(con, source, day, ingest.day_file(landing, source, day))
    return con


def flagged(con, first: int = 14) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for source in (TRANSACTIONS, SUPPORT_TICKETS):
        for i in range(first, DAYS):
            found = shifts(con, source, START + dt.timedelta(days=i), POLICY) or []
            for s in found:
                if s.shifted:
                    out.setdefault(f"{source.name}.{s.column}", []).append(s.describe())
    return out


def rewrite(landing: Path, source, change) -> None:
    for i in range(CHANGE, DAYS):
        path = landing / (START + dt.timedelta(days=i)).isoformat() / source.file_name
        frame = pd.read_csv(path, dtype=str)
        change(frame)
        frame.to_csv(path, index=False)


def test_judged_columns_come_from_the_contract() -> None:
    assert judged_columns(TRANSACTIONS) == [("amount", "numeric"), ("channel", "categorical")]
    assert judged_columns(SUPPORT_TICKETS) == [
        ("category", "categorical"),
        ("priority", "categorical"),
    ]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_calm_worlds_raise_no_flag(tmp_path: Path, seed: int) -> None:
    con = load(world(tmp_path, seed))
    assert shifts(con, TRANSACTIONS, START + dt.timedelta(days=3), POLICY) is None  # too early
    assert flagged(con) == {}


def day_one(tmp_path: Path, seed: int, source, change) -> list:
    landing = world(tmp_path, seed)
    rewrite(landing, source, change)
    con = load(landing)
    return shifts(con, source, START + dt.timedelta(days=CHANGE), POLICY)


def scale(factor: float):
    def change(frame: pd.DataFrame) -> None:
        frame["amount"] = (frame["amount"].astype(float) * factor).round(2).map("{:.2f}".format)

    return change


def test_a_scale_change_is_flagged_on_its_first_day(tmp_path: Path) -> None:
    found = {s.column: s for s in day_one(tmp_path, 1, TRANSACTIONS, scale(1.5))}
    assert found["amount"].shifted, found["amount"].describe()
    assert found["amount"].median_ratio == pytest.approx(1.5, rel=0.15)
    assert not found["channel"].shifted


def test_smallest_scale_change_flagged_on_day_one(tmp_path: Path) -> None:
    """The measurement behind the note: which factors are caught on day one."""
    caught = {}
    for factor in (1.05, 1.1, 1.15, 1.2, 1.3):
        found = {
            s.column: s for s in day_one(tmp_path / str(factor), 2, TRANSACTIONS, scale(factor))
        }
        caught[factor] = found["amount"].psi, found["amount"].shifted
    print(f"\nscale factor → (PSI, flagged on day one): {caught}")
    assert caught[1.3][1] and not caught[1.05][1]


def test_a_category_share_change_is_flagged_on_its_first_day(tmp_path: Path) -> None:
    def web_to_mobile(frame: pd.DataFrame) -> None:
        web = frame.index[frame["channel"] == "web"]
        frame.loc[web[: len(web) // 2], "channel"] = "mobile"

    found = {s.column: s for s in day_one(tmp_path, 1, TRANSACTIONS, web_to_mobile)}
    assert found["channel"].shifted, found["channel"].describe()
    assert not found["amount"].shifted
