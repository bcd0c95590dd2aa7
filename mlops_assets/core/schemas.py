"""Landing-zone contracts: the generic types, and reading one from a dataset's YAML.

A dataset declares its contract in `mlops_assets/defs/datasets/<dataset>/defs.yaml`: each source
is one CSV per day, `landing/<YYYY-MM-DD>/<source>.csv`, with exactly its columns. Ingest
validates every file against the contract, and the dataset's adapter (the one writing the
landing zone) loads the very same contract through `load_contract`, so the two can never
disagree about a column name, a type or an allowed value.

Nothing here names a dataset: a contract is data. `parse_sources` / `load_contract` reject a
wrong one with the path of the field, the value and what is allowed, e.g.
`sources.1.columns.2.type: 'integer' is not a column type; allowed: string, int, ...`.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

ColumnType = Literal["string", "int", "float", "decimal", "date", "timestamp"]
"""`decimal` is exact (SQL DECIMAL(18, scale)): use it for money, whose sums and averages must
be bit-for-bit reproducible. A value with more decimal places than `scale` is rejected, never
rounded."""

COLUMN_TYPES: tuple[str, ...] = get_args(ColumnType)
TIME_TYPES = ("date", "timestamp")
NUMERIC_TYPES = ("int", "float", "decimal")
NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"  # a source: raw table `raw.<name>`, asset `raw_<name>`
COLUMN_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,62}$"  # a SQL identifier we quote ourselves
_NAME, _COLUMN = re.compile(NAME_PATTERN), re.compile(COLUMN_PATTERN)


class ContractError(ValueError):
    """A contract that cannot work; the message starts with the path of the wrong field."""


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

    @property
    def sql_type(self) -> str:
        """The DuckDB type the column is loaded as."""
        if self.type == "decimal":
            return f"DECIMAL(18,{self.scale})"
        return _SQL_TYPES[self.type]


_SQL_TYPES = {
    "string": "VARCHAR",
    "int": "BIGINT",
    "float": "DOUBLE",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
}


@dataclass(frozen=True)
class SourceSpec:
    """A landing-zone source: `landing/<YYYY-MM-DD>/<name>.csv` with exactly `columns`.

    `references` maps a column to the source whose (single-column) key it must name: rows
    whose value is unknown there, as of their day, are counted by the orphan check."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    event_time: str | None = None
    description: str = ""
    required: bool = True  # a missing file for a day is an error, not an empty day
    event_time_in_partition: bool = False  # event_time must fall on the partition's day
    references: tuple[tuple[str, str], ...] = ()  # (column, referenced source)
    column_names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "column_names", tuple(c.name for c in self.columns))

    @property
    def file_name(self) -> str:
        return f"{self.name}.csv"

    @property
    def raw_table(self) -> str:
        return f"raw.{self.name}"

    def column(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(f"{self.name} has no column {name!r}; columns: {list(self.column_names)}")

    @property
    def event_time_type(self) -> str | None:
        return self.column(self.event_time).type if self.event_time else None

    @property
    def timestamped_in_partition(self) -> bool:
        """Events carry a time of day and fall on their partition's day: the day's volume and
        its newest event say whether the file is complete (row count, freshness checks)."""
        return self.event_time_in_partition and self.event_time_type == "timestamp"


@dataclass(frozen=True)
class DatasetContract:
    """A dataset's landing contract: its sources and its first day."""

    name: str
    start_date: dt.date
    sources: tuple[SourceSpec, ...]

    def source(self, name: str) -> SourceSpec:
        for source in self.sources:
            if source.name == name:
                return source
        raise KeyError(f"dataset {self.name!r} has no source {name!r}; sources: {self.names}")

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.sources]

    @property
    def file_names(self) -> tuple[str, ...]:
        return tuple(s.file_name for s in self.sources)

    @property
    def required_files(self) -> tuple[str, ...]:
        return tuple(s.file_name for s in self.sources if s.required)


# --------------------------------------------------------------------------------------------
# parsing a contract from plain data (a dataset YAML's `sources:`)

_COLUMN_FIELDS = ("name", "type", "nullable", "min", "max", "allowed", "description", "scale")
_SOURCE_FIELDS = (
    "name",
    "description",
    "columns",
    "key",
    "event_time",
    "event_time_in_partition",
    "required",
    "references",
)


def _fail(where: str, message: str) -> ContractError:
    return ContractError(f"{where}: {message}")


