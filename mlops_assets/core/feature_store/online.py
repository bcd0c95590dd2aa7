"""Online reads for scoring: a feature service's rows from the online store, through Feast."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import pandas as pd
    from feast import FeatureStore
    from feast.feature_view_projection import FeatureViewProjection

_REFS_ATTR = "_mlops_service_refs"  # per-store cache of registry lookups (see service_refs)
_T = TypeVar("_T")


def _cached(store: FeatureStore, key: tuple[Any, ...], compute: Callable[[], _T]) -> _T:
    """`compute()`, kept on the store object for the registry's own cache TTL.

    Turning the registry's proto back into a FeatureService object costs ~1.5 ms, four times
    the online read itself, so what we derive from it is kept on the store object for as long
    as Feast's cached reads may be stale anyway; `apply_repo` drops it (`forget_service_refs`).
    """
    from time import monotonic

    cache: dict[tuple[Any, ...], tuple[float, Any]] = store.__dict__.setdefault(_REFS_ATTR, {})
    hit = cache.get(key)
    if hit is not None and hit[0] > monotonic():
        return hit[1]
    value = compute()
    cache[key] = (monotonic() + store.config.registry.cache_ttl_seconds, value)
    return value


def service_refs(store: FeatureStore, feature_service: str) -> list[str]:
    """The `view:feature` references of a feature service, cached on the store."""

    def compute() -> tuple[str, ...]:
        service = store.get_feature_service(feature_service, allow_cache=True)
        return tuple(
            f"{p.name_to_use()}:{f.name}"
            for p in service.feature_view_projections
            for f in p.features
        )

    return list(_cached(store, ("refs", feature_service), compute))


def service_join_keys(store: FeatureStore, feature_service: str | Sequence[str]) -> list[str]:
    """The entity join keys an online read of a service (or of `view:feature` refs) needs.

    Read from the registry: the join keys of every view the service reads (an on-demand view
    counts through its source views), renamed by the service's `join_key_map` when it has one,
    in first-seen order without repeats. Cached on the store like `service_refs`.
    """
    if isinstance(feature_service, str):
        name = feature_service

        def compute() -> tuple[str, ...]:
            service = store.get_feature_service(name, allow_cache=True)
            return _view_keys(store, _mapped(service.feature_view_projections))

        return list(_cached(store, ("keys", name), compute))
    views = tuple(dict.fromkeys(ref.split(":", 1)[0] for ref in feature_service))
    return list(
        _cached(store, ("view_keys", views), lambda: _view_keys(store, ((v, {}) for v in views)))
    )


def _mapped(projections: Iterable[FeatureViewProjection]) -> Iterable[tuple[str, dict[str, str]]]:
    return ((p.name, dict(p.join_key_map or {})) for p in projections)


def _view_keys(store: FeatureStore, views: Iterable[tuple[str, dict[str, str]]]) -> tuple[str, ...]:
    """Join keys of (view name, join_key_map) pairs; an on-demand view through its sources."""
    from feast.errors import FeatureViewNotFoundException

    keys: dict[str, None] = {}
    for name, join_map in views:
        try:
            view = store.get_feature_view(name, allow_registry_cache=True)
        except FeatureViewNotFoundException:
            odfv = store.get_on_demand_feature_view(name, allow_registry_cache=True)
            sources = odfv.source_feature_view_projections.values()
            keys.update(dict.fromkeys(_view_keys(store, _mapped(sources))))
            continue
        keys.update(dict.fromkeys(join_map.get(c.name, c.name) for c in view.entity_columns))
    return tuple(keys)


def forget_service_refs(store: FeatureStore) -> None:
    """Drop the store's cached service lookups (the registry changed: `apply_repo`)."""
    store.__dict__.pop(_REFS_ATTR, None)


STALE_COLUMN = "__stale"
"""`online_features(..., fresh_at=...)`: True where a feature of the row is older than its
view's TTL at that time."""


def view_ttls(store: FeatureStore, refs: Sequence[str]) -> dict[str, float]:
    """Seconds of TTL of each ref's feature view (0: none; on-demand views have none)."""
    from feast.errors import FeatureViewNotFoundException

    def compute() -> dict[str, float]:
        out = {}
        for view in dict.fromkeys(ref.split(":", 1)[0] for ref in refs):
            try:
                ttl = store.get_feature_view(view, allow_registry_cache=True).ttl
            except FeatureViewNotFoundException:
                ttl = None
            out[view] = ttl.total_seconds() if ttl else 0.0
        return out

    return _cached(store, ("ttls", tuple(refs)), compute)


