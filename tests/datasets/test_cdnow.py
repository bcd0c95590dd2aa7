"""The CDNOW replay: the real file read without importing `lifetimes`, landed day by day with
only a time shift — deterministic, atomic, idempotent — and every landed file passes the
landing contract through `core.ingest`, with nothing quarantined."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import importlib.metadata
import subprocess
import sys
import threading
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from mlops_assets.core import ingest
from mlops_assets.datasets import cdnow
from mlops_assets.datasets.cdnow import CDNOW_PURCHASES, ReplayConfig, replay
from mlops_assets.datasets.simulator import SimulationConfig, simulate

FILE = CDNOW_PURCHASES.file_name


def source_lines() -> list[list[str]]:
    """The source file's data lines split on whitespace: an independent reading."""
    path = importlib.metadata.distribution("lifetimes").locate_file(cdnow.SOURCE_FILE)
    return [line.split() for line in Path(str(path)).read_text().splitlines()[1:]]


def landed_rows(landing: Path) -> list[dict[str, str]]:
    rows = []
    for folder in sorted(p for p in landing.iterdir() if not p.name.startswith(".")):
        with open(folder / FILE, newline="", encoding="utf-8") as f:
            rows += [{**r, "_folder": folder.name} for r in csv.DictReader(f)]
    return rows


def tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The whole history (546 days) replayed once."""
    landing = tmp_path_factory.mktemp("full") / "landing"
    summary = replay(ReplayConfig(days=cdnow.SOURCE_DAYS), landing)
    assert summary.rows_written == cdnow.SOURCE_ROWS
    return landing


# ------------------------------------------------------------------------------------------
# the source file
# ------------------------------------------------------------------------------------------


def test_source_is_read_without_importing_lifetimes() -> None:
    code = (
        "import sys; from mlops_assets.datasets import cdnow; "
        "n = len(cdnow.read_source()); "
        "assert 'lifetimes' not in sys.modules, 'lifetimes was imported'; print(n)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(cdnow.SOURCE_ROWS)


def test_source_facts() -> None:
    """What the raw data holds (the numbers the module docstring and the report quote)."""
    purchases = cdnow.read_source()
    lines = source_lines()
    assert len(purchases) == len(lines) == cdnow.SOURCE_ROWS == 69_659
    assert len({p.customer_id for p in purchases}) == 23_570
    days = Counter(p.original_date for p in purchases)
    assert min(days) == cdnow.SOURCE_FIRST_DAY and max(days) == cdnow.SOURCE_LAST_DAY
    assert len(days) == cdnow.SOURCE_DAYS == 546  # every calendar day has purchases
    assert min(days.values()) == 44
    first = {}
    for p in purchases:
        first.setdefault(p.customer_id, p.original_date)
    assert max(first.values()) == dt.date(1997, 3, 25)  # a first-quarter-1997 cohort
    assert sum(p.amount == 0 for p in purchases) == 80  # free / promotional lines, all 1 CD
    assert {p.quantity for p in purchases if p.amount == 0} == {1}
    assert min(p.quantity for p in purchases) == 1 and max(p.quantity for p in purchases) == 99
    copies = Counter(map(tuple, lines))
    assert sum(n - 1 for n in copies.values() if n > 1) == 255  # identical lines, kept
    assert sum(n > 1 for n in copies.values()) == 215
    per_customer_day = Counter((p.customer_id, p.original_date) for p in purchases)
    assert sum(n > 1 for n in per_customer_day.values()) == 1_774
    assert max(per_customer_day.values()) == 16
    assert sum(p.amount for p in purchases) == Decimal("2500315.63")
    assert len({p.purchase_id for p in purchases}) == cdnow.SOURCE_ROWS
    assert purchases[1].purchase_id == "00002-19970112-1"
    assert purchases[2].purchase_id == "00002-19970112-2"


def test_another_file_is_refused(tmp_path: Path) -> None:
    altered = tmp_path / "CDNOW_master.txt"
    data = cdnow.source_path().read_bytes()
    altered.write_bytes(data.replace(b"11.77", b"11.78", 1))
    with pytest.raises(cdnow.CdnowSourceError, match="SHA-256"):
        replay(ReplayConfig(days=1), tmp_path / "landing", source=altered)
    assert not (tmp_path / "landing").exists()
    assert hashlib.sha256(data).hexdigest() == cdnow.SOURCE_SHA256


def test_missing_package_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", missing)
    with pytest.raises(cdnow.CdnowSourceError, match=r"pip install 'lifetimes>=0\.11\.3,<0\.12'"):
        cdnow.source_path()


# ------------------------------------------------------------------------------------------
# the replay
# ------------------------------------------------------------------------------------------


def test_values_are_unaltered_and_every_line_lands_once(full: Path) -> None:
    """Per original day: same lines, same count, same exact dollar and CD totals."""
    rows = landed_rows(full)
    assert len(rows) == cdnow.SOURCE_ROWS
    src_amount: defaultdict[str, Decimal] = defaultdict(Decimal)
    src_count: Counter[str] = Counter()
    src_cds: Counter[str] = Counter()
    for _customer, day, cds, value in source_lines():
        iso = f"{day[:4]}-{day[4:6]}-{day[6:]}"
        src_amount[iso] += Decimal(value)
        src_count[iso] += 1
        src_cds[iso] += int(cds)
    got_amount: defaultdict[str, Decimal] = defaultdict(Decimal)
    got_count: Counter[str] = Counter()
    got_cds: Counter[str] = Counter()
    for r in rows:
        got_amount[r["original_date"]] += Decimal(r["amount"])
        got_count[r["original_date"]] += 1
        got_cds[r["original_date"]] += int(r["quantity"])
        assert r["amount"] == f"{Decimal(r['amount']):.2f}"  # two decimals, as in the file
    assert got_amount == src_amount and got_count == src_count and got_cds == src_cds
    # the multiset of (customer, date, cds, value) is the file's, line for line
    landed = Counter(
        (r["customer_id"], r["original_date"].replace("-", ""), r["quantity"], r["amount"])
        for r in rows
    )
    assert landed == Counter(tuple(line) for line in source_lines())
    assert len({r["purchase_id"] for r in rows}) == len(rows)


def test_time_shift_moves_days_and_nothing_else(tmp_path: Path) -> None:
    start = dt.date(2030, 2, 27)  # crosses a month end
    replay(ReplayConfig(start_date=start, days=5), tmp_path / "shifted")
    replay(ReplayConfig(days=5), tmp_path / "plain")
    folders = sorted(p.name for p in (tmp_path / "shifted").iterdir() if p.name[0] != ".")
    assert folders == [(start + dt.timedelta(days=i)).isoformat() for i in range(5)]
    shifted = landed_rows(tmp_path / "shifted")
    for r in shifted:
        landed_on = dt.date.fromisoformat(r["purchase_date"])
        assert landed_on - dt.date.fromisoformat(r["original_date"]) == start - dt.date(1997, 1, 1)
        assert r["purchase_date"] == r["_folder"]
        assert r["purchase_id"].split("-")[1] == r["original_date"].replace("-", "")

    def without_landing_day(rows: list[dict[str, str]]) -> list[tuple[str, ...]]:
        return [
            tuple(v for k, v in r.items() if k not in ("purchase_date", "_folder")) for r in rows
        ]

    # the same purchases in the same order, value for value: only the landing day differs
    assert without_landing_day(shifted) == without_landing_day(landed_rows(tmp_path / "plain"))


def test_deterministic_idempotent_and_extends_byte_for_byte(tmp_path: Path) -> None:
    replay(ReplayConfig(days=12), tmp_path / "a")
    replay(ReplayConfig(days=12), tmp_path / "b")
    assert tree(tmp_path / "a") == tree(tmp_path / "b")

    replay(ReplayConfig(days=5), tmp_path / "grown")
    marker = tmp_path / "grown" / "2026-01-03" / FILE
    marker.write_text(marker.read_text())  # same bytes, but we can see if it is rewritten
    before = marker.stat().st_mtime_ns
    summary = replay(ReplayConfig(days=12), tmp_path / "grown")
    assert len(summary.days_skipped) == 5 and len(summary.days_written) == 7
    assert marker.stat().st_mtime_ns == before
    assert tree(tmp_path / "grown") == tree(tmp_path / "a")
    again = replay(ReplayConfig(days=12), tmp_path / "grown")
    assert again.days_written == () and again.rows_written == 0
    redone = replay(ReplayConfig(days=12), tmp_path / "grown", overwrite=True)
    assert len(redone.days_written) == 12
    assert tree(tmp_path / "grown") == tree(tmp_path / "a")


def test_another_time_shift_is_refused_unless_overwritten(tmp_path: Path) -> None:
    replay(ReplayConfig(days=2), tmp_path)
    with pytest.raises(cdnow.ReplayMismatch, match="start date 2026-01-01"):
        replay(ReplayConfig(start_date=dt.date(2026, 3, 1), days=2), tmp_path)
    replay(ReplayConfig(start_date=dt.date(2026, 3, 1), days=2), tmp_path, overwrite=True)


@pytest.mark.parametrize("days", [0, cdnow.SOURCE_DAYS + 1])
def test_days_out_of_range_are_refused(days: int) -> None:
    with pytest.raises(ValueError, match="days must be within"):
        ReplayConfig(days=days)


def test_days_appear_whole_and_no_temp_entry_is_left(tmp_path: Path) -> None:
    stale = tmp_path / ".tmp-2026-01-03"  # as if a previous run crashed mid-day
    stale.mkdir(parents=True)
    (stale / FILE).write_text("half a file")
    seen: list[str] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            for day in ingest.landed_days(tmp_path):
                try:
                    text = (tmp_path / day.isoformat() / FILE).read_text()
                except FileNotFoundError:
                    seen.append(f"{day}: no file")
                    continue
                if not text.endswith("\n") or not text.startswith("purchase_id,"):
                    seen.append(f"{day}: partial file")

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        replay(ReplayConfig(days=60), tmp_path)
        replay(ReplayConfig(days=60), tmp_path, overwrite=True)
    finally:
        done.set()
        watcher.join()
    assert seen == []
    hidden = sorted(p.name for p in tmp_path.rglob(".*"))
    assert hidden == [cdnow.MANIFEST_NAME]


def test_shares_day_folders_with_the_simulator(tmp_path: Path) -> None:
    """Both datasets land in one zone: neither writer disturbs the other's files, and a day
    holding only the other's file is not mistaken for one of its own."""
    simulate(SimulationConfig(customers=20, days=3), tmp_path)
    churn_before = tree(tmp_path)
    replay(ReplayConfig(days=5), tmp_path)  # days 1-3 exist (simulator), 4-5 are new
    after = tree(tmp_path)
    assert {k: v for k, v in after.items() if k in churn_before} == churn_before
    assert all((tmp_path / f"2026-01-0{i}" / FILE).is_file() for i in range(1, 6))
    summary = simulate(SimulationConfig(customers=20, days=5), tmp_path)  # days 4-5: cdnow only
    assert [d.day for d in summary.days_written] == [4, 5]
    simulate(SimulationConfig(customers=20, days=5), tmp_path, overwrite=True)
    assert {k: v for k, v in tree(tmp_path).items() if k.endswith(FILE)} == {
        k: v for k, v in after.items() if k.endswith(FILE)
    }


