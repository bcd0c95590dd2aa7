"""The landing zone is written by outside parties: ingest reads only regular files inside the
landing root, reached through no symbolic link, within the size limit. Anything else is
refused with the path and the reason, and nothing of it is stored."""

import datetime as dt
import os
import re
from pathlib import Path

import duckdb
import pytest

from mlops_assets.core import ingest
from mlops_assets.datasets.simulator import CHURN_LABELS, CUSTOMERS, TRANSACTIONS

DAY = dt.date(2026, 1, 5)
HEADER = "transaction_id,customer_id,transaction_ts,amount,channel\n"
GOOD = (
    HEADER + "T1,C000001,2026-01-05 08:00:00,12.50,web\nT2,C000002,2026-01-05 09:30:00,7.00,web\n"
)
SECRET = "s3cr3t-token-4f9a"
SECRET_BODY = f"root:x:0:0:{SECRET}:/root:/bin/bash\ndaemon:x:1:1:{SECRET}:/usr/sbin\n"


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    with duckdb.connect() as c:
        ingest.ensure_tables(c, TRANSACTIONS)  # the warehouse exists before any refusal
        yield c


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    root = tmp_path / "landing"
    (root / DAY.isoformat()).mkdir(parents=True)
    return root


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A file outside the landing root with something secret in it."""
    path = tmp_path / "outside" / "passwd"
    path.parent.mkdir()
    path.write_text(SECRET_BODY)
    return path


def _file(landing: Path, spec=TRANSACTIONS) -> Path:
    return landing / DAY.isoformat() / spec.file_name


def _refused(reason: str, path: Path):
    return pytest.raises(
        ingest.RefusedFile, match=re.escape(f"refused file: {path} ") + ".*" + re.escape(reason)
    )


def _assert_stored_nowhere(con: duckdb.DuckDBPyConnection, text: str) -> None:
    """`text` is in no VARCHAR column of any table of the warehouse."""
    columns = con.execute(
        "SELECT table_catalog, table_schema, table_name, column_name "
        "FROM information_schema.columns WHERE data_type = 'VARCHAR'"
    ).fetchall()
    assert columns  # the scan looked at something
    for catalog, schema, table, column in columns:
        hits = con.execute(
            f'SELECT count(*) FROM "{catalog}"."{schema}"."{table}" WHERE contains("{column}", ?)',
            [text],
        ).fetchone()[0]
        assert hits == 0, f"{text!r} found in {schema}.{table}.{column}"


def _good_day(con, landing: Path) -> None:
    _file(landing).write_text(GOOD)
    ingest.ingest_file(con, TRANSACTIONS, DAY, ingest.day_file(landing, TRANSACTIONS, DAY))
    assert con.execute("SELECT count(*) FROM raw.transactions").fetchone()[0] == 2


def _assert_day_untouched(con) -> None:
    assert con.execute("SELECT count(*) FROM raw.transactions").fetchone()[0] == 2
    assert con.execute("SELECT count(*) FROM raw.quarantine").fetchone()[0] == 0


def test_symlink_to_a_file_outside_is_refused_and_nothing_of_it_is_stored(
    con, landing, outside
) -> None:
    _good_day(con, landing)
    path = _file(landing)
    path.unlink()
    path.symlink_to(outside)
    with _refused("is a symbolic link", path):
        ingest.day_file(landing, TRANSACTIONS, DAY)
    # straight to ingest_file too (a link swapped in after day_file's check)
    with _refused("is a symbolic link", path):
        ingest.ingest_file(con, TRANSACTIONS, DAY, path)
    _assert_day_untouched(con)
    _assert_stored_nowhere(con, SECRET)


def test_symlink_inside_the_root_is_refused_too(con, landing) -> None:
    other = landing / "2026-01-04"
    other.mkdir()
    (other / "transactions.csv").write_text(GOOD)
    path = _file(landing)
    path.symlink_to(Path("..") / "2026-01-04" / "transactions.csv")
    with _refused("is a symbolic link", path):
        ingest.day_file(landing, TRANSACTIONS, DAY)
    with _refused("is a symbolic link", path):
        ingest.ingest_file(con, TRANSACTIONS, DAY, path)


def test_dangling_symlink_is_refused_not_missing(con, landing, tmp_path) -> None:
    path = _file(landing, CHURN_LABELS)  # optional source: must not pass as "no file today"
    path.symlink_to(tmp_path / "nowhere")
    with _refused("is a symbolic link", path):
        ingest.day_file(landing, CHURN_LABELS, DAY)


def test_symlinked_day_folder_is_listed_and_refused(con, landing, outside) -> None:
    (outside.parent / "transactions.csv").write_text(HEADER + SECRET_BODY)
    linked_day = dt.date(2026, 1, 6)
    folder = landing / linked_day.isoformat()
    folder.symlink_to(outside.parent, target_is_directory=True)
    # listed (not followed), so that day's ingest fails clearly instead of the day vanishing
    assert ingest.landed_days(landing) == [DAY, linked_day]
    with _refused("is a symbolic link", folder):
        ingest.day_file(landing, TRANSACTIONS, linked_day)
    path = folder / "transactions.csv"
    with _refused("is a symbolic link", folder):
        ingest.ingest_file(con, TRANSACTIONS, linked_day, path, landing_dir=landing)
    with _refused("is a symbolic link", folder):  # default root: the layout's landing dir
        ingest.ingest_file(con, TRANSACTIONS, linked_day, path)
    _assert_stored_nowhere(con, SECRET)


def test_landed_days_skips_files_and_names_that_are_no_date(landing) -> None:
    (landing / "2026-01-07").write_text("not a folder")
    (landing / "2026-13-40").mkdir()
    (landing / ".tmp-2026-01-08").mkdir()
    assert ingest.landed_days(landing) == [DAY]


def test_dotdot_and_paths_outside_the_root_are_refused(con, landing, outside) -> None:
    (outside.parent / "transactions.csv").write_text(HEADER + SECRET_BODY)
    escaping = landing / DAY.isoformat() / ".." / ".." / "outside" / "transactions.csv"
    with _refused("resolves outside the landing root", escaping):
        ingest.ingest_file(con, TRANSACTIONS, DAY, escaping, landing_dir=landing)
    with _refused("resolves outside the landing root", escaping):
        ingest.ingest_file(con, TRANSACTIONS, DAY, escaping)
    elsewhere = outside.parent / "transactions.csv"
    with _refused("resolves outside the landing root", elsewhere):
        ingest.ingest_file(con, TRANSACTIONS, DAY, elsewhere, landing_dir=landing)
    _assert_stored_nowhere(con, SECRET)


@pytest.mark.timeout(30)
def test_fifo_is_refused_without_blocking(con, landing) -> None:
    path = _file(landing)
    os.mkfifo(path)  # opening it for reading would block until a writer comes
    with _refused("is not a regular file (FIFO)", path):
        ingest.day_file(landing, TRANSACTIONS, DAY)
    with _refused("is not a regular file (FIFO)", path):
        ingest.ingest_file(con, TRANSACTIONS, DAY, path)


def test_directory_named_like_the_file_is_refused(con, landing) -> None:
    for spec in (CUSTOMERS, CHURN_LABELS):  # required and optional alike
        path = _file(landing, spec)
        path.mkdir()
        with _refused("is not a regular file (directory)", path):
            ingest.day_file(landing, spec, DAY)
        with _refused("is not a regular file (directory)", path):
            ingest.ingest_file(con, spec, DAY, path)


def test_day_folder_that_is_a_file_is_refused(landing) -> None:
    folder = landing / "2026-01-06"
    folder.write_text("x")
    with _refused("is not a directory (regular file)", folder):
        ingest.day_file(landing, TRANSACTIONS, dt.date(2026, 1, 6))


def test_oversize_file_is_refused_unread(con, landing) -> None:
    _good_day(con, landing)
    path = _file(landing)
    size = path.stat().st_size
    with _refused(f"is {size} bytes, over the 64-byte limit", path):
        ingest.day_file(landing, TRANSACTIONS, DAY, max_bytes=64)
    with _refused(f"is {size} bytes, over the 64-byte limit", path):
        ingest.ingest_file(con, TRANSACTIONS, DAY, path, max_bytes=64)
    _assert_day_untouched(con)
    # at the limit is fine
    assert ingest.day_file(landing, TRANSACTIONS, DAY, max_bytes=size) == path
    assert ingest.ingest_file(con, TRANSACTIONS, DAY, path, max_bytes=size).valid == 2


def test_refused_file_is_an_ingest_error_naming_path_and_reason(landing) -> None:
    path = _file(landing)
    os.mkfifo(path)
    with pytest.raises(ingest.IngestError) as info:
        ingest.day_file(landing, TRANSACTIONS, DAY)
    assert isinstance(info.value, ingest.RefusedFile)
    assert (info.value.path, info.value.reason) == (str(path), "is not a regular file (FIFO)")
    assert str(info.value) == f"refused file: {path} is not a regular file (FIFO)"
