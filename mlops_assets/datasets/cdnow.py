"""CDNOW: real purchases of a CD store, replayed into the landing zone one day at a time.

The data: `CDNOW_master.txt`, shipped in the `lifetimes` package (MIT): every purchase made
from 1997-01-01 to 1998-06-30 by the 23,570 customers whose first purchase at CDNOW was in the
first quarter of 1997 — 69,659 lines of `customer_id date(YYYYMMDD) number_of_cds dollar_value`.
The file is read from the installed distribution without importing `lifetimes` (its
`__init__` imports scipy and autograd; we only want a data file), and its SHA-256 must match
`SOURCE_SHA256`, so a different file can never be replayed silently.

What is landed: `landing_dir/<YYYY-MM-DD>/cdnow_purchases.csv`, one file per calendar day of
the replay (a day without purchases gets a header-only file), to the `CDNOW_PURCHASES`
contract (the `cdnow` dataset's YAML, `mlops_assets/defs/datasets/cdnow/defs.yaml`, loaded
through `mlops_assets.datasets.contract`). Time is shifted — `start_date` is the day 1997-01-01
lands on (default: the dataset's `partitions.start_date`) — and nothing else is changed:
amounts are the file's own two-decimal values, quantities and customer ids are the file's, and
every row carries its `original_date` and a deterministic `purchase_id`
(`<customer>-<original YYYYMMDD>-<n>`, the n-th line of that customer on that day in file
order), so each landed row maps back to exactly one line of the source.

Label-free by design: only events are landed. "Buys again within 90 days" is derived from the
purchases themselves in dbt (`cdnow_repurchase_labels`), so labels can never disagree with the
events they summarise, and they "arrive" 90 days after their observation day because that is
when the purchases that decide them have landed.

Data facts (checked in tests/datasets/test_cdnow.py): 546 calendar days, every one with at
least 44 purchases; 80 lines with a dollar value of 0.00 (all for 1 CD: kept — the contract
allows 0, these look like free or promotional CDs); 215 groups of byte-identical lines (255
extra copies: same customer, day, count and value) — kept as distinct purchases, since the
file has no transaction id that could tell a repeat purchase from a duplicate, and dropping
them would alter the data; 1,774 customer-days with more than one line (up to 16).

Writes go through `landing_writer` (a day folder appears whole, another dataset's files in
it are untouched); days already holding `cdnow_purchases.csv` are skipped unless `overwrite`,
so a longer replay extends a shorter one byte for byte.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path

from mlops_assets.datasets import contract
from mlops_assets.datasets.landing_writer import day_has_files, write_day_files

SOURCE_DISTRIBUTION = "lifetimes"
SOURCE_REQUIREMENT = "lifetimes>=0.11.3,<0.12"
SOURCE_FILE = "lifetimes/datasets/CDNOW_master.txt"
SOURCE_SHA256 = "eff6889ed364c5199d6eacbbeb7a6d559971df4406ac876f322c373f00a072ef"
SOURCE_FIRST_DAY = date(1997, 1, 1)
SOURCE_LAST_DAY = date(1998, 6, 30)
SOURCE_DAYS = (SOURCE_LAST_DAY - SOURCE_FIRST_DAY).days + 1  # 546
SOURCE_ROWS = 69_659
MANIFEST_NAME = ".cdnow.json"  # hidden: landing-zone readers skip dot entries

DATASET = "cdnow"
CONTRACT = contract(DATASET)  # mlops_assets/defs/datasets/cdnow/defs.yaml
CDNOW_PURCHASES = CONTRACT.source("cdnow_purchases")
"""The landing contract of the replay (validated by `core.ingest` like any other source)."""


class CdnowSourceError(RuntimeError):
    """The CDNOW file is missing, is not the expected file, or has a line we cannot read."""


class ReplayMismatch(ValueError):
    """The landing dir holds a CDNOW replay with another time shift: extending it would land
    the same purchase on two different days."""


@dataclass(frozen=True)
class Purchase:
    """One line of the source file, with its position among that customer's lines that day."""

    customer_id: str
    original_date: date
    quantity: int
    amount: Decimal
    index: int  # 1-based, among this customer's lines on this original day, in file order

    @property
    def purchase_id(self) -> str:
        return f"{self.customer_id}-{self.original_date:%Y%m%d}-{self.index}"


