"""Contract of the SQLite bulk writer (`sqlite_writer.write_rows`), held against Feast itself.

What `write_rows` writes, Feast's own `get_online_features` reads back, and the SQLite table is
byte for byte what Feast's own `FeatureStore.materialize` writes for the same rows: entity keys,
ValueProto bytes, value_text, timestamps (as stored and their SQLite types). The rows handed to
the writer are built here by hand, not by our offline reader, so only the writer is under test.
"""

from __future__ import annotations

import sqlite3
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlops_assets.core import feature_store as fs
from mlops_assets.core.feature_store.offline_reads import CREATED_MICROS, EVENT_MICROS
from mlops_assets.core.feature_store.sqlite_writer import write_rows
from tests.feature_columns import FEATURE_COLUMNS

from .data import day_frame, day_ts, write_day
from .names import SERVICE

DAY = date(2026, 3, 1)
IDS = [f"C{i:03d}" for i in range(30)]


def _table_rows(home: Path, table: str) -> list[tuple]:
    with sqlite3.connect(home / "feast" / "online.db") as con:
        rows = con.execute(
            "SELECT entity_key, feature_name, value, value_text, vector_value, event_ts, "
            f"created_ts, typeof(event_ts), typeof(created_ts) FROM {table} ORDER BY 1, 2"
        ).fetchall()
    con.close()
    return rows


def _micros(column: pd.Series) -> pa.Array:
    """Epoch microseconds of a UTC timestamp column (null stays null)."""
    return pa.array(column, pa.timestamp("us", "UTC")).cast(pa.int64())


def _writer_input(frame: pd.DataFrame, keys: list[str], features: list[str]) -> pa.Table:
    """The writer's input, by hand: join keys, event/created micros, one column per feature."""
    columns = {k: pa.array(frame[k]) for k in keys}
    columns[EVENT_MICROS] = _micros(frame["event_timestamp"])
    columns[CREATED_MICROS] = _micros(frame["created_timestamp"])
    columns.update({f: pa.array(frame[f], from_pandas=True) for f in features})
    return pa.table(columns)


def _awkward_day() -> pd.DataFrame:
    """A day with NaN, a None, integers in a Float64 column and rows out of key order."""
    frame = day_frame(DAY, IDS, seed=7)
    frame.loc[3, "total_amount_7d"] = np.nan
    frame["tenure_days"] = frame["tenure_days"].astype(object)
    frame.loc[4, "tenure_days"] = None
    frame["plan_tier"] = np.arange(len(frame)) % 3  # int64 in the file, Float64 in Feast
    frame["created_timestamp"] = day_ts(DAY) + pd.Timedelta(seconds=97)
    return frame.iloc[::-1].reset_index(drop=True)


def test_write_rows_reads_back_through_feast(store) -> None:
    frame = _awkward_day()
    view = store.get_feature_view("customer_activity")
    written = write_rows(store, view, _writer_input(frame, ["customer_id"], FEATURE_COLUMNS))
    assert written == len(frame) * len(FEATURE_COLUMNS)
    ids = [*IDS, "nobody"]
    online = store.get_online_features(
        features=[f"customer_activity:{f}" for f in FEATURE_COLUMNS],
        entity_rows={"customer_id": ids},
    ).to_dict(include_event_timestamps=True)
    assert online["customer_id"] == ids
    expected = frame.set_index("customer_id")
    event_seconds = int(day_ts(DAY).timestamp())
    for name in FEATURE_COLUMNS:
        want = [None if pd.isna(v) else float(v) for v in expected.loc[IDS, name].tolist()] + [None]
        assert online[name] == want, name
        assert online[f"{name}__ts"][: len(IDS)] == [event_seconds] * len(IDS)

    assert write_rows(store, view, _writer_input(frame.iloc[:0], ["customer_id"], [])) == 0


def test_write_rows_keeps_newer_values(store) -> None:
    view = store.get_feature_view("customer_activity")
    newer = day_frame(DAY + timedelta(days=1), IDS[:10], 2.0)
    older = day_frame(DAY, IDS, 1.0)
    write_rows(store, view, _writer_input(newer, ["customer_id"], FEATURE_COLUMNS))
    written = write_rows(store, view, _writer_input(older, ["customer_id"], FEATURE_COLUMNS))
    assert written == 20 * len(FEATURE_COLUMNS)  # the 10 newer customers kept their values
    online = fs.online_features(store, IDS, SERVICE)
    assert online["tenure_days"].tolist() == [2.0] * 10 + [1.0] * 20
    # Same event time, newer created timestamp (a re-run export): replaces.
    fixed = day_frame(DAY, IDS, 1.5, created=day_ts(DAY) + pd.Timedelta(hours=1))
    written = write_rows(store, view, _writer_input(fixed, ["customer_id"], FEATURE_COLUMNS))
    assert written == 20 * len(FEATURE_COLUMNS)
    assert (
        fs.online_features(store, IDS, SERVICE)["tenure_days"].tolist() == [2.0] * 10 + [1.5] * 20
    )


