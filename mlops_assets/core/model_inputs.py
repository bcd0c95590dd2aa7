"""A model's inputs, read from its Feast feature service: the one list training, ONNX export,
scoring and drift all use.

The feature service (in the Feast registry, applied from `feature_repo/`) is the single source
of truth. Each field may carry two tags, declared next to the field in the Feast repo (or on its
view, for every field of the view — on-demand views must do so):

* ``window_days`` — the look-back window of a windowed feature (``"30"``): drift leaves it out
  of the verdict until the ingested history covers the whole window;
* ``categorical`` — ``"true"`` for a feature whose values are categories (drift uses a chi²
  test on it instead of PSI/KS).

The resolved list travels with the data it describes: inside the training-set parquet's schema
metadata, in every candidate's MLflow run (signature + tag) and model card, and in the drift
reference. Nothing downstream re-derives it from a Python constant.

Framework-free; feast, pandas and pyarrow are imported inside the functions that need them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from feast import FeatureStore

WINDOW_TAG = "window_days"
CATEGORICAL_TAG = "categorical"
PARQUET_METADATA_KEY = b"mlops_model_inputs"
MLFLOW_TAG = "model_inputs"


class FeatureServiceNotFound(LookupError):
    """A model's feature service is not in the registry (the message lists those that are)."""


@dataclass(frozen=True)
class ModelInputs:
    """The ordered input columns of a model and what the feature definitions say about them."""

    feature_service: str
    features: tuple[str, ...]
    windows: Mapping[str, int] = field(default_factory=dict)  # feature -> look-back days
    categorical: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.features:
            raise ValueError(f"feature service {self.feature_service!r} yields no features")
        if len(set(self.features)) != len(self.features):
            raise ValueError(f"duplicate feature names in {self.feature_service!r}")
        unknown = (set(self.windows) | set(self.categorical)) - set(self.features)
        if unknown:
            raise ValueError(f"tags name features the service does not yield: {sorted(unknown)}")

    @property
    def numeric(self) -> tuple[str, ...]:
        return tuple(f for f in self.features if f not in self.categorical)

    def window(self, feature: str) -> int:
        """Look-back window in days (1 for a feature without a window: known the same day)."""
        return int(self.windows.get(feature, 1))

    @property
    def longest_window(self) -> int:
        return max([1, *self.windows.values()])

    def to_json(self) -> str:
        return json.dumps(
            {
                "feature_service": self.feature_service,
                "features": list(self.features),
                "windows": dict(self.windows),
                "categorical": list(self.categorical),
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> ModelInputs:
        doc = json.loads(text)
        return cls(
            feature_service=doc["feature_service"],
            features=tuple(doc["features"]),
            windows={k: int(v) for k, v in doc.get("windows", {}).items()},
            categorical=tuple(doc.get("categorical", ())),
        )


def from_fields(service: str, fields: Sequence[tuple[str, Mapping[str, str]]]) -> ModelInputs:
    """ModelInputs from (name, tags) pairs in model column order; tags are validated."""
    windows: dict[str, int] = {}
    categorical: list[str] = []
    for name, tags in fields:
        if WINDOW_TAG in tags:
            try:
                days = int(tags[WINDOW_TAG])
            except ValueError:
                days = 0
            if days < 1:
                raise ValueError(
                    f"feature {name!r}: tag {WINDOW_TAG}={tags[WINDOW_TAG]!r} must be a whole "
                    "number of days >= 1"
                )
            windows[name] = days
        flag = str(tags.get(CATEGORICAL_TAG, "false")).strip().lower()
        if flag not in {"true", "false"}:
            raise ValueError(f"feature {name!r}: tag {CATEGORICAL_TAG} must be 'true' or 'false'")
        if flag == "true":
            categorical.append(name)
    return ModelInputs(service, tuple(n for n, _ in fields), windows, tuple(categorical))


def from_feature_service(store: FeatureStore, service: str) -> ModelInputs:
    """Read a service's input list from the registry (at run time, never at code load).

    Order is the order `feature_store.training_set` returns the columns in (views first, then
    on-demand outputs), so a model's column order is the service's."""
    from feast.errors import FeatureServiceNotFoundException

    from mlops_assets.core import feature_store

    try:
        found = store.get_feature_service(service)
    except FeatureServiceNotFoundException as err:
        available = sorted(s.name for s in store.list_feature_services())
        raise FeatureServiceNotFound(
            f"feature service {service!r} is not in the Feast registry; available: "
            f"{', '.join(available) or 'none (has feature_repo/ been applied?)'}"
        ) from err
    tags: dict[str, dict[str, str]] = {}
    for projection in found.feature_view_projections:
        view_tags = _view_tags(store, projection.name)
        for f in projection.features:
            tags[f.name] = {**view_tags, **dict(f.tags or {})}  # a field's own tag wins
    order = feature_store.service_features(store, service)
    return from_fields(service, [(name, tags.get(name, {})) for name in order])


def _view_tags(store: FeatureStore, name: str) -> dict[str, str]:
    """The platform tags set on a (regular or on-demand) view, applying to all its fields."""
    from feast.errors import FeatureViewNotFoundException

    try:
        view = store.get_feature_view(name)
    except FeatureViewNotFoundException:
        view = store.get_on_demand_feature_view(name)
    return {k: v for k, v in (view.tags or {}).items() if k in (WINDOW_TAG, CATEGORICAL_TAG)}


# --------------------------------------------------------------------------------------------
# the training-set file: rows + the inputs they were built for, in one atomic parquet


def save_training_set(frame: pd.DataFrame, inputs: ModelInputs, path: Path) -> Path:
    """Write the frame with `inputs` in the parquet schema metadata (write + rename)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    missing = [f for f in inputs.features if f not in frame.columns]
    if missing:
        raise ValueError(f"training set lacks input column(s) {missing}")
    table = pa.Table.from_pandas(frame, preserve_index=False)
    metadata = {**(table.schema.metadata or {}), PARQUET_METADATA_KEY: inputs.to_json().encode()}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table.replace_schema_metadata(metadata), tmp)
    tmp.replace(path)
    return path


def load_training_set(path: Path) -> tuple[pd.DataFrame, ModelInputs]:
    """The frame and the inputs recorded with it; a file without them is refused."""
    import pyarrow.parquet as pq

    if not path.exists():
        raise FileNotFoundError(f"no training set at {path}")
    table = pq.read_table(path)
    raw = (table.schema.metadata or {}).get(PARQUET_METADATA_KEY)
    if raw is None:
        raise ValueError(f"{path} does not record its model inputs (written by save_training_set?)")
    return table.to_pandas(), ModelInputs.from_json(raw)


def as_metadata(inputs: ModelInputs) -> dict[str, Any]:
    return {
        "feature_service": inputs.feature_service,
        "features": list(inputs.features),
        "categorical": list(inputs.categorical),
        "windows": dict(inputs.windows),
    }
