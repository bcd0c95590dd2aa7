"""A model's serving target: which registered versions answer requests, and in what share.

The state is stored with the model in the MLflow registry (a registered-model tag holding
JSON, `DEPLOYMENT_TAG`) next to the `champion` / `challenger` aliases it refers to, so every
server follows the registry and a rollout is one tag write. This module is the pure part:
the state, its validation, and the per-request routing rule.

Modes:
* `single`: the champion answers every request.
* `shadow`: the champion answers; the challenger scores every request too, and its answer is
  logged, never returned.
* `canary`: the challenger answers `challenger_percent` % of the entities (steps move it).
* `ab`: the same split, for an A/B test (`test_id`): the challenger answers
  `challenger_percent` %, and every answer is logged with the test's id.

Assignment is sticky: an entity id hashes (SHA-256 of `<model>:<entity>`) to a bucket in
0..9999, and the challenger takes buckets below `challenger_percent * 100`. So an entity stays
on its variant for as long as the split does not shrink, and a larger split only moves
champion entities over (the buckets are nested).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from typing import Any, Literal

DEPLOYMENT_TAG = "mlops.deployment"
"""Registered-model tag that holds a model's `DeploymentState` as JSON."""

Mode = Literal["single", "shadow", "canary", "ab"]
MODES: tuple[str, ...] = ("single", "shadow", "canary", "ab")
Variant = Literal["champion", "challenger"]
BUCKETS = 10_000


class DeploymentError(ValueError):
    """A deployment state that cannot be served (unknown mode, split out of range, …)."""


@dataclasses.dataclass(frozen=True)
class DeploymentState:
    """How a model's traffic is split between its champion and its challenger."""

    mode: Mode = "single"
    challenger_percent: float = 0.0
    updated_by: str = ""
    reason: str = ""
    updated_at: str = ""
    test_id: str = ""  # mode `ab`: the A/B test the answers belong to (`core.ab_test`)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise DeploymentError(f"mode must be one of {list(MODES)}, got {self.mode!r}")
        pct = self.challenger_percent
        if not isinstance(pct, int | float) or not 0 <= pct <= 100:
            raise DeploymentError(f"challenger_percent must be within 0..100, got {pct!r}")
        if self.mode in ("single", "shadow") and pct:
            raise DeploymentError(f"mode {self.mode!r} sends no traffic to the challenger")
        if self.test_id and self.mode != "ab":
            raise DeploymentError(f"mode {self.mode!r} runs no A/B test (test_id is set)")

    @property
    def uses_challenger(self) -> bool:
        return self.mode != "single"

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> DeploymentState:
        """The state a tag holds; no tag means `single` (the champion serves everything)."""
        if not text:
            return cls()
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as err:
            raise DeploymentError(f"{DEPLOYMENT_TAG} is not JSON: {err}") from err
        if not isinstance(doc, Mapping):
            raise DeploymentError(f"{DEPLOYMENT_TAG} must be a JSON object")
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(doc) - fields)
        if unknown:
            raise DeploymentError(f"{DEPLOYMENT_TAG} has unknown fields {unknown}")
        return cls(**doc)

    def changed(self, *, by: str, reason: str, **changes: Any) -> DeploymentState:
        """A new state with `changes`, stamped with who changed it, why and when."""
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        return dataclasses.replace(self, **changes, updated_by=by, reason=reason, updated_at=now)


def bucket(model: str, entity_id: object) -> int:
    """The entity's sticky bucket in 0..`BUCKETS`-1 (the same on every server and restart)."""
    digest = hashlib.sha256(f"{model}:{entity_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def variant_for(state: DeploymentState, model: str, entity_id: object) -> Variant:
    """Which variant answers this entity under `state`."""
    if state.mode in ("canary", "ab") and bucket(model, entity_id) < state.challenger_percent * (
        BUCKETS // 100
    ):
        return "challenger"
    return "champion"
