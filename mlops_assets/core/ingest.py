"""Load one landing-zone file for one day into DuckDB: valid rows to the raw table, the rest to
quarantine with a reason. Nothing is dropped: `rows_in == valid + quarantined` always holds.

Why our own validation rather than a dataframe-schema library: every rule is a SQL expression
evaluated by DuckDB in one vectorised pass next to the data, structural damage (too many or
too few fields, invalid UTF-8) is caught by DuckDB's CSV reader with `store_rejects`, and each
rejected row keeps its raw record and a human-readable reason. The rules come from the same
`SourceSpec` the simulator writes to.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mlops_assets.core.schemas import Column, SourceSpec

if TYPE_CHECKING:
    import duckdb

_SQL_TYPES = {
    "string": "VARCHAR",
    "int": "BIGINT",
    "float": "DOUBLE",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
}

QUARANTINE_TABLE = "raw.quarantine"


class IngestError(Exception):
    """A day that cannot be ingested at all (missing or empty file): fail loudly."""


@dataclass
class IngestResult:
    source: str
    partition_date: dt.date
    file: str | None
    rows_in: int = 0
    valid: int = 0
    quarantined: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    warnings: list[str] = field(default_factory=list)

    @property
    def quarantine_rate(self) -> float:
        return self.quarantined / self.rows_in if self.rows_in else 0.0


def ensure_tables(con: duckdb.DuckDBPyConnection, spec: SourceSpec) -> None:
    """Create the raw schema, the source's typed table and the shared quarantine table."""
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    cols = ", ".join(f"{c.name} {_SQL_TYPES[c.type]}" for c in spec.columns)
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {spec.raw_table} ({cols}, "
        "_partition_date DATE NOT NULL, _source_file VARCHAR NOT NULL, "
        "_ingested_at TIMESTAMP NOT NULL)"
    )
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {QUARANTINE_TABLE} (source VARCHAR NOT NULL, "
        "partition_date DATE NOT NULL, source_file VARCHAR NOT NULL, line BIGINT, "
        "raw_record VARCHAR, reason VARCHAR NOT NULL, ingested_at TIMESTAMP NOT NULL)"
    )


_DAY_DIR = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def landed_days(landing_dir: Path) -> list[dt.date]:
    """Complete day folders in the landing zone, oldest first. Folders still being written
    are hidden (`.tmp-<day>`) until an atomic rename, so they never match."""
    if not landing_dir.is_dir():
        return []
    return sorted(
        dt.date.fromisoformat(p.name)
        for p in landing_dir.iterdir()
        if p.is_dir() and _DAY_DIR.match(p.name)
    )


def day_file(landing_dir: Path, spec: SourceSpec, day: dt.date) -> Path | None:
    """The file for `spec` on `day`, None for an optional source with no file that day.

    Raises when the whole day folder is missing or a required file is: a missing day must
    fail, never succeed empty."""
    folder = landing_dir / day.isoformat()
    if not folder.is_dir():
        raise IngestError(f"missing day: no landing folder {folder}")
    path = folder / spec.file_name
    if not path.is_file():
        if spec.required:
            raise IngestError(f"missing file: {path} (required for source {spec.name!r})")
        return None
    return path


def _header_problem(path: Path, spec: SourceSpec) -> str | None:
    with path.open("rb") as fh:
        first = fh.readline()
    if not first.strip():
        raise IngestError(f"empty file: {path} has no header row")
    try:
        header = first.decode("utf-8").lstrip("\ufeff").strip().split(",")
    except UnicodeDecodeError:
        return "header is not valid UTF-8"
    header = [h.strip().strip('"') for h in header]
    if tuple(header) == spec.column_names:
        return None
    missing = [c for c in spec.column_names if c not in header]
    extra = [c for c in header if c not in spec.column_names]
    parts = []
    if missing:
        parts.append(f"missing columns {missing}")
    if extra:
        parts.append(f"unexpected columns {extra}")
    if not parts:
        parts.append(f"columns out of order {header}")
    return "header mismatch: " + "; ".join(parts)


def _row_reason_sql(col: Column) -> list[str]:
    """SQL expressions, each NULL when the rule holds or a reason string when it breaks."""
    v = f'"{col.name}"'
    typed = f"TRY_CAST({v} AS {_SQL_TYPES[col.type]})"
    empty = f"({v} IS NULL OR trim({v}) = '')"
    rules = []
    if not col.nullable:
        rules.append(f"CASE WHEN {empty} THEN '{col.name}: missing' END")
    if col.type != "string":
        rules.append(
            f"CASE WHEN NOT {empty} AND {typed} IS NULL "
            f"THEN '{col.name}: not a valid {col.type}' END"
        )
    if col.type == "float":
        rules.append(f"CASE WHEN NOT isfinite({typed}) THEN '{col.name}: not finite' END")
    # NaN compares greater than every number in DuckDB: range rules only judge finite values
    finite = f" AND isfinite({typed})" if col.type == "float" else ""
    if col.min is not None:
        rules.append(
            f"CASE WHEN {typed} < {col.min}{finite} THEN '{col.name}: below {col.min}' END"
        )
    if col.max is not None:
        rules.append(
            f"CASE WHEN {typed} > {col.max}{finite} THEN '{col.name}: above {col.max}' END"
        )
    if col.allowed is not None:
        allowed = ", ".join(f"'{a}'" for a in col.allowed)
        rules.append(
            f"CASE WHEN NOT {empty} AND {v} NOT IN ({allowed}) "
            f"THEN '{col.name}: not one of {'/'.join(col.allowed)}' END"
        )
    return rules


