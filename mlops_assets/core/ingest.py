"""Load one landing-zone file for one day into DuckDB: valid rows to the raw table, the rest to
quarantine with a reason. Nothing is dropped: `rows_in == valid + quarantined` always holds.

Why our own validation rather than a dataframe-schema library: every rule is a SQL expression
evaluated by DuckDB in one vectorised pass next to the data, structural damage (too many or
too few fields, invalid UTF-8) is caught by DuckDB's CSV reader with `store_rejects`, and each
rejected row keeps its raw record and a human-readable reason. The rules come from the same
`SourceSpec` the simulator writes to.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import os
import re
import stat
import tempfile
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mlops_assets.core.schemas import Column, SourceSpec

if TYPE_CHECKING:
    import duckdb

QUARANTINE_TABLE = "raw.quarantine"


class IngestError(Exception):
    """A day that cannot be ingested at all (missing or empty file): fail loudly."""


DEFAULT_MAX_LANDING_FILE_BYTES = 256 * 1024 * 1024


class RefusedFile(IngestError):
    """A landing-zone entry we will not read at all: a symbolic link, anything but a regular
    file (FIFO, device, socket, directory), a path outside the landing root, or a file over the
    size limit. Outside parties write the landing zone, so nothing of a refused file is stored:
    no raw row, no quarantine row."""

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"refused file: {path} {reason}")


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
    cols = ", ".join(f'"{c.name}" {c.sql_type}' for c in spec.columns)
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {spec.raw_table} ({cols}, "
        "_partition_date DATE NOT NULL, _source_file VARCHAR NOT NULL, "
        "_ingested_at TIMESTAMP NOT NULL)"
    )
    _check_raw_types(con, spec)
    ensure_quarantine_table(con)


def ensure_quarantine_table(con: duckdb.DuckDBPyConnection) -> None:
    """The one quarantine table every loader writes its refused records to, with a reason."""
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {QUARANTINE_TABLE} (source VARCHAR NOT NULL, "
        "partition_date DATE NOT NULL, source_file VARCHAR NOT NULL, line BIGINT, "
        "raw_record VARCHAR, reason VARCHAR NOT NULL, ingested_at TIMESTAMP NOT NULL)"
    )


def _check_raw_types(con: duckdb.DuckDBPyConnection, spec: SourceSpec) -> None:
    """An existing raw table must have the contract's column types: a warehouse built by an
    older contract (e.g. money as DOUBLE before it became DECIMAL) would otherwise keep
    loading the old types silently and fail later, far from the cause."""
    schema, table = spec.raw_table.split(".")
    actual = dict(
        con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ?",
            [schema, table],
        ).fetchall()
    )
    wrong = [
        f"{c.name} is {actual[c.name]}, the contract says {c.sql_type}"
        for c in spec.columns
        if c.name in actual and actual[c.name].replace(" ", "") != c.sql_type
    ]
    missing = [c.name for c in spec.columns if c.name not in actual]
    if wrong or missing:
        problems = "; ".join(wrong + ([f"missing columns {missing}"] if missing else []))
        raise IngestError(
            f"{spec.raw_table} in the warehouse does not match the landing contract ({problems}): "
            "it was built by an older version. Rebuild the warehouse (`make clean`, then run "
            "again) or migrate the table and run `dbt build --full-refresh`."
        )


DAY_DIR = re.compile(r"^\d{4}-\d{2}-\d{2}$")  # a day folder's name (a calendar day: checked apart)


def landed_days(landing_dir: Path, sources: Sequence[SourceSpec] | None = None) -> list[dt.date]:
    """Complete day folders in the landing zone, oldest first: with `sources` (a dataset's),
    the days that dataset has landed — every required source's file is there (a dataset
    whose sources are all optional: any of its files). Several datasets share the landing
    zone, so a day folder holding only another dataset's files is not one of its days.
    Folders still being written are hidden (`.tmp-<day>`) until an atomic rename, so they
    never match.

    A day-named symbolic link is listed (for every dataset) but never followed: that day's
    ingest then fails with `RefusedFile` ("is a symbolic link") rather than the day silently
    disappearing; so is a day whose file is a link or a FIFO. A name that looks like a day but
    is no calendar date (`2026-13-40`) is not a day folder."""
    if not landing_dir.is_dir():
        return []
    required = [s.file_name for s in sources or () if s.required]
    optional = [s.file_name for s in sources or () if not s.required]
    days = []
    with os.scandir(landing_dir) as entries:
        for entry in entries:
            if not DAY_DIR.match(entry.name):
                continue
            linked = entry.is_symlink()
            if not (linked or entry.is_dir(follow_symlinks=False)):
                continue
            if sources is not None and not linked:
                folder = Path(entry.path)
                present = {n for n in required + optional if os.path.lexists(folder / n)}
                if not (set(required) <= present if required else present):
                    continue
            with contextlib.suppress(ValueError):
                days.append(dt.date.fromisoformat(entry.name))
    return sorted(days)


def day_file(
    landing_dir: Path,
    spec: SourceSpec,
    day: dt.date,
    *,
    max_bytes: int = DEFAULT_MAX_LANDING_FILE_BYTES,
) -> Path | None:
    """The file for `spec` on `day`, None for an optional source with no file that day.

    Raises when the whole day folder is missing or a required file is: a missing day must
    fail, never succeed empty. Raises `RefusedFile` when the day folder or the file is a
    symbolic link, is not a directory / regular file, or the file is over `max_bytes`."""
    folder = landing_dir / day.isoformat()
    try:
        _require(folder, os.lstat(folder), "directory")
    except FileNotFoundError:
        raise IngestError(f"missing day: no landing folder {folder}") from None
    path = folder / spec.file_name
    try:
        fd, _ = _open_confined(landing_dir, path, max_bytes)
    except FileNotFoundError:
        if spec.required:
            raise IngestError(f"missing file: {path} (required for source {spec.name!r})") from None
        return None
    os.close(fd)
    return path


_KINDS = (
    (stat.S_ISLNK, "symbolic link"),
    (stat.S_ISREG, "regular file"),
    (stat.S_ISDIR, "directory"),
    (stat.S_ISFIFO, "FIFO"),
    (stat.S_ISSOCK, "socket"),
    (stat.S_ISCHR, "character device"),
    (stat.S_ISBLK, "block device"),
)
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: a FIFO swapped in after the lstat check must not block the open
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


def _require(path: Path, st: os.stat_result, want: str) -> None:
    """Refuse `path` unless its own (never followed) status is a `want` ("regular file" or
    "directory")."""
    kind = next((name for test, name in _KINDS if test(st.st_mode)), "special file")
    if kind == "symbolic link":
        raise RefusedFile(path, "is a symbolic link")
    if kind != want:
        raise RefusedFile(path, f"is not a {want} ({kind})")


def _open_confined(landing_dir: Path, path: Path, max_bytes: int) -> tuple[int, os.stat_result]:
    """Open `path` read-only if it is a regular file of at most `max_bytes` inside
    `landing_dir`, reached without following any symbolic link; return the descriptor and its
    status. Raises FileNotFoundError when an entry is missing, `RefusedFile` otherwise.

    Each component is checked with lstat and then opened relative to its parent's descriptor
    with O_NOFOLLOW, and the opened file is checked again with fstat: an entry swapped for a
    link or a FIFO between the check and the open is refused, not followed. The landing root
    itself is configuration (it may be a link to a mounted volume) and is resolved once."""
    if ".." in path.parts:
        raise RefusedFile(path, "resolves outside the landing root (a '..' component)")
    try:
        parts = Path(os.path.abspath(path)).relative_to(os.path.abspath(landing_dir)).parts
    except ValueError:
        raise RefusedFile(path, f"resolves outside the landing root {landing_dir}") from None
    if not parts:
        raise RefusedFile(path, "is not a regular file (directory)")
    root = landing_dir.resolve()
    parent = os.open(root, _DIR_FLAGS & ~os.O_NOFOLLOW)
    try:
        current = Path(landing_dir)
        for name in parts[:-1]:
            current = current / name
            _require(current, os.stat(name, dir_fd=parent, follow_symlinks=False), "directory")
            child = _open_at(current, name, _DIR_FLAGS, parent)
            os.close(parent)
            parent = child
        _require(path, os.stat(parts[-1], dir_fd=parent, follow_symlinks=False), "regular file")
        fd = _open_at(path, parts[-1], _FILE_FLAGS, parent)
    finally:
        os.close(parent)
    try:
        st = os.fstat(fd)
        _require(path, st, "regular file")
        if st.st_size > max_bytes:
            raise RefusedFile(path, f"is {st.st_size} bytes, over the {max_bytes}-byte limit")
        if not path.resolve().is_relative_to(root):  # belt and braces: no link was followed
            raise RefusedFile(path, f"resolves outside the landing root {root}")
    except BaseException:
        os.close(fd)
        raise
    return fd, st


def _open_at(path: Path, name: str, flags: int, dir_fd: int) -> int:
    try:
        return os.open(name, flags, dir_fd=dir_fd)
    except OSError as err:
        if err.errno == errno.ELOOP:  # became a symbolic link after the lstat check
            raise RefusedFile(path, "is a symbolic link") from None
        if err.errno == errno.ENOTDIR:
            raise RefusedFile(path, "is not a directory") from None
        raise


@dataclass(frozen=True)
class _Landed:
    """A validated landing file: `path` is what rows and messages name, `copy` what is read."""

    path: Path
    copy: Path
    size: int


@contextlib.contextmanager
def _snapshot(landing_dir: Path, path: Path, max_bytes: int) -> Iterator[_Landed]:
    """Validate and open `path` (see `_open_confined`), then copy the open descriptor into a
    private temp folder for the load. DuckDB opens files by name, so handing it the landing
    path would reopen a race (the file swapped for a link after our check); reading our own
    copy closes it, and bounds what is read to `max_bytes` even if the file grows."""
    fd, _ = _open_confined(landing_dir, path, max_bytes)
    with os.fdopen(fd, "rb") as src, tempfile.TemporaryDirectory(prefix="mlops-landing-") as tmp:
        copy = Path(tmp) / path.name
        size = 0
        with copy.open("xb") as dst:
            while chunk := src.read(1 << 20):
                size += len(chunk)
                if size > max_bytes:
                    raise RefusedFile(path, f"grew past the {max_bytes}-byte limit while read")
                dst.write(chunk)
        src.close()
        yield _Landed(path=path, copy=copy, size=size)


def _header_problem(landed: _Landed, spec: SourceSpec) -> tuple[list[str], str | None]:
    """The file's header names in file order, and what is wrong with them (None if nothing).

    Columns are matched by name, so any order of exactly the contract's names is fine; a
    missing, unexpected or repeated name is a mismatch."""
    with landed.copy.open("rb") as fh:
        first = fh.readline()
    if not first.strip():
        raise IngestError(f"empty file: {landed.path} has no header row")
    try:
        header = first.decode("utf-8").lstrip("\ufeff").strip().split(",")
    except UnicodeDecodeError:
        return [], "header is not valid UTF-8"
    header = [h.strip().strip('"') for h in header]
    missing = [c for c in spec.column_names if c not in header]
    extra = [c for c in header if c not in spec.column_names]
    repeated = [c for c, n in Counter(header).items() if n > 1]
    parts = []
    if missing:
        parts.append(f"missing columns {missing}")
    if extra:
        parts.append(f"unexpected columns {extra}")
    if repeated:
        parts.append(f"repeated columns {repeated}")
    return header, ("header mismatch: " + "; ".join(parts)) if parts else None


# A plain decimal number: no exponent, no digit separators, no nan/inf (DuckDB's cast takes those).
_DECIMAL_TEXT = r"[+-]?(\d+(\.\d*)?|\.\d+)"


def _decimal_rules(col: Column, v: str, empty: str) -> tuple[str, list[str]]:
    """The exact value of a `decimal` column (NULL unless valid) and its format rules.

    More decimal places than the scale is a reason, never a rounding: money must stay exactly
    what the source sent. Trailing zeros beyond the scale are fine (12.500 is 12.50)."""
    sql_type = col.sql_type
    text = f"trim({v})"
    pattern = f"regexp_full_match({text}, '{_DECIMAL_TEXT}')"
    too_precise = f"regexp_matches({text}, '\\.\\d{{{col.scale}}}\\d*[1-9]')"
    typed = f"CASE WHEN {pattern} AND NOT {too_precise} THEN TRY_CAST({text} AS {sql_type}) END"
    rules = [
        f"CASE WHEN NOT {empty} AND (NOT {pattern} OR TRY_CAST({text} AS {sql_type}) IS NULL) "
        f"THEN '{col.name}: not a valid decimal' END",
        f"CASE WHEN {pattern} AND {too_precise} "
        f"THEN '{col.name}: more than {col.scale} decimal places' END",
    ]
    return typed, rules


def _row_reason_sql(col: Column) -> list[str]:
    """SQL expressions, each NULL when the rule holds or a reason string when it breaks."""
    v = f'"{col.name}"'
    typed = f"TRY_CAST({v} AS {col.sql_type})"
    empty = f"({v} IS NULL OR trim({v}) = '')"
    rules = []
    if not col.nullable:
        rules.append(f"CASE WHEN {empty} THEN '{col.name}: missing' END")
    if col.type == "decimal":
        typed, decimal_rules = _decimal_rules(col, v, empty)
        rules.extend(decimal_rules)
    elif col.type != "string":
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
    max_bytes: int = DEFAULT_MAX_LANDING_FILE_BYTES,
    landing_dir: Path | None = None,
) -> IngestResult:
    """Replace exactly `day`'s rows of `spec` (raw table and quarantine) from `path`.

    `path` must be a regular file of at most `max_bytes` inside `landing_dir` (default
    `path.parent.parent`, the root of the `<landing>/<day>/<file>` layout), reached through no
    symbolic link; otherwise `RefusedFile` is raised before anything is written or stored.
    Runs in one transaction, so a failure leaves the previous state of the partition intact.
    """
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    result = IngestResult(source=spec.name, partition_date=day, file=str(path) if path else None)
    with contextlib.ExitStack() as stack:
        landed = None
        if path is not None:
            root = landing_dir if landing_dir is not None else path.parent.parent
            landed = stack.enter_context(_snapshot(root, path, max_bytes))
        ensure_tables(con, spec)
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(f"DELETE FROM {spec.raw_table} WHERE _partition_date = ?", [day])
            con.execute(
                f"DELETE FROM {QUARANTINE_TABLE} WHERE source = ? AND partition_date = ?",
                [spec.name, day],
            )
            if landed is not None:
                _load(con, spec, day, landed, now, result)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return result


def _load(
    con: duckdb.DuckDBPyConnection,
    spec: SourceSpec,
    day: dt.date,
    landed: _Landed,
    now: dt.datetime,
    result: IngestResult,
) -> None:
    path = landed.path
    if landed.size == 0:
        raise IngestError(f"empty file: {path} is 0 bytes (a day with no rows still has a header)")
    header, problem = _header_problem(landed, spec)
    if problem is not None:
        _quarantine_whole_file(con, spec, day, landed, now, problem, result)
        return

    # by name: the file's own column order names the fields, every later step selects by name
    columns = {c: "VARCHAR" for c in header}
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _landing AS "
        "SELECT *, row_number() OVER () AS _row FROM read_csv(?, header = true, "
        "columns = ?, auto_detect = false, delim = ',', quote = '\"', escape = '\"', "
        "strict_mode = true, store_rejects = true, "
        "rejects_scan = '_rejects_scan', rejects_table = '_rejects')",
        [str(landed.copy), columns],
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _checked AS SELECT *, "
        f"nullif({_reason_sql(spec, day)}, '') AS _reason FROM _landing"
    )
    typed = ", ".join(f'CAST("{c.name}" AS {c.sql_type}) AS "{c.name}"' for c in spec.columns)
    con.execute(
        f"INSERT INTO {spec.raw_table} SELECT {typed}, ?, ?, ? "
        "FROM _checked WHERE _reason IS NULL ORDER BY _row",
        [day, str(path), now],
    )
    record = " || ',' || ".join(f"coalesce(\"{c}\", '')" for c in header)  # the file's order
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
    landed: _Landed,
    now: dt.datetime,
    reason: str,
    result: IngestResult,
) -> None:
    """A header we cannot trust means no column can be trusted: keep every line, load none."""
    path = landed.path
    lines = landed.copy.read_bytes().decode("utf-8", errors="replace").splitlines()[1:]
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
