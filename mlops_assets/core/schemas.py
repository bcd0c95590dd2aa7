"""The landing-zone contract: one CSV per source per day, and the rules each row must meet.

The simulator writes these files; ingest validates them against the same specs, so the two
can never disagree about a column name, a type or an allowed value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ColumnType = Literal["string", "int", "float", "decimal", "date", "timestamp"]
"""`decimal` is exact (SQL DECIMAL(18, scale)): use it for money, whose sums and averages must
be bit-for-bit reproducible. A value with more decimal places than `scale` is rejected, never
rounded."""


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    nullable: bool = False
    min: float | None = None
    max: float | None = None
    allowed: tuple[str, ...] | None = None
    description: str = ""
    scale: int = 2  # decimal places of a `decimal` column; ignored by the other types

    def __post_init__(self) -> None:
        if not 0 <= self.scale <= 18:
            raise ValueError(f"{self.name}: scale must be within [0, 18], got {self.scale}")


@dataclass(frozen=True)
class SourceSpec:
    """A landing-zone source: `landing/<YYYY-MM-DD>/<name>.csv` with exactly `columns`."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    event_time: str | None = None
    description: str = ""
    required: bool = True  # a missing file for a day is an error, not an empty day
    event_time_in_partition: bool = False  # event_time must fall on the partition's day
    column_names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "column_names", tuple(c.name for c in self.columns))

    @property
    def file_name(self) -> str:
        return f"{self.name}.csv"

    @property
    def raw_table(self) -> str:
        return f"raw.{self.name}"


PLANS = ("basic", "standard", "premium")
REGIONS = ("north", "south", "east", "west")
CHANNELS = ("web", "mobile", "store")
TICKET_CATEGORIES = ("billing", "technical", "account", "other")
PRIORITIES = ("low", "medium", "high")

CUSTOMERS = SourceSpec(
    name="customers",
    description="Customers who signed up that day (the first day also carries the initial base).",
    key=("customer_id",),
    event_time="signup_date",
    columns=(
        Column("customer_id", "string", description="Stable customer identifier, e.g. C000123."),
        Column("signup_date", "date"),
        Column("plan", "string", allowed=PLANS),
        Column("region", "string", allowed=REGIONS),
        Column("age", "int", min=18, max=100),
        Column("monthly_fee", "decimal", min=0, max=1000),
    ),
)

TRANSACTIONS = SourceSpec(
    name="transactions",
    description="One row per purchase made that day.",
    key=("transaction_id",),
    event_time="transaction_ts",
    event_time_in_partition=True,
    columns=(
        Column("transaction_id", "string"),
        Column("customer_id", "string"),
        Column("transaction_ts", "timestamp"),
        Column("amount", "decimal", min=0.01, max=100_000),
        Column("channel", "string", allowed=CHANNELS),
    ),
)

SUPPORT_TICKETS = SourceSpec(
    name="support_tickets",
    description="One row per support ticket opened that day.",
    key=("ticket_id",),
    event_time="created_ts",
    event_time_in_partition=True,
    columns=(
        Column("ticket_id", "string"),
        Column("customer_id", "string"),
        Column("created_ts", "timestamp"),
        Column("category", "string", allowed=TICKET_CATEGORIES),
        Column("priority", "string", allowed=PRIORITIES),
    ),
)

CHURN_LABELS = SourceSpec(
    name="churn_labels",
    description=(
        "Delayed labels: on day D, one row per customer active on D - label_delay_days, "
        "saying whether they churned within label_delay_days after that observation date."
    ),
    key=("customer_id", "observation_date"),
    event_time="observation_date",
    required=False,  # labels only start arriving label_delay_days after the first day
    columns=(
        Column("customer_id", "string"),
        Column("observation_date", "date"),
        Column("churned", "int", min=0, max=1),
    ),
)

SOURCES: tuple[SourceSpec, ...] = (CUSTOMERS, TRANSACTIONS, SUPPORT_TICKETS, CHURN_LABELS)
SOURCES_BY_NAME = {s.name: s for s in SOURCES}