def _reason_sql(spec: SourceSpec, day: dt.date) -> str:
    rules = [r for c in spec.columns for r in _row_reason_sql(c)]
    if spec.event_time_in_partition and spec.event_time:
        ts = f'TRY_CAST("{spec.event_time}" AS TIMESTAMP)'
        rules.append(
            f"CASE WHEN {ts} < DATE '{day}' OR {ts} >= DATE '{day}' + INTERVAL 1 DAY "
            f"THEN '{spec.event_time}: outside partition day {day}' END"
        )
    key = ", ".join(f'"{k}"' for k in spec.key)
    rules.append(
        f"CASE WHEN row_number() OVER (PARTITION BY {key} ORDER BY _row) > 1 "
        f"THEN 'duplicate key ({', '.join(spec.key)})' END"
    )
    return f"concat_ws('; ', {', '.join(rules)})"


def ingest_file(
    con: duckdb.DuckDBPyConnection,
    spec: SourceSpec,
    day: dt.date,
    path: Path | None,
    *,
    now: dt.datetime | None = None,
) -> IngestResult:
    """Replace exactly `day`'s rows of `spec` (raw table and quarantine) from `path`.

    Runs in one transaction, so a failure leaves the previous state of the partition intact.
    """
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    result = IngestResult(source=spec.name, partition_date=day, file=str(path) if path else None)
    ensure_tables(con, spec)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"DELETE FROM {spec.raw_table} WHERE _partition_date = ?", [day])
        con.execute(
            f"DELETE FROM {QUARANTINE_TABLE} WHERE source = ? AND partition_date = ?",
            [spec.name, day],
        )
        if path is not None:
            _load(con, spec, day, path, now, result)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return result


def _load(
    con: duckdb.DuckDBPyConnection,
    spec: SourceSpec,
    day: dt.date,
    path: Path,
    now: dt.datetime,
    result: IngestResult,
) -> None:
    if path.stat().st_size == 0:
        raise IngestError(f"empty file: {path} is 0 bytes (a day with no rows still has a header)")
    problem = _header_problem(path, spec)
    if problem is not None:
        _quarantine_whole_file(con, spec, day, path, now, problem, result)
        return

    columns = {c: "VARCHAR" for c in spec.column_names}
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _landing AS "
        "SELECT *, row_number() OVER () AS _row FROM read_csv(?, header = true, "
        "columns = ?, auto_detect = false, delim = ',', quote = '\"', escape = '\"', "
        "strict_mode = true, store_rejects = true, "
        "rejects_scan = '_rejects_scan', rejects_table = '_rejects')",
        [str(path), columns],
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _checked AS SELECT *, "
        f"nullif({_reason_sql(spec, day)}, '') AS _reason FROM _landing"
    )
    typed = ", ".join(
        f'CAST("{c.name}" AS {_SQL_TYPES[c.type]}) AS "{c.name}"' for c in spec.columns
    )
    con.execute(
        f"INSERT INTO {spec.raw_table} SELECT {typed}, ?, ?, ? "
        "FROM _checked WHERE _reason IS NULL ORDER BY _row",
        [day, str(path), now],
    )
    record = " || ',' || ".join(f"coalesce(\"{c}\", '')" for c in spec.column_names)
    con.execute(
        f"INSERT INTO {QUARANTINE_TABLE} SELECT ?, ?, ?, NULL, {record}, _reason, ? "
        "FROM _checked WHERE _reason IS NOT NULL ORDER BY _row",
        [spec.name, day, str(path), now],
    )
    # Structural rejects: one row per broken line (DuckDB may report several errors per line).
    con.execute(
        f"INSERT INTO {QUARANTINE_TABLE} SELECT ?, ?, ?, line, any_value(csv_line), "
        "string_agg(DISTINCT lower(error_type), '; ' ORDER BY lower(error_type)), ? "
        "FROM _rejects GROUP BY line ORDER BY line",
        [spec.name, day, str(path), now],
    )
    parsed, valid = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE _reason IS NULL) FROM _checked"
    ).fetchone()
    rejected = con.execute("SELECT count(DISTINCT line) FROM _rejects").fetchone()[0]
    reasons = con.execute(
        "SELECT r, count(*) FROM (SELECT unnest(string_split(_reason, '; ')) AS r FROM _checked "
        "WHERE _reason IS NOT NULL UNION ALL SELECT string_agg(DISTINCT lower(error_type), '; ' "
        "ORDER BY lower(error_type)) FROM _rejects GROUP BY line) GROUP BY r"
    ).fetchall()
    result.rows_in = parsed + rejected
    result.valid = valid
    result.quarantined = parsed - valid + rejected
    result.reasons.update(dict(reasons))
    con.execute("DROP TABLE _landing; DROP TABLE _checked; DROP TABLE _rejects")
    con.execute("DROP TABLE IF EXISTS _rejects_scan")


def _quarantine_whole_file(
    con: duckdb.DuckDBPyConnection,
    spec: SourceSpec,
    day: dt.date,
    path: Path,
    now: dt.datetime,
    reason: str,
    result: IngestResult,
) -> None:
    """A header we cannot trust means no column can be trusted: keep every line, load none."""
    lines = path.read_bytes().decode("utf-8", errors="replace").splitlines()[1:]
    rows = [
        (spec.name, day, str(path), i, line, reason, now)
        for i, line in enumerate(lines, start=2)
        if line.strip()
    ]
    if rows:
        con.executemany(f"INSERT INTO {QUARANTINE_TABLE} VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    result.rows_in = result.quarantined = len(rows)
    result.reasons[reason] = len(rows)
    result.warnings.append(f"{path.name}: {reason}; all {len(rows)} rows quarantined")
