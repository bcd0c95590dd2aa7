"""Daily materialization: one feature_date into the online store, by our SQLite bulk writer when
the online store is plain SQLite, else by Feast's `materialize`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Literal

from mlops_assets.core.feature_store.offline_reads import latest_rows
from mlops_assets.core.feature_store.sqlite_writer import write_rows

if TYPE_CHECKING:
    from feast import FeatureStore


def day_window(day: date) -> tuple[datetime, datetime]:
    """The event-time window holding feature_date `day`: [day+1 00:00, day+2 00:00) UTC.

    Rows are known once their day has closed (event_timestamp = feature_date + 1 day), and
    Feast's `materialize` end is inclusive, hence the end one microsecond before midnight.
    """
    start = datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC)
    return start, start + timedelta(days=1) - timedelta(microseconds=1)


def _fast_path_ok(store: FeatureStore) -> bool:
    """Whether the online store is the plain SQLite store `write_rows` writes."""
    cfg = store.config.online_store
    return (
        cfg.type == "sqlite"
        and not getattr(cfg, "vector_enabled", False)
        and not getattr(cfg, "enable_openai_compatible_store", False)
        and not store.config.registry.enable_online_feature_view_versioning
    )


def materialize_day(
    store: FeatureStore,
    day: date,
    *,
    feature_views: Sequence[str],
    last_day: date | None = None,
    method: Literal["auto", "bulk", "feast"] = "auto",
) -> dict[str, Any]:
    """Load one feature_date of `feature_views` into the online store: incremental, idempotent,
    never backwards. The caller names the views (a dataset loads its own, never every online view
    of the registry: another dataset's source may have no file yet).

    Only rows with event_timestamp in `day_window(day)` are read (latest per entity, Feast's
    rule), so neighbouring days are untouched and re-running a day rewrites the same values.

    On SQLite ("auto" -> "bulk") the rows are written with one batched upsert, byte-identical to
    Feast's own `materialize`, and guarded: a stored value is replaced only by a row with an
    equal or newer (event_timestamp, created_timestamp), so backfilling an older day after a
    newer one leaves the newer values in place (Feast's SQLite store would overwrite them).
    Other online stores ("feast") go through `FeatureStore.materialize`; Feast's Redis store
    already skips rows not newer than the stored timestamp (so a re-export of an already
    materialized day is not re-applied there). Either way the interval is recorded in the
    registry, as `feast materialize` does, which also marks the view servable.
    """
    # A range (`last_day`) is read once and keeps the latest row per entity: the same online
    # state as loading its days one by one in date order, for one scan instead of N.
    start, end = day_window(day)[0], day_window(last_day or day)[1]
    if isinstance(feature_views, str):
        raise TypeError(f"feature_views is a list of view names, got the string {feature_views!r}")
    names = list(feature_views)
    if method == "auto":
        method = "bulk" if _fast_path_ok(store) else "feast"
    if method == "bulk" and not _fast_path_ok(store):
        raise ValueError("method='bulk' needs the plain SQLite online store")
    result: dict[str, Any] = {"day": day.isoformat(), "method": method, "start": start, "end": end}
    if method == "feast":
        store.materialize(start, end, feature_views=names)
        result["views"] = {n: {} for n in names}
        return result
    views = {}
    for name in names:
        view = store.get_feature_view(name)
        table = latest_rows(view, start, end)
        values = table.num_rows * len(view.features)
        written = write_rows(store, view, table)
        views[name] = {"rows": table.num_rows, "values": values, "kept_newer": values - written}
        store.registry.apply_materialization(view, store.project, start, end, commit=True)
    result["views"] = views
    return result
