"""The approval gate's evidence minimum, the bootstrap of a first model, and the human
approval path, on the real Dagster graph (the churn model's training and export assets, the
`churn_approve_model_job`), with training sets written directly like the lifecycle test:

1. a training set whose held-out window spans 3 days: "insufficient evidence", not promoted;
2. the same set, the first model explicitly bootstrapped: promoted, the choice on its tags;
3. the concept changes: the new challenger beats the champion on the same window but misses
   the floor → "pending approval", not promoted;
4. `approve_model` refuses unknown versions, missing reasons and versions not pending, then
   promotes the pending one: it becomes champion with its ONNX export, recorded on its tags.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from mlops_assets.components.model_pipeline.common import training_set_path
from mlops_assets.components.model_pipeline.spec import MODELS_DIR, load_spec
from mlops_assets.core import model_inputs, registry, training
from mlops_assets.core.evaluation import served_onnx_path
from mlops_assets.settings import Settings
from tests.synthetic import SYNTHETIC_INPUTS, synthetic_training_set

MODEL = "churn"
SELECTION = {
    dg.AssetKey([MODEL, k])
    for k in ("candidate_sklearn", "candidate_xgboost", "challenger", "champion", "onnx")
}
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
SMALL = {
    "churn__candidate_sklearn": {"config": {"max_iter": 50}},
    "churn__candidate_xgboost": {"config": {"n_estimators": 50}},
}
BOOTSTRAP = {
    **SMALL,
    "churn__challenger": {
        "config": {"bootstrap": True, "bootstrap_reason": "first model of a new product line"}
    },
}


def new_concept(frame: pd.DataFrame, seed: int = 1) -> pd.DataFrame:
    """Same inputs, another meaning of the label: churn now follows the fee and, against
    the old concept, long tenure — learnable, but only weakly."""
    rng = np.random.default_rng(seed)
    out = frame.copy()
    fee = out["monthly_fee"].fillna(out["monthly_fee"].median())
    tenure = out["tenure_days"].fillna(out["tenure_days"].median())
    risk = 0.02 * fee + 0.001 * tenure
    logit = -1.2 + 1.2 * (risk - risk.mean()) / risk.std()
    out[training.LABEL_COLUMN] = (rng.uniform(size=len(out)) < 1 / (1 + np.exp(-logit))).astype(
        np.int64
    )
    return out


@dataclass
class World:
    settings: Settings
    defs: dg.Definitions
    instance: dg.DagsterInstance
    results: dict[str, dg.ExecuteInProcessResult] = field(default_factory=dict)
    tags: dict[str, dict[str, dict[str, str]]] = field(
        default_factory=dict
    )  # step → version → tags
    champion: dict[str, str | None] = field(default_factory=dict)

    @property
    def uri(self) -> str:
        return self.defs.resources["mlflow"].tracking_uri

    def train(self, name: str, frame: pd.DataFrame, ops: dict) -> None:
        path = training_set_path(
            self.settings.home_path, load_spec(MODELS_DIR / MODEL / "defs.yaml")
        )
        model_inputs.save_training_set(frame, SYNTHETIC_INPUTS, path)
        job = self.defs.resolve_implicit_global_asset_job_def().get_subset(
            asset_selection=SELECTION
        )
        self.results[name] = job.execute_in_process(
            instance=self.instance, run_config={**QUIET, "ops": ops}, raise_on_error=False
        )
        self.snapshot(name)

    def snapshot(self, name: str) -> None:
        self.tags[name] = {v["version"]: v["tags"] for v in registry.versions(self.uri, MODEL)}
        self.champion[name] = registry.alias_version(self.uri, MODEL, registry.CHAMPION)

    def approve(self, name: str, version: str, reason="signed off", approver="ml-lead@example.com"):
        result = self.defs.resolve_job_def(f"{MODEL}_approve_model_job").execute_in_process(
            instance=self.instance,
            run_config={
                **QUIET,
                "ops": {
                    f"{MODEL}_approve_model": {
                        "config": {"version": version, "reason": reason, "approver": approver}
                    }
                },
            },
            raise_on_error=False,
        )
        self.results[name] = result
        self.snapshot(name)
        return result

    def gate(self, name: str) -> dg.AssetCheckEvaluation:
        (found,) = [
            e
            for e in self.results[name].get_asset_check_evaluations()
            if e.check_name == "approval_gate"
        ]
        return found


def failure_message(result: dg.ExecuteInProcessResult) -> str:
    return " ".join(
        str(e.event_specific_data.error.message)
        for e in result.all_events
        if e.event_type_value == "STEP_FAILURE"
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("gate_evidence")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLOPS_HOME", str(root / "home"))
        mp.setenv("DAGSTER_HOME", str(root / "dagster"))
        (root / "dagster").mkdir()
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        mp.delenv("MLOPS_ENV", raising=False)
        from mlops_assets.definitions import defs as load

        w = World(
            settings=Settings.from_env(), defs=load(), instance=dg.DagsterInstance.ephemeral()
        )
        short = synthetic_training_set(3_000, n_days=10, seed=3)  # ~3 held-out days
        w.train("short", short, SMALL)
        w.train("bootstrap", short, BOOTSTRAP)
        w.train("new concept", new_concept(synthetic_training_set(4_000, seed=4)), SMALL)
        w.approve("unknown", "99")
        w.approve("no reason", "3", reason="  ")
        w.approve("not pending", "1")
        w.approve("approved", "3", reason="new pricing: the old concept is gone")
        yield w


def test_a_short_held_out_window_is_insufficient_evidence(world: World) -> None:
    result, gate = world.results["short"], world.gate("short")
    assert not result.success and not gate.passed
    meta = {k: v.value for k, v in gate.metadata.items()}
    assert meta["verdict"] == "insufficient_evidence"
    assert meta["test_days"] < 7
    assert (
        "insufficient evidence" in gate.description
        and f"{meta['test_days']} days < 7" in gate.description
    )
    assert world.champion["short"] is None  # nothing promoted, nothing exported
    tags = world.tags["short"]["1"]
    assert tags["gate_verdict"] == "insufficient_evidence" and tags["gate_passed"] == "false"
    assert "bootstrap" not in tags


def test_a_bootstrapped_first_model_is_promoted_and_says_so(world: World) -> None:
    assert world.results["bootstrap"].success
    assert world.champion["bootstrap"] == "2"
    tags = world.tags["bootstrap"]["2"]
    assert tags["bootstrap"] == "true"
    assert tags["bootstrap_reason"] == "first model of a new product line"
    assert tags["gate_verdict"] == "passed"
    assert "bootstrapped first model: the evidence minimum is waived" in tags["gate_reasons"]


def test_beating_the_champion_below_the_floor_is_pending_approval(world: World) -> None:
    gate = world.gate("new concept")
    meta = {k: v.value for k, v in gate.metadata.items()}
    assert meta["verdict"] == "pending_approval", gate.description
    assert meta["champion_version"] == "2"
    assert meta["champion_value"] < meta["challenger_value"] < meta["floor"]
    assert "a person may approve it" in gate.description
    assert world.champion["new concept"] == "2"  # not promoted by the run
    assert world.tags["new concept"]["3"]["gate_verdict"] == "pending_approval"
    assert "onnx_sha256" not in world.tags["new concept"]["3"]  # not exported either


def test_approve_model_refuses_what_it_must(world: World) -> None:
    assert not world.results["unknown"].success
    assert "has no version '99'" in failure_message(world.results["unknown"])
    assert not world.results["no reason"].success
    assert "needs a reason" in failure_message(world.results["no reason"])
    assert not world.results["not pending"].success
    assert "insufficient_evidence" in failure_message(world.results["not pending"])
    assert world.champion["not pending"] == "2"


def test_approve_model_promotes_the_pending_challenger_with_its_onnx(world: World) -> None:
    assert world.results["approved"].success
    assert world.champion["approved"] == "3"
    tags = world.tags["approved"]["3"]
    assert tags["approved_by"] == "ml-lead@example.com"
    assert tags["approval_reason"] == "new pricing: the old concept is gone"
    assert tags["champion_previous"] == "2"  # recorded like a rollback: who, why, from what
    assert tags["champion_reason"].startswith("approved: ")
    assert tags["champion_by"] == "ml-lead@example.com"
    info = registry.version_info(world.uri, MODEL, "3")
    assert registry.has_onnx(world.uri, info["run_id"]) and tags["onnx_sha256"]
    assert served_onnx_path(world.settings.home_path, MODEL, "3").is_file()
    observed = [
        e.event_specific_data.asset_observation
        for e in world.results["approved"].all_events
        if e.event_type_value == "ASSET_OBSERVATION"
    ]
    assert observed and observed[0].metadata["approved_by"].value == "ml-lead@example.com"