# ------------------------------------------------------------------------------------------
# the landing contract
# ------------------------------------------------------------------------------------------


def test_a_few_days_pass_the_contract(tmp_path: Path) -> None:
    replay(ReplayConfig(days=10), tmp_path)
    with duckdb.connect() as con:
        results = [
            ingest.ingest_file(
                con, CDNOW_PURCHASES, day, ingest.day_file(tmp_path, CDNOW_PURCHASES, day)
            )
            for day in ingest.landed_days(tmp_path)
        ]
        assert [r.quarantined for r in results] == [0] * 10
        types = dict(
            con.execute(
                "select column_name, data_type from duckdb_columns() "
                "where table_name = 'cdnow_purchases'"
            ).fetchall()
        )
    assert types["amount"] == "DECIMAL(18,2)" and types["purchase_date"] == "DATE"


def test_a_header_only_day_is_an_empty_partition(tmp_path: Path) -> None:
    """The real file has a purchase every day; a day without one still gets a file."""
    day = dt.date(2026, 1, 1)
    table = cdnow.day_table([], day)
    from mlops_assets.datasets.landing_writer import write_day_files

    write_day_files(tmp_path, day, {FILE: table})
    assert (tmp_path / day.isoformat() / FILE).read_text() == (
        ",".join(CDNOW_PURCHASES.column_names) + "\n"
    )
    with duckdb.connect() as con:
        result = ingest.ingest_file(
            con, CDNOW_PURCHASES, day, ingest.day_file(tmp_path, CDNOW_PURCHASES, day)
        )
    assert result.rows_in == result.quarantined == 0


@pytest.mark.slow
def test_the_whole_replay_passes_the_contract(full: Path) -> None:
    """All 546 files through `core.ingest.ingest_file`: 69,659 rows in, none quarantined."""
    totals: Counter[str] = Counter()
    with duckdb.connect() as con:
        for day in ingest.landed_days(full):
            path = ingest.day_file(full, CDNOW_PURCHASES, day)
            result = ingest.ingest_file(con, CDNOW_PURCHASES, day, path)
            totals.update(
                rows_in=result.rows_in, valid=result.valid, quarantined=result.quarantined
            )
        loaded = con.execute(
            "select count(*), sum(amount), count(distinct customer_id) from raw.cdnow_purchases"
        ).fetchone()
    assert totals == {"rows_in": 69_659, "valid": 69_659, "quarantined": 0}
    assert loaded == (69_659, Decimal("2500315.63"), 23_570)


# ------------------------------------------------------------------------------------------
# the command line
# ------------------------------------------------------------------------------------------


def test_cli_replays_and_reports_a_mismatch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mlops_assets.cli import main

    args = ["replay-cdnow", "--days", "3", "--landing-dir", str(tmp_path)]
    assert main([*args, "--start-date", "2026-01-01"]) == 0
    assert "wrote 3 days" in capsys.readouterr().err
    assert [d.isoformat() for d in ingest.landed_days(tmp_path)] == [
        "2026-01-01",
        "2026-01-02",
        "2026-01-03",
    ]
    assert main([*args, "--start-date", "2026-02-01"]) == 2
    assert "start date 2026-01-01" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["replay-cdnow", "--days", "547"])
    assert exit_.value.code == 2
