"""Data-quality rules (completeness, accuracy, consistency, freshness, volume) as plain
functions over a DuckDB connection. Each returns an `Outcome`; the Dagster layer turns it into
an asset check result, tests call it directly."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlops_assets.core.schemas import SourceSpec

if TYPE_CHECKING:
    import duckdb


@dataclass(frozen=True)
class Outcome:
    passed: bool
    summary: str
    metadata: dict[str, Any] = field(default_factory=dict)


def quarantine_rate(rows_in: int, quarantined: int, max_rate: float) -> Outcome:
    rate = quarantined / rows_in if rows_in else 0.0
    return Outcome(
        passed=rate <= max_rate,
        summary=f"{quarantined} of {rows_in} rows quarantined ({rate:.2%}; limit {max_rate:.2%})",
        metadata={"quarantine_rate": rate, "limit": max_rate, "quarantined": quarantined},
    )


def orphan_rate(
    con: duckdb.DuckDBPyConnection,
    spec: SourceSpec,
    day: dt.date,
    max_rate: float,
    *,
    column: str,
    parent: SourceSpec,
) -> Outcome:
    """Rows of the day whose `column` names no `parent` key landed by that day (the contract's
    `references`): events about an entity the platform has never seen."""
    if len(parent.key) != 1:
        raise ValueError(f"{parent.name} has a composite key {parent.key}: nothing to reference")
    q = _quote
    child, key = q(column), q(parent.key[0])
    known = f"SELECT DISTINCT {key} AS _ref FROM {parent.raw_table} WHERE _partition_date <= ?"
    total, orphans = con.execute(
        f"""
        SELECT count(*), count(*) FILTER (WHERE k._ref IS NULL)
        FROM {spec.raw_table} AS t
        LEFT JOIN ({known}) AS k ON k._ref = t.{child}
        WHERE t._partition_date = ?
        """,
        [day, day],
    ).fetchone()
    rate = orphans / total if total else 0.0
    examples = [
        r[0]
        for r in con.execute(
            f"""
            SELECT DISTINCT t.{child} FROM {spec.raw_table} AS t
            WHERE t._partition_date = ? AND t.{child} NOT IN ({known})
            ORDER BY 1 LIMIT 5
            """,
            [day, day],
        ).fetchall()
    ]
    return Outcome(
        passed=rate <= max_rate,
        summary=f"{orphans} of {total} rows reference unknown {parent.name} ({rate:.2%})",
        metadata={"orphan_rate": rate, "limit": max_rate, "examples": examples},
    )


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def event_freshness(
    con: duckdb.DuckDBPyConnection, spec: SourceSpec, day: dt.date, max_lag_hours: float
) -> Outcome:
    """The newest event of the day must be close to the day's end: a file cut short (an
    export stopped at noon) shows up as a lag."""
    assert spec.event_time, f"{spec.name} has no event time"
    newest = con.execute(
        f"SELECT max({_quote(spec.event_time)}) FROM {spec.raw_table} WHERE _partition_date = ?",
        [day],
    ).fetchone()[0]
    day_end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time())
    if newest is None:
        return Outcome(False, f"no events on {day}", {"newest_event": None})
    lag_h = (day_end - newest).total_seconds() / 3600
    return Outcome(
        passed=lag_h <= max_lag_hours,
        summary=f"newest event {newest:%Y-%m-%d %H:%M}, {lag_h:.1f} h before the day's end",
        metadata={"newest_event": newest.isoformat(), "lag_hours": lag_h, "limit": max_lag_hours},
    )


def row_count_anomaly(
    con: duckdb.DuckDBPyConnection,
    spec: SourceSpec,
    day: dt.date,
    window_days: int,
    tolerance: float,
) -> Outcome:
    """Valid rows of the day vs the mean of the previous `window_days` days that have data:
    a volume collapse (half a file) or a doubled export shows up here."""
    today = con.execute(
        f"SELECT count(*) FROM {spec.raw_table} WHERE _partition_date = ?", [day]
    ).fetchone()[0]
    history = [
        r[0]
        for r in con.execute(
            f"""
            SELECT count(*) FROM {spec.raw_table}
            WHERE _partition_date < ? AND _partition_date >= ?
            GROUP BY _partition_date
            """,
            [day, day - dt.timedelta(days=window_days)],
        ).fetchall()
    ]
    if not history:
        return Outcome(True, f"{today} rows; no history yet to compare", {"rows": today})
    mean = sum(history) / len(history)
    # Small counts are noisy (Poisson: sd = sqrt(mean)), so allow at least 4 sd.
    allowed = max(tolerance * mean, 4 * math.sqrt(mean))
    return Outcome(
        passed=abs(today - mean) <= allowed,
        summary=f"{today} rows vs trailing mean {mean:.0f} (allowed ±{allowed:.0f})",
        metadata={"rows": today, "trailing_mean": mean, "allowed_deviation": allowed},
    )


def missing_rates(
    con: duckdb.DuckDBPyConnection,
    table: str,
    columns: Sequence[str],
    where: str,
    params: Sequence[Any],
    max_rate: float,
) -> Outcome:
    """Share of NULL (or NaN) values per column in the rows selected by `where`."""
    exprs = ", ".join(
        f"avg(CASE WHEN {c} IS NULL OR isnan(TRY_CAST({c} AS DOUBLE)) THEN 1 ELSE 0 END)"
        for c in columns
    )
    row = con.execute(f"SELECT count(*), {exprs} FROM {table} WHERE {where}", params).fetchone()
    total, rates = row[0], dict(zip(columns, (r or 0.0 for r in row[1:]), strict=True))
    if total == 0:
        return Outcome(False, "no rows to check", {"rows": 0})
    worst = max(rates, key=rates.__getitem__)
    bad = {c: r for c, r in rates.items() if r > max_rate}
    return Outcome(
        passed=not bad,
        summary=(
            f"columns over {max_rate:.1%} missing: {sorted(bad)}"
            if bad
            else f"all {len(columns)} columns ≤ {max_rate:.1%} missing "
            f"(worst {worst}: {rates[worst]:.2%})"
        ),
        metadata={"rows": total, "missing_rates": rates, "limit": max_rate},
    )
