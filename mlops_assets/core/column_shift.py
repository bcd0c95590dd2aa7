"""Did a raw column change the day it landed? Each numeric column's distribution and each
categorical column's shares of the day vs its trailing weeks, at ingest.

A unit or currency switch upstream changes a column's scale from one day on; the features
built on 30- and 90-day windows notice it weeks later, or never. Here the day's values are
binned on the trailing window's deciles (numeric) or categories (the contract's `allowed`
values) and compared by PSI. A day is flagged when the PSI exceeds both `psi_limit` and what
sampling noise alone could give with the day's and the window's row counts (a chi-square
bound at `noise_p`), so a day with few rows does not cry wolf. The median ratio says how big a
scale change is.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlops_assets.core.schemas import SourceSpec

if TYPE_CHECKING:
    import duckdb

NUMERIC_TYPES = ("int", "float", "decimal")
EPSILON = 1e-4
DECILES = "[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]"


@dataclass(frozen=True)
class ShiftPolicy:
    window_days: int = 28  # trailing days compared with
    min_history_days: int = 7  # fewer: not judged yet
    psi_limit: float = 0.1
    noise_p: float = 1e-6  # false-alarm probability of the noise bound per column-day
    min_rows_day: int = 100  # a day with fewer values is not judged (too noisy to tell)


@dataclass(frozen=True)
class ColumnShift:
    column: str
    kind: str  # "numeric" | "categorical"
    psi: float
    limit: float  # max(psi_limit, noise bound)
    rows_day: int
    rows_window: int
    median_ratio: float | None = None  # numeric: day median / window median
    shares: dict[str, float] = field(default_factory=dict)  # categorical: the day's shares

    @property
    def shifted(self) -> bool:
        return self.psi > self.limit

    def describe(self) -> str:
        extra = f", median ×{self.median_ratio:.3f}" if self.median_ratio is not None else ""
        return f"{self.column}: PSI {self.psi:.3f} (limit {self.limit:.3f}{extra})"


def judged_columns(source: SourceSpec) -> list[tuple[str, str]]:
    """(column, kind): numbers that are not keys or references, and strings with a closed
    set of values."""
    skip = set(source.key) | {c for c, _ in source.references}
    out = []
    for c in source.columns:
        if c.name in skip or c.name == source.event_time:
            continue
        if c.type in NUMERIC_TYPES:
            out.append((c.name, "numeric"))
        elif c.type == "string" and c.allowed:
            out.append((c.name, "categorical"))
    return out


def _psi(expected: list[float], actual: list[float]) -> float:
    """PSI with half a count added to every bin (an empty bin of a small day is not infinite
    evidence)."""
    expected, actual = [e + 0.5 for e in expected], [a + 0.5 for a in actual]
    total_e, total_a = sum(expected), sum(actual)
    psi = 0.0
    for e, a in zip(expected, actual, strict=True):
        pe, pa = max(e / total_e, EPSILON), max(a / total_a, EPSILON)
        psi += (pa - pe) * math.log(pa / pe)
    return psi


def _noise_bound(bins: int, n_day: int, n_window: int, p: float) -> float:
    """PSI that sampling noise alone exceeds with probability ~p (PSI ≈ chi² / n_eff)."""
    from scipy.stats import chi2

    return float(chi2.isf(p, max(bins - 1, 1))) * (1.0 / n_day + 1.0 / n_window)


def shifts(
    con: duckdb.DuckDBPyConnection, source: SourceSpec, day: dt.date, policy: ShiftPolicy
) -> list[ColumnShift] | None:
    """Every judged column's shift on `day` (None: not enough trailing history)."""
    table = source.raw_table
    since = day - dt.timedelta(days=policy.window_days)
    history_days = con.execute(
        f"SELECT count(DISTINCT _partition_date) FROM {table} "
        "WHERE _partition_date < ? AND _partition_date >= ?",
        [day, since],
    ).fetchone()[0]
    if history_days < policy.min_history_days:
        return None
    window = "_partition_date < ? AND _partition_date >= ?"
    out = []
    for name, kind in judged_columns(source):
        col = '"' + name.replace('"', '""') + '"'
        if kind == "numeric":
            edges = con.execute(
                f"SELECT quantile_cont(CAST({col} AS DOUBLE), {DECILES}), "
                f"median(CAST({col} AS DOUBLE)) FROM {table} "
                f"WHERE {window} AND {col} IS NOT NULL",
                [day, since],
            ).fetchone()
            if edges[0] is None:
                continue
            cuts, ref_median = sorted(set(edges[0])), edges[1]
            bucket = " + ".join(f"(CAST({col} AS DOUBLE) > {c!r})::INT" for c in cuts)
            counts = {}
            for label, where, params in (
                ("window", window, [day, since]),
                ("day", "_partition_date = ?", [day]),
            ):
                rows = con.execute(
                    f"SELECT {bucket} AS b, count(*) FROM {table} "
                    f"WHERE {where} AND {col} IS NOT NULL GROUP BY b",
                    params,
                ).fetchall()
                got = dict(rows)
                counts[label] = [float(got.get(i, 0)) for i in range(len(cuts) + 1)]
            day_median = con.execute(
                f"SELECT median(CAST({col} AS DOUBLE)) FROM {table} WHERE _partition_date = ?",
                [day],
            ).fetchone()[0]
            ratio = (
                day_median / ref_median
                if day_median is not None and ref_median not in (None, 0)
                else None
            )
            extra: dict[str, Any] = {"median_ratio": ratio}
        else:
            categories = [c for c in source.column(name).allowed or ()]
            counts = {}
            for label, where, params in (
                ("window", window, [day, since]),
                ("day", "_partition_date = ?", [day]),
            ):
                got = dict(
                    con.execute(
                        f"SELECT {col}, count(*) FROM {table} WHERE {where} GROUP BY {col}",
                        params,
                    ).fetchall()
                )
                counts[label] = [float(got.get(c, 0)) for c in categories]
            total = sum(counts["day"]) or 1.0
            extra = {
                "shares": {c: n / total for c, n in zip(categories, counts["day"], strict=True)}
            }
        n_day, n_window = int(sum(counts["day"])), int(sum(counts["window"]))
        if n_day < policy.min_rows_day or n_window == 0:
            continue
        bins = len(counts["day"])
        limit = max(policy.psi_limit, _noise_bound(bins, n_day, n_window, policy.noise_p))
        out.append(
            ColumnShift(
                column=name,
                kind=kind,
                psi=_psi(counts["window"], counts["day"]),
                limit=limit,
                rows_day=n_day,
                rows_window=n_window,
                **extra,
            )
        )
    return out
