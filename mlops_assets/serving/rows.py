"""The feature rows of one request, as numpy columns: the hot path never builds a DataFrame.

A request's rows come from the online store (one read per feature service) or from the
caller's `instances`; each variant then takes its own columns, in its own input order, as the
float32 matrix ONNX scores. pandas would cost more than the rest of the request together
(~0.5 ms of indexing for one row).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


@dataclasses.dataclass(frozen=True)
class Rows:
    columns: Mapping[str, np.ndarray]  # float64, one value per row
    n: int
    stale: np.ndarray | None = None  # per row: a value older than its TTL (None: not judged)

    @classmethod
    def from_columns(
        cls, columns: Mapping[str, Any], n: int, stale: np.ndarray | None = None
    ) -> Rows:
        out = {}
        for name, values in columns.items():
            try:
                out[name] = np.asarray(values, dtype=np.float64)  # None -> nan
            except (TypeError, ValueError) as err:
                raise ValueError(f"feature {name!r} is not numeric: {err}") from err
        return cls(out, n, stale)

    @classmethod
    def from_instances(
        cls, instances: Sequence[Mapping[str, Any]], features: Sequence[str]
    ) -> Rows:
        columns = {f: [i.get(f) for i in instances] for f in features}
        return cls.from_columns(columns, len(instances))

    def take(self, index: Sequence[int]) -> Rows:
        idx = np.asarray(index, dtype=np.intp)
        stale = None if self.stale is None else self.stale[idx]
        return Rows({k: v[idx] for k, v in self.columns.items()}, len(idx), stale)

    def matrix(self, features: Sequence[str]) -> np.ndarray:
        """The float32, C-contiguous model input in `features` order (NaN for missing)."""
        missing = [f for f in features if f not in self.columns]
        if missing:
            raise ValueError(f"feature columns missing from the rows: {missing}")
        out = np.empty((self.n, len(features)), dtype=np.float32)
        for j, f in enumerate(features):
            out[:, j] = self.columns[f]
        return out

    def empty(self, features: Sequence[str]) -> np.ndarray:
        """Per row: every one of `features` is missing (an id the store does not know)."""
        known = np.zeros(self.n, dtype=bool)
        for f in features:
            known |= ~np.isnan(self.columns[f])
        return ~known
