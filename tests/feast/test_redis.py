"""Prod profile: the Redis online store, on a real local redis-server (conftest.redis_url)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import redis

from mlops_assets.core import feature_store as fs

from .data import day_frame, day_ts, write_day
from .names import SERVICE, VIEW

D1, D2 = date(2026, 4, 1), date(2026, 4, 2)
IDS = [f"C{i:03d}" for i in range(20)]


def _prod_store(home: Path, redis_url: str):
    host, port = redis_url.split(":")
    redis.Redis(host=host, port=int(port)).flushall()  # one server for the whole session
    store = fs.open_store(home, env="prod", redis_url=redis_url)
    fs.apply_repo(store)
    return store


def test_redis_round_trip_matches_local(tmp_path: Path, redis_url: str) -> None:
    prod_home, local_home = tmp_path / "prod", tmp_path / "local"
    for home in (prod_home, local_home):
        write_day(home, D1, day_frame(D1, IDS, seed=1))
        write_day(home, D2, day_frame(D2, IDS[:10], seed=2))
    prod = _prod_store(prod_home, redis_url)
    assert prod.config.online_store.type == "redis"
    local = fs.open_store(local_home)
    fs.apply_repo(local)
    for day in (D1, D2):
        assert (
            fs.materialize_day(prod, day, feature_views=[VIEW])["method"] == "feast"
        )  # the fallback path
        assert fs.materialize_day(local, day, feature_views=[VIEW])["method"] == "bulk"

    ids = [*IDS, "nobody"]
    online = fs.online_features(prod, ids, SERVICE)
    pd.testing.assert_frame_equal(online, fs.online_features(local, ids, SERVICE))
    assert online["tenure_days"].notna().sum() == len(IDS)

    labels = pd.DataFrame({"customer_id": IDS, "event_timestamp": day_ts(D2)})
    offline = fs.training_set(prod, labels, SERVICE).drop(columns="event_timestamp")
    pd.testing.assert_frame_equal(online.iloc[: len(IDS)], offline, check_dtype=False)
    assert fs.consistency_sample(prod, VIEW, n=len(IDS))["n_mismatched"] == 0


def test_redis_keeps_newer_values_and_is_idempotent(tmp_path: Path, redis_url: str) -> None:
    """Feast's Redis store skips rows not newer than the stored timestamp, so an older day
    can't overwrite a newer one (unlike Feast's SQLite store; ours guards that one)."""
    home = tmp_path / "prod"
    write_day(home, D1, day_frame(D1, IDS, 1.0))
    write_day(home, D2, day_frame(D2, IDS[:5], 2.0))
    store = _prod_store(home, redis_url)
    fs.materialize_day(store, D2, feature_views=[VIEW])
    fs.materialize_day(store, D1, feature_views=[VIEW])
    assert fs.online_features(store, IDS, SERVICE)["tenure_days"].tolist() == [2.0] * 5 + [1.0] * 15
    fs.materialize_day(store, D2, feature_views=[VIEW])
    assert fs.online_features(store, IDS, SERVICE)["tenure_days"].tolist() == [2.0] * 5 + [1.0] * 15
