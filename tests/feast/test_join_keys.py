"""Online reads take their entity join key from the registry, not from a platform default."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from mlops_assets.core import feature_store as fs
from tests.feature_columns import FEATURE_COLUMNS

from .data import day_frame, write_day
from .names import JOIN_KEY, ODFV, SERVICE, VIEW

D1 = date(2026, 3, 1)
IDS = ["C001", "C002", "C003"]


def test_join_keys_come_from_the_services_views(store) -> None:
    assert fs.service_join_keys(store, SERVICE) == [JOIN_KEY]
    assert fs.service_join_keys(store, [f"{VIEW}:{FEATURE_COLUMNS[0]}"]) == [JOIN_KEY]
    # An on-demand view has no entity of its own: its source views' keys count.
    assert fs.service_join_keys(store, [f"{ODFV}:amount_trend"]) == [JOIN_KEY]


def test_online_features_derives_the_key_or_takes_the_callers(home: Path, store) -> None:
    write_day(home, D1, day_frame(D1, IDS, 1.0))
    fs.materialize_day(store, D1, feature_views=[VIEW])
    derived = fs.online_features(store, IDS, SERVICE)
    assert derived[JOIN_KEY].tolist() == IDS
    refs = fs.service_refs(store, SERVICE)
    assert derived.equals(fs.online_features(store, IDS, refs))
    assert derived.equals(fs.online_features(store, IDS, SERVICE, join_key=JOIN_KEY))


def test_a_join_key_map_renames_the_key(store) -> None:
    from feast import FeatureService

    renamed = store.get_feature_view(VIEW).with_join_key_map({JOIN_KEY: "buyer_id"})
    store.apply([FeatureService(name="renamed_keys", features=[renamed])])
    assert fs.service_join_keys(store, "renamed_keys") == ["buyer_id"]


def test_several_keys_are_ambiguous_and_ask_for_join_key(tmp_path: Path, store) -> None:
    from feast import Entity, FeatureService, FeatureView, Field, FileSource, ValueType
    from feast.types import Float64, Int64, String

    shop = Entity(name="shop", join_keys=["shop_id"], value_type=ValueType.INT64)
    region = Entity(name="region", join_keys=["region"], value_type=ValueType.STRING)
    source = FileSource(
        name="pairs_source", path=str(tmp_path / "pairs.parquet"), timestamp_field="ts"
    )
    view = FeatureView(
        name="pairs",
        entities=[shop, region],
        ttl=timedelta(days=1),
        schema=[
            Field(name="shop_id", dtype=Int64),
            Field(name="region", dtype=String),
            Field(name="amount", dtype=Float64),
        ],
        source=source,
    )
    service = FeatureService(name="pairs_service", features=[view])
    store.apply([shop, region, source, view, service])
    assert fs.service_join_keys(store, "pairs_service") == ["shop_id", "region"]
    with pytest.raises(ValueError, match="join_key="):
        fs.online_features(store, [1], "pairs_service")
    with pytest.raises(ValueError, match="join_key="):
        fs.online_features(store, [1], ["pairs:amount"])
