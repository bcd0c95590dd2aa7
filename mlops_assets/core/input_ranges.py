"""The range of each numeric input a version was trained on, recorded with the version so the
prediction service can check caller-sent feature values: values a model can never take (not a
finite number; a fraction where training had whole numbers only) are refused, and values
beyond the training range are flagged in the answer (or refused, by configuration).

A range is the training minimum − kσ … maximum + kσ (k: the model YAML's
`outputs.range_sigmas`, the same bound the `value_range` check judges scored days by), and
whether the training values were all whole numbers. It travels as one JSON tag on the MLflow
model version (`INPUT_RANGES_TAG`); a version registered before the tag existed has no ranges,
and its callers are checked for names and finiteness only.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from mlops_assets.core.output_monitoring import training_ranges

INPUT_RANGES_TAG = "input_ranges"


@dataclass(frozen=True)
class InputRange:
    low: float
    high: float
    integer: bool  # every training value was a whole number: callers must send one too

    def refusal(self, value: float | int) -> str | None:
        """Why `value` can never be an input of this model (not a finite number, or not a
        whole one where training had only whole numbers), or None."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"{value!r} is not a number"
        if not math.isfinite(value):
            return f"{value!r} is not a finite number"
        if self.integer and value != int(value):
            return f"{value!r} is not a whole number (the model was trained on whole numbers)"
        return None

    def outside(self, value: float | int) -> str | None:
        """Why `value` (a finite number) lies beyond what the model was trained on, or None."""
        if self.low <= value <= self.high:
            return None
        return f"{value!r} is outside the training range [{self.low:.6g}, {self.high:.6g}]"


def input_ranges(
    columns: Mapping[str, np.ndarray], numeric: Sequence[str], sigmas: float
) -> dict[str, InputRange]:
    """Per numeric input with at least one finite training value: its range (the same bound
    the `value_range` check uses, `output_monitoring.training_ranges`) and kind."""
    bounds = training_ranges({name: columns[name] for name in numeric}, sigmas)
    ranges: dict[str, InputRange] = {}
    for name, (low, high) in bounds.items():
        values = np.asarray(columns[name], dtype=np.float64)
        values = values[np.isfinite(values)]
        ranges[name] = InputRange(low, high, integer=bool(np.all(values == np.round(values))))
    return ranges


def to_json(ranges: Mapping[str, InputRange]) -> str:
    return json.dumps(
        {name: [r.low, r.high, r.integer] for name, r in sorted(ranges.items())},
        separators=(",", ":"),
    )


def from_json(text: str | None) -> dict[str, InputRange]:
    """The ranges of a version's tag; none when the version has no tag."""
    if not text:
        return {}
    doc = json.loads(text)
    if not isinstance(doc, dict):
        raise ValueError(f"input ranges must be an object of [low, high, integer], got {text!r}")
    return {
        name: InputRange(float(low), float(high), bool(integer))
        for name, (low, high, integer) in doc.items()
    }