def test_write_rows_equals_feast_materialize_on_the_repo_view(tmp_path: Path) -> None:
    frame = _awkward_day()
    start, end = fs.day_window(DAY)
    rows = {}
    for writer in ("feast", "ours"):
        home = tmp_path / writer
        write_day(home, DAY, frame)
        store = fs.open_store(home)
        fs.apply_repo(store)
        view = store.get_feature_view("customer_activity")
        if writer == "feast":
            store.materialize(start, end, feature_views=["customer_activity"])
        else:
            write_rows(store, view, _writer_input(frame, ["customer_id"], FEATURE_COLUMNS))
        rows[writer] = _table_rows(home, "mlops_assets_customer_activity")
    assert len(rows["ours"]) == len(IDS) * len(FEATURE_COLUMNS)
    assert rows["ours"] == rows["feast"]


def _pairs_objects(path: Path, keys: str) -> list[Any]:
    """A view outside the repo: other join-key types and non-Float64 features."""
    from feast import Entity, FeatureView, Field, FileSource, ValueType
    from feast.types import Float64, Int64, String

    shop = Entity(name="shop", join_keys=["shop_id"], value_type=ValueType.INT64)
    region = Entity(name="region", join_keys=["region"], value_type=ValueType.STRING)
    entities = [shop] if keys == "int64" else [shop, region]
    source = FileSource(
        name="pairs_source",
        path=str(path),
        timestamp_field="event_timestamp",
        created_timestamp_column="created_timestamp",
    )
    schema = [Field(name="shop_id", dtype=Int64)]
    if keys != "int64":
        schema.append(Field(name="region", dtype=String))
    schema += [
        Field(name="amount", dtype=Float64),
        Field(name="visits", dtype=Int64),
        Field(name="tier", dtype=String),
    ]
    view = FeatureView(
        name="pairs", entities=entities, ttl=timedelta(days=3), schema=schema, source=source
    )
    return [*entities, source, view]


@pytest.mark.parametrize("keys", ["int64", "int64+string"])
def test_write_rows_equals_feast_materialize_for_other_keys_and_types(
    tmp_path: Path, keys: str
) -> None:
    n = 12
    frame = pd.DataFrame(
        {
            "shop_id": np.arange(n, dtype="int64")[::-1] * 1_000_003 - 5,
            "region": [f"r{i % 3}" for i in range(n)],
            "event_timestamp": day_ts(DAY),
            "created_timestamp": day_ts(DAY) + pd.Timedelta(seconds=3),
            "amount": [np.nan if i == 2 else i * 1.25 for i in range(n)],
            "visits": np.arange(n, dtype="int64") * 7,
            "tier": [f"tier-{i % 4}" for i in range(n)],
        }
    )
    if keys == "int64":
        frame = frame.drop(columns="region")
    join_keys = ["shop_id"] if keys == "int64" else ["shop_id", "region"]
    features = ["amount", "visits", "tier"]
    start, end = fs.day_window(DAY)
    rows, online = {}, {}
    for writer in ("feast", "ours"):
        home = tmp_path / writer
        path = home / "pairs.parquet"
        home.mkdir(parents=True)
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)
        store = fs.open_store(home)
        fs.apply_repo(store)
        store.apply(_pairs_objects(path, keys))
        view = store.get_feature_view("pairs")
        if writer == "feast":
            store.materialize(start, end, feature_views=["pairs"])
        else:
            written = write_rows(store, view, _writer_input(frame, join_keys, features))
            assert written == n * len(features)
        rows[writer] = _table_rows(home, "mlops_assets_pairs")
        online[writer] = store.get_online_features(
            features=[f"pairs:{f}" for f in features],
            entity_rows={k: frame[k].tolist() for k in join_keys},
        ).to_dict()
    assert len(rows["ours"]) == n * len(features)
    assert rows["ours"] == rows["feast"]
    assert online["ours"] == online["feast"]
    assert online["ours"]["visits"] == frame["visits"].tolist()
    assert online["ours"]["amount"][2] is None