def _mapping(value: Any, where: str, allowed: Sequence[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail(where, f"expected a mapping with fields {', '.join(allowed)}, got {value!r}")
    unknown = [k for k in value if k not in allowed]
    if unknown:
        raise _fail(f"{where}.{unknown[0]}", f"unknown field; allowed fields: {', '.join(allowed)}")
    return value


def _required(doc: Mapping[str, Any], name: str, where: str) -> Any:
    if name not in doc or doc[name] is None:
        raise _fail(f"{where}.{name}", "field required")
    return doc[name]


def _text(value: Any, where: str, pattern: re.Pattern[str] | None = None) -> str:
    if not isinstance(value, str):
        raise _fail(where, f"expected a string, got {value!r}")
    if pattern is not None and not pattern.match(value):
        raise _fail(where, f"{value!r} does not match {pattern.pattern}")
    return value


def _flag(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise _fail(where, f"expected true or false, got {value!r}")
    return value


def _number(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _fail(where, f"expected a finite number, got {value!r}")
    return value


def _names(value: Any, where: str, pattern: re.Pattern[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, Sequence) or not value:
        raise _fail(where, f"expected a non-empty list of names, got {value!r}")
    return tuple(_text(v, f"{where}.{i}", pattern) for i, v in enumerate(value))


def parse_column(doc: Any, where: str = "column") -> Column:
    """One column from `{name, type, nullable, min, max, allowed, description, scale}`."""
    doc = _mapping(doc, where, _COLUMN_FIELDS)
    name = _text(_required(doc, "name", where), f"{where}.name", _COLUMN)
    kind = _required(doc, "type", where)
    if kind not in COLUMN_TYPES:
        raise _fail(
            f"{where}.type", f"{kind!r} is not a column type; allowed: {', '.join(COLUMN_TYPES)}"
        )
    low, high = _number(doc.get("min"), f"{where}.min"), _number(doc.get("max"), f"{where}.max")
    if (low is not None or high is not None) and kind not in NUMERIC_TYPES:
        bound = "min" if low is not None else "max"
        raise _fail(
            f"{where}.{bound}", f"only {', '.join(NUMERIC_TYPES)} columns take bounds, not {kind}"
        )
    if low is not None and high is not None and low > high:
        raise _fail(f"{where}.min", f"min {low} is above max {high}")
    allowed = doc.get("allowed")
    if allowed is not None:
        if kind != "string":
            raise _fail(f"{where}.allowed", f"only string columns take allowed values, not {kind}")
        if isinstance(allowed, str) or not isinstance(allowed, Sequence) or not allowed:
            raise _fail(f"{where}.allowed", f"expected a non-empty list, got {allowed!r}")
        allowed = tuple(_text(a, f"{where}.allowed.{i}") for i, a in enumerate(allowed))
        if any("'" in a for a in allowed):
            raise _fail(f"{where}.allowed", "values may not contain a single quote")
    scale = doc.get("scale", 2)
    if "scale" in doc and kind != "decimal":
        raise _fail(f"{where}.scale", f"only decimal columns take a scale, not {kind}")
    if isinstance(scale, bool) or not isinstance(scale, int) or not 0 <= scale <= 18:
        raise _fail(f"{where}.scale", f"expected a whole number within [0, 18], got {scale!r}")
    return Column(
        name=name,
        type=kind,
        nullable=_flag(doc.get("nullable", False), f"{where}.nullable"),
        min=low,
        max=high,
        allowed=allowed,
        description=_text(doc.get("description", ""), f"{where}.description"),
        scale=scale,
    )


def parse_source(doc: Any, where: str = "source") -> SourceSpec:
    """One source from its mapping; `references` are checked by `parse_sources`."""
    doc = _mapping(doc, where, _SOURCE_FIELDS)
    name = _text(_required(doc, "name", where), f"{where}.name", _NAME)
    raw_columns = _required(doc, "columns", where)
    if isinstance(raw_columns, str | Mapping) or not isinstance(raw_columns, Sequence):
        raise _fail(f"{where}.columns", f"expected a list of columns, got {raw_columns!r}")
    if not raw_columns:
        raise _fail(f"{where}.columns", "a source needs at least one column")
    columns = tuple(parse_column(c, f"{where}.columns.{i}") for i, c in enumerate(raw_columns))
    seen: set[str] = set()
    for i, column in enumerate(columns):
        if column.name in seen:
            raise _fail(f"{where}.columns.{i}.name", f"column {column.name!r} appears twice")
        seen.add(column.name)
    by_name = {c.name: c for c in columns}

    def known(column: str, at: str) -> str:
        if column not in by_name:
            raise _fail(at, f"{column!r} is not a column of {name}; columns: {', '.join(by_name)}")
        return column

    key = _names(_required(doc, "key", where), f"{where}.key", _COLUMN)
    for i, k in enumerate(key):
        known(k, f"{where}.key.{i}")
    event_time = doc.get("event_time")
    if event_time is not None:
        known(_text(event_time, f"{where}.event_time"), f"{where}.event_time")
        if by_name[event_time].type not in TIME_TYPES:
            raise _fail(
                f"{where}.event_time",
                f"{event_time!r} is a {by_name[event_time].type} column; allowed: "
                f"{' or '.join(TIME_TYPES)}",
            )
    in_partition = _flag(
        doc.get("event_time_in_partition", False), f"{where}.event_time_in_partition"
    )
    if in_partition and event_time is None:
        raise _fail(f"{where}.event_time_in_partition", "needs an event_time")
    references = doc.get("references") or {}
    if not isinstance(references, Mapping):
        raise _fail(f"{where}.references", f"expected a mapping column: source, got {references!r}")
    refs = tuple(
        (
            known(column, f"{where}.references.{column}"),
            _text(target, f"{where}.references.{column}"),
        )
        for column, target in references.items()
    )
    return SourceSpec(
        name=name,
        columns=columns,
        key=key,
        event_time=event_time,
        description=_text(doc.get("description", ""), f"{where}.description"),
        required=_flag(doc.get("required", True), f"{where}.required"),
        event_time_in_partition=in_partition,
        references=refs,
    )


def parse_sources(docs: Any, where: str = "sources") -> tuple[SourceSpec, ...]:
    """A dataset's sources: each parsed, names unique, every reference resolvable (a source of
    the same dataset with a one-column key of the same type)."""
    if isinstance(docs, str | Mapping) or not isinstance(docs, Sequence) or not docs:
        raise _fail(where, f"expected a non-empty list of sources, got {docs!r}")
    sources = tuple(parse_source(d, f"{where}.{i}") for i, d in enumerate(docs))
    by_name: dict[str, SourceSpec] = {}
    for i, source in enumerate(sources):
        if source.name in by_name:
            raise _fail(f"{where}.{i}.name", f"source {source.name!r} appears twice")
        by_name[source.name] = source
    for i, source in enumerate(sources):
        for column, target in source.references:
            at = f"{where}.{i}.references.{column}"
            if target not in by_name or target == source.name:
                others = [n for n in by_name if n != source.name]
                raise _fail(at, f"{target!r} is not another source of this dataset; "
                            f"sources: {', '.join(others) or 'none'}")  # fmt: skip
            parent = by_name[target]
            if len(parent.key) != 1:
                raise _fail(at, f"{target} has a composite key {list(parent.key)}: "
                            "a reference needs a one-column key")  # fmt: skip
            if parent.column(parent.key[0]).type != source.column(column).type:
                raise _fail(at, f"{column} is {source.column(column).type} but {target}."
                            f"{parent.key[0]} is {parent.column(parent.key[0]).type}")  # fmt: skip
    return sources


def unique_source_names(contracts: Iterable[tuple[str, Sequence[SourceSpec]]]) -> None:
    """Source names are global (raw tables, asset keys, landing files share one namespace):
    raise naming both datasets when two declare the same source."""
    owner: dict[str, str] = {}
    for dataset, sources in contracts:
        for source in sources:
            if source.name in owner and owner[source.name] != dataset:
                raise ContractError(
                    f"source {source.name!r} is declared by datasets {owner[source.name]!r} and "
                    f"{dataset!r}: source names must be unique across datasets (they name the "
                    f"raw table raw.{source.name} and the landing file {source.file_name})"
                )
            owner[source.name] = dataset


def load_contract(path: Path | str) -> DatasetContract:
    """The landing contract declared in a dataset's `defs.yaml` (its `attributes:` name,
    `partitions.start_date` and `sources`); a wrong file raises `ContractError` naming the
    file and the field."""
    import yaml

    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ContractError(f"{path}: no such dataset file") from None
    except yaml.YAMLError as err:
        raise ContractError(f"{path}: not valid YAML: {err}") from err
    attributes = doc.get("attributes") if isinstance(doc, dict) else None
    if not isinstance(attributes, dict):
        raise ContractError(f"{path}: `attributes:` must be a mapping of the dataset's fields")
    try:
        name = _text(_required(attributes, "name", "attributes"), "attributes.name", _NAME)
        partitions = _required(attributes, "partitions", "attributes")
        if not isinstance(partitions, Mapping):
            raise _fail("attributes.partitions", f"expected a mapping, got {partitions!r}")
        start = _required(partitions, "start_date", "attributes.partitions")
        try:
            start = start if isinstance(start, dt.date) else dt.date.fromisoformat(str(start))
        except ValueError:
            raise _fail(
                "attributes.partitions.start_date", f"expected a date YYYY-MM-DD, got {start!r}"
            ) from None
        sources = parse_sources(
            _required(attributes, "sources", "attributes"), "attributes.sources"
        )
    except ContractError as err:
        raise ContractError(f"{path}: {err}") from err
    return DatasetContract(name=name, start_date=start, sources=sources)
