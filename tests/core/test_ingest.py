"""Ingest of one landing file into DuckDB: every kind of bad input ends in a clear error or a
quarantine row with a reason, and rows_in == valid + quarantined always."""

import datetime as dt
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from mlops_assets.core import ingest
from mlops_assets.datasets.simulator import CHURN_LABELS, CUSTOMERS, TRANSACTIONS

DAY = dt.date(2026, 1, 5)
HEADER = "transaction_id,customer_id,transaction_ts,amount,channel\n"
GOOD = [
    "T1,C000001,2026-01-05 08:00:00,12.50,web\n",
    "T2,C000002,2026-01-05 09:30:00,7.00,mobile\n",
    "T3,C000003,2026-01-05 23:59:59,99.99,store\n",
]


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    with duckdb.connect() as c:
        yield c


def _write(tmp_path: Path, body: bytes | str, name: str = "transactions.csv") -> Path:
    folder = tmp_path / DAY.isoformat()
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_bytes(body.encode() if isinstance(body, str) else body)
    return path


def _ingest(con, tmp_path: Path, body: bytes | str, spec=TRANSACTIONS) -> ingest.IngestResult:
    _write(tmp_path, body, spec.file_name)
    result = ingest.ingest_file(con, spec, DAY, ingest.day_file(tmp_path, spec, DAY))
    assert result.rows_in == result.valid + result.quarantined
    stored = con.execute(f"SELECT count(*) FROM {spec.raw_table}").fetchone()[0]
    quarantined = con.execute("SELECT count(*) FROM raw.quarantine").fetchone()[0]
    assert (stored, quarantined) == (result.valid, result.quarantined)
    return result


def _reasons(con) -> list[str]:
    return [r[0] for r in con.execute("SELECT reason FROM raw.quarantine ORDER BY 1").fetchall()]


def test_clean_file_loads_typed_rows(con, tmp_path: Path) -> None:
    result = _ingest(con, tmp_path, HEADER + "".join(GOOD))
    assert (result.rows_in, result.valid, result.quarantined) == (3, 3, 0)
    row = con.execute(
        "SELECT amount, transaction_ts FROM raw.transactions WHERE transaction_id = 'T3'"
    )
    assert row.fetchone() == (Decimal("99.99"), dt.datetime(2026, 1, 5, 23, 59, 59))


def test_wrong_types_ranges_and_values_are_quarantined_with_reasons(con, tmp_path) -> None:
    bad = [
        "T4,C000004,2026-01-05 10:00:00,abc,web\n",
        "T5,C000005,not-a-time,5.00,web\n",
        "T6,C000006,2026-01-05 10:00:00,-3.00,web\n",
        "T7,C000007,2026-01-05 10:00:00,5.00,fax\n",
        "T8,,2026-01-05 10:00:00,5.00,web\n",
        "T9,C000009,2026-01-04 10:00:00,5.00,web\n",
        "T10,C000010,2026-01-05 10:00:00,nan,web\n",
    ]
    result = _ingest(con, tmp_path, HEADER + "".join(GOOD + bad))
    assert (result.valid, result.quarantined) == (3, 7)
    assert _reasons(con) == [
        "amount: below 0.01",
        "amount: not a valid decimal",
        "amount: not a valid decimal",
        "channel: not one of web/mobile/store",
        "customer_id: missing",
        "transaction_ts: not a valid timestamp",
        "transaction_ts: outside partition day 2026-01-05",
    ]
    raw = con.execute("SELECT raw_record FROM raw.quarantine WHERE reason LIKE 'channel%'")
    assert raw.fetchone()[0] == "T7,C000007,2026-01-05 10:00:00,5.00,fax"


def test_money_with_more_decimals_than_the_scale_is_quarantined_never_rounded(con, tmp_path):
    bad = [
        "T4,C000004,2026-01-05 10:00:00,12.345,web\n",
        "T5,C000005,2026-01-05 10:00:00,0.001,web\n",  # one reason: not also "below 0.01"
        "T6,C000006,2026-01-05 10:00:00,1e3,web\n",  # exponents, nan, separators: not money
        "T7,C000007,2026-01-05 10:00:00,1_000.00,web\n",
        "T8,C000008,2026-01-05 10:00:00,99999999999999999.00,web\n",  # beyond DECIMAL(18,2)
    ]
    result = _ingest(con, tmp_path, HEADER + "".join(GOOD + bad))
    assert (result.valid, result.quarantined) == (3, 5)
    assert result.reasons == {
        "amount: more than 2 decimal places": 2,
        "amount: not a valid decimal": 3,
    }
    raw = con.execute("SELECT raw_record FROM raw.quarantine WHERE reason LIKE '%places'")
    assert sorted(r[0].split(",")[3] for r in raw.fetchall()) == ["0.001", "12.345"]


