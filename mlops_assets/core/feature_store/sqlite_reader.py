"""Online reads of a feature service straight from the plain SQLite online store.

Feast's `get_online_features` spends ~1 ms of Python per call before and after its one SQL
query (registry lookups, typeguard checks, protobuf responses and their conversion); the
serving hot path pays that on every request. On the plain SQLite store this module does the
same read itself: the plan (tables, features, TTLs, on-demand views) is resolved once from the
registry, and a call is one `SELECT` per table, the stored values decoded (float64 fast:
Feast's encoding is a tag byte and 8 little-endian bytes), and each on-demand view computed by
Feast's own `transform_dict` on the same inputs Feast would give it. A test compares it with
`get_online_features` value for value; anything it does not cover (other stores, composite or
mapped join keys, pandas-mode or aggregating on-demand views) returns no reader, and callers
use Feast.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import struct
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mlops_assets.core.feature_store.online import STALE_COLUMN

if TYPE_CHECKING:
    from feast import FeatureStore

_DOUBLE = struct.Struct("<d")
_DOUBLE_TAG = 0x29  # ValueProto.double_val, wire type 64-bit


@dataclasses.dataclass(frozen=True)
class _Table:
    name: str  # quoted SQLite table
    view: str
    features: tuple[str, ...]  # every feature read (requested, or an on-demand view's input)
    ttl_seconds: float


@dataclasses.dataclass(frozen=True)
class _OnDemand:
    view: Any  # feast OnDemandFeatureView
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class SqliteServiceReader:
    db_path: str
    join_key: str
    key_prefix: bytes
    int_keys: bool
    tables: tuple[_Table, ...]
    on_demand: tuple[_OnDemand, ...]
    outputs: tuple[str, ...]  # the service's features, in Feast's response order

    @classmethod
    def build(cls, store: FeatureStore, feature_service: str) -> SqliteServiceReader | None:
        """The reader of `feature_service`, or None when this store or service needs Feast."""
        from feast.errors import FeatureViewNotFoundException
        from feast.infra.key_encoding_utils import serialize_entity_key_prefix
        from feast.infra.online_stores.helpers import compute_table_id
        from feast.infra.online_stores.sqlite import SqliteOnlineStore
        from feast.protos.feast.types.Value_pb2 import ValueType as ProtoType
        from feast.value_type import ValueType

        from mlops_assets.core.feature_store.materialize import _fast_path_ok

        if not _fast_path_ok(store) or store.config.entity_key_serialization_version < 3:
            return None
        service = store.get_feature_service(feature_service, allow_cache=True)
        wanted: dict[str, list[str]] = {}
        views: dict[str, Any] = {}
        on_demand, outputs = [], []
        for projection in service.feature_view_projections:
            if projection.join_key_map or projection.name_alias:
                return None
            names = [f.name for f in projection.features]
            outputs += names
            try:
                view = store.get_feature_view(projection.name, allow_registry_cache=True)
            except FeatureViewNotFoundException:
                odfv = store.get_on_demand_feature_view(projection.name, allow_registry_cache=True)
                if odfv.mode != "python" or odfv.aggregations or odfv.write_to_online_store:
                    return None
                inputs = []
                for source in odfv.source_feature_view_projections.values():
                    if source.join_key_map:
                        return None
                    views[source.name] = store.get_feature_view(
                        source.name, allow_registry_cache=True
                    )
                    wanted.setdefault(source.name, [])
                    for feature in source.features:
                        inputs.append(feature.name)
                        if feature.name not in wanted[source.name]:
                            wanted[source.name].append(feature.name)
                on_demand.append(_OnDemand(odfv, tuple(inputs), tuple(names)))
                continue
            views[view.name] = view
            wanted.setdefault(view.name, [])
            wanted[view.name] += [n for n in names if n not in wanted[view.name]]
        keys = {tuple(c.name for c in v.entity_columns) for v in views.values()}
        if len(keys) != 1 or len(next(iter(keys))) != 1:
            return None
        column = next(iter(views.values())).entity_columns[0]
        vtype = column.dtype.to_value_type()
        if vtype not in (ValueType.STRING, ValueType.INT64):
            return None
        prefix = serialize_entity_key_prefix([column.name], 3)
        if vtype == ValueType.STRING:
            prefix += struct.pack("<I", ProtoType.STRING)
        else:
            prefix += struct.pack("<II", ProtoType.INT64, 8)
        tables = tuple(
            _Table(
                '"' + compute_table_id(store.project, views[name], False).replace('"', '""') + '"',
                name,
                tuple(features),
                views[name].ttl.total_seconds() if views[name].ttl else 0.0,
            )
            for name, features in wanted.items()
        )
        db_path = str(SqliteOnlineStore._get_db_path(store.config))
        return cls(
            db_path,
            column.name,
            prefix,
            vtype == ValueType.INT64,
            tables,
            tuple(on_demand),
            tuple(outputs),
        )

    def _keys(self, ids: Sequence[Any]) -> list[bytes | None]:
        out: list[bytes | None] = []
        for value in ids:
            if self.int_keys:
                try:
                    out.append(self.key_prefix + struct.pack("<q", int(value)))
                except (TypeError, ValueError, struct.error):
                    out.append(None)  # not an id of this entity: no features
            else:
                raw = str(value).encode("utf8")
                out.append(self.key_prefix + struct.pack("<I", len(raw)) + raw)
        return out

    def read(
        self, con: sqlite3.Connection, ids: Sequence[Any], fresh_at: datetime | None = None
    ) -> dict[str, Any]:
        """The service's features for `ids` (as `online.online_columns` returns them: the join
        key, then each feature as a list of values, None where missing), and with `fresh_at`,
        per row whether a value is older than its view's TTL."""
        keys = self._keys(ids)
        position: dict[bytes, list[int]] = {}  # an id may be asked for more than once
        for i, k in enumerate(keys):
            if k is not None:
                position.setdefault(k, []).append(i)
        n = len(ids)
        values: dict[str, list[Any]] = {}
        stale = [False] * n
        now = fresh_at.timestamp() if fresh_at is not None else None
        asked = list(position)
        for table in self.tables:
            got = {f: [None] * n for f in table.features}
            if asked:
                marks = ",".join("?" * len(asked))
                names = ",".join("?" * len(table.features))
                rows = con.execute(
                    f"SELECT entity_key, feature_name, value, event_ts FROM {table.name} "
                    f"WHERE entity_key IN ({marks}) AND feature_name IN ({names})",
                    [*asked, *table.features],
                ).fetchall()
                limit = now - table.ttl_seconds if now is not None and table.ttl_seconds else None
                for key, feature, blob, ts in rows:
                    value = _decode(blob)
                    old = limit is not None and ts is not None and _epoch(ts) < limit
                    for row in position[key]:
                        got[feature][row] = value
                        stale[row] = stale[row] or old
            for feature, column in got.items():
                values.setdefault(feature, column)
        for odfv in self.on_demand:
            inputs = {self.join_key: list(ids), **{f: values[f] for f in odfv.inputs}}
            computed = odfv.view.transform_dict(inputs)
            for name in odfv.outputs:
                values[name] = list(computed[name])
        out: dict[str, Any] = {self.join_key: list(ids)}
        for name in self.outputs:
            out[name] = values[name]
        if fresh_at is not None:
            out[STALE_COLUMN] = stale
        return out


def _decode(blob: bytes | None) -> Any:
    """A stored ValueProto as the Python value Feast returns (None: no value)."""
    if not blob:
        return None
    if len(blob) == 9 and blob[0] == _DOUBLE_TAG:
        return _DOUBLE.unpack_from(blob, 1)[0]
    from feast.protos.feast.types.Value_pb2 import Value as ValueProto
    from feast.type_map import feast_value_type_to_python_type

    proto = ValueProto()
    proto.ParseFromString(blob)
    return feast_value_type_to_python_type(proto)


def _epoch(ts: Any) -> float:
    """Feast's SQLite adapter stores epoch seconds; older stores may hold ISO text."""
    if isinstance(ts, int | float):
        return float(ts)
    parsed = ts if isinstance(ts, datetime) else datetime.fromisoformat(str(ts))
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