@dataclass(frozen=True)
class ReplayConfig:
    """Which part of the history to replay, and where in time."""

    # the day 1997-01-01 lands on: by default the dataset's first partition (its YAML)
    start_date: date = field(default_factory=lambda: CONTRACT.start_date)
    days: int = 365  # calendar days replayed from 1997-01-01 (at most SOURCE_DAYS)

    def __post_init__(self) -> None:
        if not 1 <= self.days <= SOURCE_DAYS:
            raise ValueError(f"days must be within [1, {SOURCE_DAYS}], got {self.days}")

    def landing_day(self, original: date) -> date:
        return self.start_date + (original - SOURCE_FIRST_DAY)

    def original_day(self, landing: date) -> date:
        return SOURCE_FIRST_DAY + (landing - self.start_date)

    @property
    def landing_days(self) -> list[date]:
        return [self.start_date + timedelta(days=i) for i in range(self.days)]


@dataclass(frozen=True)
class ReplaySummary:
    """What one `replay` call did. Rows and amounts cover the days written by this call."""

    landing_dir: Path
    days_written: tuple[date, ...]
    days_skipped: tuple[date, ...]
    rows_written: int
    amount_written: Decimal


def source_path() -> Path:
    """CDNOW_master.txt inside the installed `lifetimes` distribution (nothing imported)."""
    try:
        dist = importlib.metadata.distribution(SOURCE_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        raise CdnowSourceError(
            f"the CDNOW data ships in the {SOURCE_DISTRIBUTION!r} package, which is not "
            f"installed: pip install '{SOURCE_REQUIREMENT}'"
        ) from None
    path = Path(str(dist.locate_file(SOURCE_FILE)))
    if not path.is_file():
        raise CdnowSourceError(
            f"{SOURCE_DISTRIBUTION} {dist.version} is installed but {path} is missing: "
            f"reinstall it (pip install --force-reinstall '{SOURCE_REQUIREMENT}')"
        )
    return path


def read_source(path: Path | None = None) -> list[Purchase]:
    """Every line of the source file as a `Purchase`, in file order, after the checksum check.

    Raises `CdnowSourceError` if the file's SHA-256 is not `SOURCE_SHA256` or a line does not
    parse (nothing is skipped: a line we cannot read exactly is an error, not a drop)."""
    path = Path(path) if path is not None else source_path()
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != SOURCE_SHA256:
        raise CdnowSourceError(
            f"{path} has SHA-256 {digest}, not the CDNOW_master.txt this adapter was written "
            f"for ({SOURCE_SHA256}): refusing to replay an unknown file"
        )
    lines = data.decode("ascii").splitlines()
    if lines[0].split() != ["customer_id", "date", "number_of_cds", "dollar_value"]:
        raise CdnowSourceError(f"{path}: unexpected header {lines[0]!r}")
    purchases: list[Purchase] = []
    seen: dict[tuple[str, date], int] = {}
    for number, line in enumerate(lines[1:], start=2):
        purchase = _parse(line, path, number, seen)
        purchases.append(purchase)
    return purchases


def _parse(line: str, path: Path, number: int, seen: dict[tuple[str, date], int]) -> Purchase:
    where = f"{path}:{number}"
    fields = line.split()
    if len(fields) != 4:
        raise CdnowSourceError(f"{where}: expected 4 fields, got {len(fields)}: {line!r}")
    customer, day, count, value = fields
    try:
        original = date(int(day[:4]), int(day[4:6]), int(day[6:]))
        quantity = int(count)
        amount = Decimal(value)
    except (ValueError, InvalidOperation):
        raise CdnowSourceError(f"{where}: cannot read {line!r}") from None
    if not (customer.isdigit() and len(day) == 8 and amount.is_finite()):
        raise CdnowSourceError(f"{where}: cannot read {line!r}")
    if amount != amount.quantize(Decimal("0.01")):  # landing would have to round it: refuse
        raise CdnowSourceError(f"{where}: {value} has more than 2 decimal places")
    key = (customer, original)
    seen[key] = seen.get(key, 0) + 1
    return Purchase(customer, original, quantity, amount, seen[key])


def replay(
    config: ReplayConfig,
    landing_dir: Path,
    *,
    overwrite: bool = False,
    source: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> ReplaySummary:
    """Land `config.days` days of CDNOW purchases, one `cdnow_purchases.csv` per day.

    Days whose file exists are skipped (not read, not rewritten) unless `overwrite`. Raises
    `ReplayMismatch` if the landing dir holds a replay with another `start_date` (and not
    `overwrite`), `CdnowSourceError` if the source file is missing or not the expected one."""
    landing_dir = Path(landing_dir)
    purchases = read_source(source)
    landing_dir.mkdir(parents=True, exist_ok=True)
    _check_manifest(landing_dir, config, overwrite)
    by_day: dict[date, list[Purchase]] = {}
    for p in purchases:
        by_day.setdefault(p.original_date, []).append(p)
    written: list[date] = []
    skipped: list[date] = []
    rows, amount = 0, Decimal("0.00")
    file_names = (CDNOW_PURCHASES.file_name,)
    for i, day in enumerate(config.landing_days):
        if not overwrite and day_has_files(landing_dir, day, file_names):
            skipped.append(day)
        else:
            day_purchases = by_day.get(config.original_day(day), [])
            write_day_files(landing_dir, day, {file_names[0]: day_table(day_purchases, day)})
            written.append(day)
            rows += len(day_purchases)
            amount += sum((p.amount for p in day_purchases), Decimal("0.00"))
        if progress is not None and (i % 30 == 29 or i in (0, config.days - 1)):
            state = "exists, skipped" if skipped and skipped[-1] == day else "written"
            progress(f"day {i + 1}/{config.days} {day} (from {config.original_day(day)}): {state}")
    return ReplaySummary(
        landing_dir=landing_dir,
        days_written=tuple(written),
        days_skipped=tuple(skipped),
        rows_written=rows,
        amount_written=amount,
    )


def day_table(purchases: list[Purchase], day: date) -> dict[str, list[str]]:
    """One day's file as string columns in contract order (file order of the source lines)."""
    table: dict[str, list[str]] = {
        "purchase_id": [p.purchase_id for p in purchases],
        "customer_id": [p.customer_id for p in purchases],
        "purchase_date": [day.isoformat()] * len(purchases),
        "original_date": [p.original_date.isoformat() for p in purchases],
        "quantity": [str(p.quantity) for p in purchases],
        "amount": [f"{p.amount:.2f}" for p in purchases],
    }
    if tuple(table) != CDNOW_PURCHASES.column_names:
        raise AssertionError(f"columns {tuple(table)} break the cdnow_purchases contract")
    return table


def _check_manifest(landing_dir: Path, config: ReplayConfig, overwrite: bool) -> None:
    """Refuse to extend a replay made with another time shift: it would mix two timelines."""
    path = landing_dir / MANIFEST_NAME
    wanted = {"start_date": config.start_date.isoformat(), "source_sha256": SOURCE_SHA256}
    if path.exists() and not overwrite:
        found = json.loads(path.read_text())
        if found != wanted:
            raise ReplayMismatch(
                f"{landing_dir} holds a CDNOW replay with start date {found.get('start_date')} "
                f"(source {str(found.get('source_sha256'))[:12]}…), not "
                f"{wanted['start_date']} ({SOURCE_SHA256[:12]}…): overwrite it (--overwrite) "
                "or choose another landing dir"
            )
    tmp = path.with_name(f"{MANIFEST_NAME}.tmp")
    tmp.write_text(json.dumps(wanted, sort_keys=True) + "\n")
    tmp.replace(path)


__all__ = [
    "CDNOW_PURCHASES",
    "MANIFEST_NAME",
    "SOURCE_DAYS",
    "SOURCE_FIRST_DAY",
    "SOURCE_LAST_DAY",
    "SOURCE_ROWS",
    "SOURCE_SHA256",
    "CdnowSourceError",
    "Purchase",
    "ReplayConfig",
    "ReplayMismatch",
    "ReplaySummary",
    "day_table",
    "read_source",
    "replay",
    "source_path",
]
