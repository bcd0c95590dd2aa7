"""Guard for the `sqlglot[rs]<29` pin (DESIGN §9, pyproject).

sqlglot >= 29 with the `rs` extra (required by dagster-dbt) also installs `sqlglotc`: mypyc-compiled
copies of sqlglot's own modules, dropped into the `sqlglot` package. Their stricter type checks
reject the interval literal ibis 12 builds for `timestamp + timedelta`, which Feast uses for every
TTL, so `get_historical_features` on any view with a TTL raises
`TypeError: sqlglot.expressions.core.Expr or None object expected; got str` (reproduced here
with sqlglot 30.30 + sqlglotc 30.30 + ibis 12.0).

How to act:
* `test_sqlglotc_is_not_installed` fails -> someone relaxed the pin (or a dependency pulled
  sqlglotc in). Run the probe below in that environment:
  - probe FAILS: upstream still has the bug; restore `sqlglot[rs]<29`.
  - probe PASSES: upstream fixed it (new ibis or sqlglot); drop the pin and delete this guard
    test, keeping the probe and the point-in-time tests (they exercise Feast's TTL path).
* To try an upgrade without touching the venv (how the failure above was reproduced):
    pip install --target /tmp/sg 'sqlglot[rs]>=29'
    PYTHONPATH=/tmp/sg pytest tests/feast/test_sqlglot_guard.py
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest


def test_sqlglotc_is_not_installed() -> None:
    import sqlglot

    why = "breaks Feast TTL retrieval; see tests/feast/test_sqlglot_guard.py before relaxing"
    try:
        dist = importlib.metadata.distribution("sqlglotc")
    except importlib.metadata.PackageNotFoundError:
        pass
    else:
        pytest.fail(f"sqlglotc {dist.version} is installed: it {why}")
    assert importlib.util.find_spec("sqlglotc") is None, f"sqlglotc importable: it {why}"
    compiled = sorted(p.name for p in Path(sqlglot.__file__).parent.rglob("*__mypyc*"))
    assert not compiled, f"compiled sqlglot modules (sqlglotc) found {compiled[:2]}: they {why}"
    major = int(sqlglot.__version__.split(".")[0])
    assert major < 29, f"sqlglot {sqlglot.__version__} is outside the pin: it {why}"


def test_probe_ibis_interval_literal_compiles_and_runs() -> None:
    """The exact construct Feast builds for a TTL: `timestamp + ibis.literal(timedelta)`."""
    import ibis

    table = ibis.table({"ts": "timestamp('UTC')"}, name="t")
    sql = ibis.to_sql(table.mutate(exp=table.ts + ibis.literal(timedelta(days=3))), "duckdb")
    assert "INTERVAL '3' DAY" in sql

    con = ibis.duckdb.connect()
    mem = ibis.memtable(pd.DataFrame({"ts": pd.to_datetime(["2026-01-01"], utc=True)}))
    out = con.execute(mem.mutate(exp=mem.ts + ibis.literal(timedelta(days=3))))
    assert out["exp"].iloc[0] == pd.Timestamp("2026-01-04", tz="UTC")