def test_valid_money_loads_exactly_as_decimal(con, tmp_path) -> None:
    amounts = ["0.10", "0.2", "12.500", " 7.05 ", "99999.99", "100000"]
    rows = [f"T{i},C1,2026-01-05 10:00:00,{a},web\n" for i, a in enumerate(amounts)]
    result = _ingest(con, tmp_path, HEADER + "".join(rows))
    assert (result.valid, result.quarantined) == (6, 0)
    loaded = con.execute("SELECT amount FROM raw.transactions ORDER BY transaction_id").fetchall()
    assert [a for (a,) in loaded] == [Decimal(a.strip()) for a in amounts]
    typed = con.execute("SELECT typeof(amount), sum(amount) FROM raw.transactions GROUP BY 1")
    assert typed.fetchone() == ("DECIMAL(18,2)", Decimal("200019.84"))


def test_customer_fees_are_exact_decimals_too(con, tmp_path) -> None:
    header = "customer_id,signup_date,plan,region,age,monthly_fee\n"
    body = "C1,2026-01-05,basic,north,30,9.99\nC2,2026-01-05,basic,north,30,9.999\n"
    result = _ingest(con, tmp_path, header + body, spec=CUSTOMERS)
    assert (result.valid, result.quarantined) == (1, 1)
    assert _reasons(con) == ["monthly_fee: more than 2 decimal places"]
    fee = con.execute("SELECT monthly_fee FROM raw.customers").fetchone()[0]
    assert fee == Decimal("9.99")


def test_duplicate_rows_keep_the_first_and_quarantine_the_rest(con, tmp_path) -> None:
    result = _ingest(con, tmp_path, HEADER + "".join(GOOD + GOOD[:2]))
    assert (result.valid, result.quarantined) == (3, 2)
    assert set(_reasons(con)) == {"duplicate key (transaction_id)"}


def test_truncated_file_quarantines_the_cut_line(con, tmp_path) -> None:
    body = HEADER + "".join(GOOD) + "T4,C000004,2026-01-05 1"
    result = _ingest(con, tmp_path, body)
    assert (result.valid, result.quarantined) == (3, 1)
    line, reason = con.execute("SELECT line, reason FROM raw.quarantine").fetchone()
    assert (line, reason) == (5, "missing columns")


def test_extra_fields_on_a_line_are_quarantined(con, tmp_path) -> None:
    result = _ingest(con, tmp_path, HEADER + GOOD[0] + "T9,C1,2026-01-05 10:00:00,1.00,web,x\n")
    assert (result.valid, result.quarantined) == (1, 1)
    assert _reasons(con) == ["too many columns"]


def test_non_utf8_line_is_quarantined_not_dropped(con, tmp_path) -> None:
    body = (HEADER + GOOD[0]).encode() + b"T2,C\xff02,2026-01-05 10:00:00,1.00,web\n"
    result = _ingest(con, tmp_path, body)
    assert (result.valid, result.quarantined) == (1, 1)
    assert _reasons(con) == ["invalid encoding"]


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("transaction_id,customer_id,transaction_ts,amount\n", "missing columns ['channel']"),
        (
            "transaction_id,customer_id,transaction_ts,amount,channel,coupon\n",
            "unexpected columns ['coupon']",
        ),
        (
            "transaction_id,customer_id,transaction_ts,amount,channel,amount\n",
            "repeated columns ['amount']",
        ),
        ("transaction_id,customer_id,transaction_ts,amount,chännel\n".encode("latin-1"), "UTF-8"),
    ],
)
def test_wrong_or_missing_columns_quarantine_the_whole_file(con, tmp_path, header, reason) -> None:
    body = header + "".join(GOOD) if isinstance(header, str) else header + "".join(GOOD).encode()
    result = _ingest(con, tmp_path, body)
    assert (result.valid, result.quarantined) == (0, 3)
    assert all(reason in r for r in _reasons(con))
    assert result.warnings


REORDERED = "channel,amount,transaction_id,transaction_ts,customer_id\n"


def _reorder(line: str) -> str:
    t, c, ts, a, ch = line.rstrip("\n").split(",")
    return f"{ch},{a},{t},{ts},{c}\n"


def test_reordered_columns_load_by_name(con, tmp_path) -> None:
    bad = "T4,C000004,2026-01-05 10:00:00,5.00,fax\n"
    result = _ingest(con, tmp_path, REORDERED + "".join(_reorder(x) for x in [*GOOD, bad]))
    assert (result.rows_in, result.valid, result.quarantined) == (4, 3, 1)
    assert not result.warnings
    row = con.execute(
        "SELECT customer_id, amount::VARCHAR, channel FROM raw.transactions "
        "WHERE transaction_id = 'T3'"
    )
    assert row.fetchone() == ("C000003", "99.99", "store")
    # the quarantined record keeps the file's own field order
    assert con.execute("SELECT raw_record, reason FROM raw.quarantine").fetchall() == [
        ("fax,5.00,T4,2026-01-05 10:00:00,C000004", "channel: not one of web/mobile/store")
    ]


