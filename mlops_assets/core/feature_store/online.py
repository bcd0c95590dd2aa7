"""Online reads for scoring: a feature service's rows from the online store, through Feast."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mlops_assets.core.feature_store.config import DEFAULT_SERVICE

if TYPE_CHECKING:
    import pandas as pd
    from feast import FeatureStore

_REFS_ATTR = "_mlops_service_refs"  # per-store cache of service -> refs (see service_refs)


def service_refs(store: FeatureStore, feature_service: str = DEFAULT_SERVICE) -> list[str]:
    """The `view:feature` references of a feature service, cached on the store.

    Turning the registry's proto back into a FeatureService object costs ~1.5 ms, four times
    the online read itself, so the refs are kept on the store object for the registry's own
    cache TTL (the staleness Feast's cached reads have anyway); `apply_repo` drops them.
    """
    from time import monotonic

    cache: dict[str, tuple[float, list[str]]] = store.__dict__.setdefault(_REFS_ATTR, {})
    hit = cache.get(feature_service)
    if hit is not None and hit[0] > monotonic():
        return list(hit[1])
    service = store.get_feature_service(feature_service, allow_cache=True)
    refs = [
        f"{p.name_to_use()}:{f.name}" for p in service.feature_view_projections for f in p.features
    ]
    cache[feature_service] = (monotonic() + store.config.registry.cache_ttl_seconds, refs)
    return list(refs)


def forget_service_refs(store: FeatureStore) -> None:
    """Drop the store's cached service refs (the registry changed: `apply_repo`)."""
    store.__dict__.pop(_REFS_ATTR, None)


def online_features(
    store: FeatureStore,
    customer_ids: Sequence[str],
    feature_service: str | Sequence[str] = DEFAULT_SERVICE,
    *,
    join_key: str = "customer_id",
) -> pd.DataFrame:
    """Online feature rows for scoring, one per id in input order (ODFVs computed by Feast).

    `feature_service` is a service name or a list of `view:feature` refs. Unknown ids give nulls.
    The online store holds the latest materialized value whatever its age: Feast does not apply
    the TTL online (`consistency_sample` reports staleness).
    """
    import pandas as pd

    refs = (
        service_refs(store, feature_service)
        if isinstance(feature_service, str)
        else list(feature_service)
    )
    response = store.get_online_features(
        features=refs, entity_rows={join_key: list(customer_ids)}
    ).to_dict()
    columns: dict[str, Any] = {join_key: response[join_key]}
    for name in (ref.split(":", 1)[1] for ref in refs):
        columns[name] = _numeric(response[name])
    return pd.DataFrame(columns, copy=False)


def _numeric(values: list[Any]) -> Any:
    """A float array (missing -> NaN) when the values are ints/floats, else the list as is.

    Keeps a column float even when every id in the call is unknown (all None), so a model's
    input frame has the same dtypes on every call; it is also cheaper for pandas to take.
    """
    import numpy as np

    if all(v is None or type(v) in (float, int) for v in values):
        return np.asarray(values, dtype=float)
    return values
