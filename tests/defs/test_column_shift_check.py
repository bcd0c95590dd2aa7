"""The ingest check sees a unit change on the day it lands, through Dagster (issue 14).

The calm weeks of a simulated world are ingested as one range run; then the first day whose
transaction amounts were rewritten ×1.5 (a unit or currency switch upstream) is ingested on
its own, the way the landing sensor's daily run does. The `column_shift` check of
`raw_transactions` passes the calm weeks, and warns on that day with the shift quantified.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import pytest

from mlops_assets.datasets.simulator import TRANSACTIONS
from mlops_assets.settings import Settings
from tests.core.test_column_shift import CHANGE, START, rewrite, scale, world

SELECTION = "key:raw_customers or key:raw_transactions"


def _shift_check(result: dg.ExecuteInProcessResult) -> dg.AssetCheckEvaluation:
    (check,) = [
        e
        for e in result.get_asset_check_evaluations()
        if e.asset_key == dg.AssetKey("raw_transactions") and e.check_name == "column_shift"
    ]
    return check


def test_a_scale_change_warns_on_its_first_day(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    landing = world(tmp_path, 4)
    rewrite(landing, TRANSACTIONS, scale(1.5))
    home.mkdir()
    landing.rename(home / "landing")
    monkeypatch.setenv("MLOPS_HOME", str(home))
    monkeypatch.delenv("MLOPS_ENV", raising=False)
    assert Settings.from_env().landing_dir == home / "landing"
    from mlops_assets.definitions import defs as load
    from mlops_assets.runner import run_selection

    defs, instance = load(), dg.DagsterInstance.ephemeral()
    last_calm = (START + dt.timedelta(days=CHANGE - 1)).isoformat()
    calm = run_selection(
        defs, SELECTION, instance=instance, partition_range=(START.isoformat(), last_calm)
    )
    check = _shift_check(calm)
    assert check.passed, check.description

    changed = (START + dt.timedelta(days=CHANGE)).isoformat()
    day = run_selection(defs, SELECTION, instance=instance, partition_range=(changed, changed))
    assert day.success  # a warning: the data still lands
    check = _shift_check(day)
    assert not check.passed
    assert check.severity == dg.AssetCheckSeverity.WARN
    assert check.description.startswith(f"{changed}: amount: PSI"), check.description
    assert check.metadata["shifted_columns"].data == ["amount"]
    print(f"\n{check.description}")