def test_reordered_and_ordered_files_give_identical_raw_rows(con, tmp_path) -> None:
    bad = ["T4,C000004,2026-01-05 10:00:00,abc,web\n", GOOD[0]]  # a bad value, a duplicate key
    rows = "SELECT * EXCLUDE (_ingested_at) FROM raw.transactions ORDER BY transaction_id"
    reasons = "SELECT reason FROM raw.quarantine ORDER BY reason"
    ordered = _ingest(con, tmp_path, HEADER + "".join(GOOD + bad))
    expected = con.execute(rows).fetchall(), con.execute(reasons).fetchall()
    reordered = _ingest(con, tmp_path, REORDERED + "".join(_reorder(x) for x in GOOD + bad))
    assert (con.execute(rows).fetchall(), con.execute(reasons).fetchall()) == expected
    assert (reordered.rows_in, reordered.valid, reordered.quarantined) == (5, 3, 2)
    assert reordered.reasons == ordered.reasons
    assert len(expected[0]) == 3


def test_empty_file_is_an_error(con, tmp_path) -> None:
    _write(tmp_path, b"")
    with pytest.raises(ingest.IngestError, match="empty file"):
        ingest.ingest_file(con, TRANSACTIONS, DAY, ingest.day_file(tmp_path, TRANSACTIONS, DAY))


def test_header_only_file_is_a_valid_empty_day(con, tmp_path) -> None:
    result = _ingest(con, tmp_path, HEADER)
    assert (result.rows_in, result.valid, result.quarantined) == (0, 0, 0)


def test_missing_day_and_missing_required_file_are_errors(tmp_path) -> None:
    with pytest.raises(ingest.IngestError, match="missing day"):
        ingest.day_file(tmp_path, TRANSACTIONS, DAY)
    (tmp_path / DAY.isoformat()).mkdir()
    with pytest.raises(ingest.IngestError, match="missing file"):
        ingest.day_file(tmp_path, CUSTOMERS, DAY)
    assert ingest.day_file(tmp_path, CHURN_LABELS, DAY) is None  # labels are optional


def test_reingesting_a_day_replaces_exactly_that_day(con, tmp_path) -> None:
    _ingest(con, tmp_path, HEADER + "".join(GOOD) + "T4,C4,2026-01-05 10:00:00,abc,web\n")
    other = dt.date(2026, 1, 6)
    (tmp_path / other.isoformat()).mkdir()
    (tmp_path / other.isoformat() / "transactions.csv").write_text(
        HEADER + "T99,C000001,2026-01-06 08:00:00,1.00,web\n"
    )
    ingest.ingest_file(con, TRANSACTIONS, other, ingest.day_file(tmp_path, TRANSACTIONS, other))
    # the corrected file for DAY replaces DAY's valid and quarantined rows, and nothing else
    _write(tmp_path, HEADER + GOOD[0])
    ingest.ingest_file(con, TRANSACTIONS, DAY, ingest.day_file(tmp_path, TRANSACTIONS, DAY))
    by_day = con.execute(
        "SELECT _partition_date, count(*) FROM raw.transactions GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert by_day == [(DAY, 1), (other, 1)]
    assert con.execute("SELECT count(*) FROM raw.quarantine").fetchone()[0] == 0


def test_a_failed_load_leaves_the_previous_partition_intact(con, tmp_path) -> None:
    _ingest(con, tmp_path, HEADER + "".join(GOOD))
    _write(tmp_path, b"")
    with pytest.raises(ingest.IngestError):
        ingest.ingest_file(con, TRANSACTIONS, DAY, ingest.day_file(tmp_path, TRANSACTIONS, DAY))
    assert con.execute("SELECT count(*) FROM raw.transactions").fetchone()[0] == 3


def test_a_raw_table_built_by_an_older_contract_fails_clearly(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("CREATE SCHEMA raw")
    con.execute(
        "CREATE TABLE raw.transactions (transaction_id VARCHAR, customer_id VARCHAR, "
        "transaction_ts TIMESTAMP, amount DOUBLE, channel VARCHAR, _partition_date DATE, "
        "_source_file VARCHAR, _ingested_at TIMESTAMP)"
    )
    with pytest.raises(ingest.IngestError, match=r"amount is DOUBLE, the contract says DECIMAL"):
        ingest.ensure_tables(con, TRANSACTIONS)