def online_features(
    store: FeatureStore,
    entity_ids: Sequence[Any],
    feature_service: str | Sequence[str],
    *,
    join_key: str | None = None,
    fresh_at: datetime | None = None,
) -> pd.DataFrame:
    """`online_columns` as a DataFrame (the join key first, then the service's features)."""
    import pandas as pd

    return pd.DataFrame(
        online_columns(store, entity_ids, feature_service, join_key=join_key, fresh_at=fresh_at),
        copy=False,
    )


def online_columns(
    store: FeatureStore,
    entity_ids: Sequence[Any],
    feature_service: str | Sequence[str],
    *,
    join_key: str | None = None,
    fresh_at: datetime | None = None,
) -> dict[str, Any]:
    """Online feature rows for scoring, one per id in input order (ODFVs computed by Feast).

    `feature_service` is a service name or a list of `view:feature` refs. The ids are values of
    the service's entity join key, read from the registry (`service_join_keys`); `join_key`
    names it instead, and must when the service's views join on more than one key. Unknown ids
    give nulls. The online store holds the latest materialized value whatever its age: Feast
    does not apply the TTL online (`consistency_sample` reports staleness). With `fresh_at`, a
    `STALE_COLUMN` says which rows hold a value older than its view's TTL at that time.
    Columns by name: numeric ones as float arrays (missing: NaN), others as lists.
    """
    if isinstance(feature_service, str) and join_key is None:
        reader = sqlite_reader(store, feature_service)
        if reader is not None:  # the plain SQLite store: read it without Feast's per-call work
            read = reader.read(_sqlite_connection(reader.db_path), entity_ids, fresh_at)
            for name in reader.outputs:
                read[name] = _numeric(read[name])
            if fresh_at is not None:
                import numpy as np

                read[STALE_COLUMN] = np.asarray(read[STALE_COLUMN], dtype=bool)
            return read
    if isinstance(feature_service, str):
        refs = service_refs(store, feature_service)
    else:
        refs = list(feature_service)
    if join_key is None:
        keys = service_join_keys(store, feature_service)
        if len(keys) != 1:
            what = feature_service if isinstance(feature_service, str) else refs
            raise ValueError(
                f"{what!r} joins on {keys or 'no entity key'}: pass join_key= to say which key "
                "the ids are values of"
            )
        join_key = keys[0]
    response = store.get_online_features(
        features=refs, entity_rows={join_key: list(entity_ids)}
    ).to_dict(include_event_timestamps=fresh_at is not None)
    columns: dict[str, Any] = {join_key: response[join_key]}
    for name in (ref.split(":", 1)[1] for ref in refs):
        columns[name] = _numeric(response[name])
    if fresh_at is not None:
        columns[STALE_COLUMN] = _stale(store, refs, response, fresh_at, len(entity_ids))
    return columns


def sqlite_reader(store: FeatureStore, feature_service: str):
    """The cached `SqliteServiceReader` of a service (None: this store or service needs Feast)."""
    from mlops_assets.core.feature_store.sqlite_reader import SqliteServiceReader

    return _cached(
        store,
        ("sqlite_reader", feature_service),
        lambda: SqliteServiceReader.build(store, feature_service),
    )


_connections = threading.local()


def _sqlite_connection(path: str):
    """One read connection per thread and database file (sqlite3 objects stay in their thread)."""
    import sqlite3

    cache = _connections.__dict__.setdefault("by_path", {})
    con = cache.get(path)
    if con is None:
        con = cache[path] = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    return con


def _stale(store, refs: Sequence[str], response, fresh_at: datetime, n: int) -> Any:
    """Per row: a known value of some feature is older than its view's TTL at `fresh_at`."""
    import numpy as np
    from feast.online_response import TIMESTAMP_POSTFIX

    ttls, now = view_ttls(store, refs), fresh_at.timestamp()
    stale = np.zeros(n, dtype=bool)
    for ref in refs:
        view, name = ref.split(":", 1)
        ttl = ttls.get(view, 0.0)
        stamps = response.get(name + TIMESTAMP_POSTFIX)
        if not ttl or stamps is None:
            continue
        seen = np.asarray(stamps, dtype=np.float64)
        stale |= (seen > 0) & (seen < now - ttl)
    return stale


def _numeric(values: list[Any]) -> Any:
    """A float array (missing -> NaN) when the values are ints/floats, else the list as is.

    Keeps a column float even when every id in the call is unknown (all None), so a model's
    input frame has the same dtypes on every call; it is also cheaper for pandas to take.
    """
    import numpy as np

    if all(v is None or type(v) in (float, int) for v in values):
        return np.asarray(values, dtype=float)
    return values
