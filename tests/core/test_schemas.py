"""Landing contracts as data: parsing a dataset's sources from a dict (what its YAML holds),
the errors a wrong one gets (path of the field, the value, what is allowed), loading a
contract from a YAML file, and the rules that follow from a contract alone (which days a
dataset has landed; generic quality rules over any source)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest
import yaml

from mlops_assets.core import ingest, quality, schemas

DAY = dt.date(2026, 3, 1)


def _orders() -> list[dict]:
    """A small two-source dataset that is not one of ours: accounts and their orders."""
    return [
        {
            "name": "accounts",
            "key": ["account_ref"],
            "event_time": "opened_on",
            "columns": [
                {"name": "account_ref", "type": "string"},
                {"name": "opened_on", "type": "date"},
                {"name": "tier", "type": "string", "allowed": ["gold", "silver"]},
            ],
        },
        {
            "name": "orders",
            "key": ["order_ref"],
            "event_time": "placed_at",
            "event_time_in_partition": True,
            "references": {"account_ref": "accounts"},
            "columns": [
                {"name": "order_ref", "type": "string"},
                {"name": "account_ref", "type": "string"},
                {"name": "placed_at", "type": "timestamp"},
                {"name": "total", "type": "decimal", "scale": 3, "min": 0},
            ],
        },
        {
            "name": "refunds",
            "key": ["order_ref"],
            "required": False,
            "columns": [{"name": "order_ref", "type": "string"}],
        },
    ]


def test_a_contract_parses_from_plain_data() -> None:
    accounts, orders, refunds = schemas.parse_sources(_orders())
    assert accounts.key == ("account_ref",) and accounts.event_time_type == "date"
    assert accounts.column("tier").allowed == ("gold", "silver")
    assert orders.references == (("account_ref", "accounts"),)
    assert orders.timestamped_in_partition and not accounts.timestamped_in_partition
    assert orders.column("total").sql_type == "DECIMAL(18,3)"
    assert orders.raw_table == "raw.orders" and orders.file_name == "orders.csv"
    assert not refunds.required


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: d[1]["columns"][3].update(type="money"),
            "sources.1.columns.3.type: 'money' is not a column type; allowed: string, int, float, "
            "decimal, date, timestamp",
        ),
        (
            lambda d: d[0]["columns"][0].update(colour="red"),
            "sources.0.columns.0.colour: unknown field; allowed fields: name, type, nullable",
        ),
        (lambda d: d[0].pop("key"), "sources.0.key: field required"),
        (
            lambda d: d[1].update(key=["ref"]),
            "sources.1.key.0: 'ref' is not a column of orders; columns: order_ref, account_ref",
        ),
        (
            lambda d: d[1].update(event_time="total"),
            "sources.1.event_time: 'total' is a decimal column; allowed: date or timestamp",
        ),
        (
            lambda d: d[0].update(event_time_in_partition=True, event_time=None),
            "sources.0.event_time_in_partition: needs an event_time",
        ),
        (
            lambda d: d[1].update(references={"account_ref": "users"}),
            "sources.1.references.account_ref: 'users' is not another source of this dataset; "
            "sources: accounts, refunds",
        ),
        (
            lambda d: d[1]["columns"].append({"name": "total", "type": "float"}),
            "sources.1.columns.4.name: column 'total' appears twice",
        ),
        (
            lambda d: d[2].update(name="orders"),
            "sources.2.name: source 'orders' appears twice",
        ),
        (
            lambda d: d[0]["columns"][2].update(min=1),
            "sources.0.columns.2.min: only int, float, decimal columns take bounds, not string",
        ),
        (
            lambda d: d[1]["columns"][3].update(scale=19),
            "sources.1.columns.3.scale: expected a whole number within [0, 18], got 19",
        ),
        (
            lambda d: d[0]["columns"][1].update(scale=2),
            "sources.0.columns.1.scale: only decimal columns take a scale, not date",
        ),
        (
            lambda d: d[0].update(name="Accounts"),
            "sources.0.name: 'Accounts' does not match",
        ),
    ],
)
def test_a_wrong_contract_names_the_field_the_value_and_what_is_allowed(change, message) -> None:
    docs = _orders()
    change(docs)
    with pytest.raises(schemas.ContractError) as raised:
        schemas.parse_sources(docs)
    assert str(raised.value).startswith(message), raised.value


def test_source_names_are_unique_across_datasets() -> None:
    sources = schemas.parse_sources(_orders())
    schemas.unique_source_names([("shop", sources), ("other", sources[:0])])
    with pytest.raises(schemas.ContractError, match="'accounts' is declared by datasets 'shop'"):
        schemas.unique_source_names([("shop", sources), ("crm", sources[:1])])


def test_load_contract_reads_a_dataset_yaml_and_names_the_file(tmp_path: Path) -> None:
    doc = {
        "type": "anything",
        "attributes": {
            "name": "shop",
            "partitions": {"start_date": "2026-02-01"},
            "sources": _orders(),
            "dbt": {"select": "ignored here"},
        },
    }
    path = tmp_path / "defs.yaml"
    path.write_text(yaml.safe_dump(doc))
    contract = schemas.load_contract(path)
    assert contract.name == "shop" and contract.start_date == dt.date(2026, 2, 1)
    assert contract.required_files == ("accounts.csv", "orders.csv")
    doc["attributes"]["sources"][1]["columns"][3]["type"] = "money"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(schemas.ContractError) as raised:
        schemas.load_contract(path)
    assert str(raised.value).startswith(f"{path}: attributes.sources.1.columns.3.type: 'money'")
    with pytest.raises(schemas.ContractError, match="no such dataset file"):
        schemas.load_contract(tmp_path / "missing.yaml")


def test_landed_days_count_a_day_for_a_dataset_when_its_required_files_are_there(
    tmp_path: Path,
) -> None:
    """The landing zone is shared: another dataset's day is not this dataset's day."""
    sources = schemas.parse_sources(_orders())
    days = [DAY + dt.timedelta(days=i) for i in range(4)]
    for day in days:
        (tmp_path / day.isoformat()).mkdir()
    for name in ("accounts.csv", "orders.csv"):  # day 0: complete (refunds are optional)
        (tmp_path / days[0].isoformat() / name).write_text("x\n")
    (tmp_path / days[1].isoformat() / "accounts.csv").write_text("x\n")  # orders missing
    (tmp_path / days[2].isoformat() / "other_dataset.csv").write_text("x\n")
    (tmp_path / days[3].isoformat() / "orders.csv").symlink_to(tmp_path / "nowhere")
    (tmp_path / days[3].isoformat() / "accounts.csv").write_text("x\n")
    assert ingest.landed_days(tmp_path, sources) == [days[0], days[3]]  # a link: refused later
    assert ingest.landed_days(tmp_path) == days  # without a dataset: every day folder
    optional_only = schemas.parse_sources([_orders()[2]])
    assert ingest.landed_days(tmp_path, optional_only) == []


def _load(con, spec: schemas.SourceSpec, rows: list[tuple], day: dt.date) -> None:
    ingest.ensure_tables(con, spec)
    names = ", ".join(f'"{c}"' for c in spec.column_names)
    marks = ", ".join("?" for _ in spec.column_names)
    for row in rows:
        con.execute(
            f"INSERT INTO {spec.raw_table} ({names}, _partition_date, _source_file, "
            f"_ingested_at) VALUES ({marks}, ?, 'f', now())",
            [*row, day],
        )


def test_the_orphan_rule_follows_the_contracts_reference() -> None:
    accounts, orders, _ = schemas.parse_sources(_orders())
    con = duckdb.connect()
    _load(con, accounts, [("A1", DAY, "gold"), ("A2", DAY, "silver")], DAY)
    later = DAY + dt.timedelta(days=1)
    _load(con, accounts, [("A3", later, "gold")], later)  # known only from the next day
    placed = dt.datetime.combine(DAY, dt.time(12))
    rows = [(f"O{i}", ref, placed, 10) for i, ref in enumerate(["A1", "A2", "A3", "A9"])]
    _load(con, orders, rows, DAY)
    column, _ = orders.references[0]
    outcome = quality.orphan_rate(con, orders, DAY, 0.3, column=column, parent=accounts)
    assert not outcome.passed  # A3 is not known yet on DAY, A9 never
    assert outcome.metadata["orphan_rate"] == 0.5
    assert outcome.metadata["examples"] == ["A3", "A9"]
    assert outcome.summary == "2 of 4 rows reference unknown accounts (50.00%)"
    assert quality.orphan_rate(con, orders, DAY, 0.5, column=column, parent=accounts).passed
