"""The model lifecycle on the real Dagster graph — the `churn/...` assets the model-pipeline
component builds from `defs/models/churn/defs.yaml`: candidates → challenger → approval gate →
champion → ONNX export, then rollback, in one temp data home (DESIGN §5).

Feast is bypassed: the module fixture writes the training set parquet itself, with the model
inputs it records (`core.model_inputs.save_training_set`), and runs the real training/export
selection in-process three times, as a lifecycle scenario:

1. a first good training set (no champion yet: the floor alone decides);
2. the same features with SHUFFLED labels (the gate must fail and block promotion + export);
3. a second good training set (other seed; the gate compares with the champion on the same
   held-out window and promotes). XGBoost is deliberately weakened in this run so the
   scikit-learn candidate wins: both exporters (XGBoost in 1, scikit-learn in 3) are exercised.

What each run left behind (results, aliases, version tags) is snapshotted right after it, so
each test asserts one step. The rollback and parity-failure tests move `champion`, so they
come last in the file (pytest keeps file order); every other test reads snapshots, or state
that any champion satisfies.
"""

from __future__ import annotations

import _pickle
import os
import pickle
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from mlops_assets.components.model_pipeline.common import training_set_path
from mlops_assets.components.model_pipeline.spec import MODELS_DIR, load_spec
from mlops_assets.core import model_inputs, registry, training
from mlops_assets.core.evaluation import published_onnx_path, served_onnx_path
from mlops_assets.core.onnx_runtime import load_onnx_session
from mlops_assets.settings import Settings
from tests.synthetic import SYNTHETIC_INPUTS, synthetic_training_set

N_ROWS = 4_000
SEED_FIRST, SEED_SECOND = 3, 4
MODEL = "churn"
FEATURES = SYNTHETIC_INPUTS.features
SELECTION = {
    dg.AssetKey([MODEL, k])
    for k in (
        "candidate_sklearn",
        "candidate_xgboost",
        "challenger",  # + its blocking approval_gate check
        "champion",
        "onnx",  # + its blocking onnx_parity check
    )
}
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
SMALL = {
    "churn__candidate_sklearn": {"config": {"max_iter": 50}},
    "churn__candidate_xgboost": {"config": {"n_estimators": 50}},
}
# step 3: a deliberately weak XGBoost (AUC-PR ~0.67), so the scikit-learn candidate wins
WEAK_XGBOOST = {
    "churn__candidate_sklearn": {"config": {"max_iter": 50}},
    "churn__candidate_xgboost": {"config": {"n_estimators": 5, "max_depth": 2}},
}


@dataclass(repr=False)
class Step:
    """One training run and the registry state right after it."""

    name: str
    training_set: Path  # a copy of the parquet the run trained on
    result: dg.ExecuteInProcessResult
    champion: str | None
    challenger: str | None
    tags: dict[str, dict[str, str]]  # version -> its tags, right after the run

    def materialization(self, key: str) -> dg.AssetMaterialization | None:
        found = [
            e.materialization
            for e in self.result.get_asset_materialization_events()
            if e.asset_key == dg.AssetKey.from_user_string(key)
        ]
        assert len(found) <= 1
        return found[0] if found else None

    def meta(self, key: str) -> dict[str, Any]:
        mat = self.materialization(key)
        assert mat is not None, f"{key} did not materialize in step {self.name}"
        return {k: v.value for k, v in mat.metadata.items()}

    def check(self, name: str) -> dg.AssetCheckEvaluation:
        found = [e for e in self.result.get_asset_check_evaluations() if e.check_name == name]
        assert len(found) == 1, f"expected one {name} evaluation, got {found}"
        return found[0]


@dataclass(repr=False)
class Lifecycle:
    settings: Settings
    defs: dg.Definitions
    instance: dg.DagsterInstance
    cwd: Path
    spec: Any = None  # the churn YAML, as the component read it
    leaked_tracking_uri: str | None = None
    steps: dict[str, Step] = field(default_factory=dict)

    @property
    def uri(self) -> str:
        return self.defs.resources["mlflow"].tracking_uri

    def version(self, version: str) -> dict[str, Any]:
        return registry.version_info(self.uri, MODEL, version)

    def alias(self, alias: str) -> str | None:
        return registry.alias_version(self.uri, MODEL, alias)

    def train(
        self, name: str, frame: pd.DataFrame, ops: dict, tags: dict[str, str] | None = None
    ) -> Step:
        path = training_set_path(self.settings.home_path, self.spec)
        model_inputs.save_training_set(frame, SYNTHETIC_INPUTS, path)
        copy = self.settings.home_path / "sets" / f"{name}.parquet"
        copy.parent.mkdir(exist_ok=True)
        shutil.copyfile(path, copy)
        job = self.defs.resolve_implicit_global_asset_job_def().get_subset(
            asset_selection=SELECTION
        )
        result = job.execute_in_process(
            instance=self.instance,
            run_config={**QUIET, "ops": ops},
            tags=tags,
            raise_on_error=False,
        )
        step = Step(
            name=name,
            training_set=copy,
            result=result,
            champion=self.alias(registry.CHAMPION),
            challenger=self.alias(registry.CHALLENGER),
            tags={v["version"]: v["tags"] for v in registry.versions(self.uri, MODEL)},
        )
        self.steps[name] = step
        return step

    def export(self) -> dg.ExecuteInProcessResult:
        job = self.defs.resolve_implicit_global_asset_job_def().get_subset(
            asset_selection={dg.AssetKey([MODEL, "onnx"])}
        )
        return job.execute_in_process(
            instance=self.instance, run_config=QUIET, raise_on_error=False
        )

    def rollback(self, version: str, reason: str, requested_by: str):
        return self.defs.resolve_job_def("churn_rollback_job").execute_in_process(
            instance=self.instance,
            run_config={
                **QUIET,
                "ops": {
                    "churn_rollback_champion": {
                        "config": {
                            "version": version,
                            "reason": reason,
                            "requested_by": requested_by,
                        }
                    }
                },
            },
            raise_on_error=False,
        )


def shuffled_labels(frame: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    out = frame.copy()
    out[training.LABEL_COLUMN] = np.random.default_rng(seed).permutation(
        out[training.LABEL_COLUMN].to_numpy()
    )
    return out


@pytest.fixture(scope="module")
def lifecycle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lifecycle]:
    root = tmp_path_factory.mktemp("lifecycle")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLOPS_HOME", str(root / "home"))
        mp.setenv("DAGSTER_HOME", str(root / "dagster"))
        (root / "dagster").mkdir()
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)  # the local profile: SQLite in the home
        mp.delenv("MLOPS_ENV", raising=False)
        mp.chdir(root / "dagster")  # a cwd where a stray `mlruns/` would show
        from mlops_assets.definitions import defs as load

        settings = Settings.from_env()
        state = Lifecycle(
            settings=settings,
            defs=load(),
            instance=dg.DagsterInstance.ephemeral(),
            cwd=Path.cwd(),
            spec=load_spec(MODELS_DIR / MODEL / "defs.yaml"),
        )
        first = synthetic_training_set(N_ROWS, seed=SEED_FIRST)
        state.train("first", first, SMALL)
        state.train("shuffled", shuffled_labels(first), SMALL)
        state.train(
            "promotion",
            synthetic_training_set(N_ROWS, seed=SEED_SECOND),
            WEAK_XGBOOST,
            tags={"mlops/trigger": "new_data"},
        )
        state.leaked_tracking_uri = os.environ.get("MLFLOW_TRACKING_URI")
        yield state


def onnx_auc_pr(state: Lifecycle, version: str, training_set: Path) -> float:
    """AUC-PR of `version`'s published ONNX on the held-out window of `training_set`."""
    info = state.version(version)
    dest = state.settings.home_path / "test-downloads" / f"v{version}"
    scorer = load_onnx_session(
        registry.download_onnx(state.uri, info["run_id"], dest),
        allowed_root=state.settings.home_path,
        expected_sha256=info["tags"]["onnx_sha256"],
    )
    _, test = training.time_split(
        pd.read_parquet(training_set), test_fraction=float(info["params"]["test_fraction"])
    )
    probs = scorer.predict_proba(training.feature_matrix(test, FEATURES))
    return training.metrics_from_predictions(test[training.LABEL_COLUMN].to_numpy(), probs)[
        "auc_pr"
    ]


def window(frame: pd.DataFrame) -> str:
    ts = frame[training.TIME_COLUMN]
    return f"{ts.min():%Y-%m-%d} … {ts.max():%Y-%m-%d}"


# --------------------------------------------------------------------------------------------
# 1. the first model ever


def test_first_model_passes_on_the_floor_alone_and_is_exported(lifecycle: Lifecycle) -> None:
    step = lifecycle.steps["first"]
    assert step.result.success
    version = step.meta("churn/challenger")["version"]
    assert version == "1"

    gate = step.check("approval_gate")
    assert gate.passed
    assert "no current champion" in gate.description
    gate_meta = {k: v.value for k, v in gate.metadata.items()}
    assert gate_meta["challenger_version"] == version
    assert gate_meta["champion_version"] == "none"
    assert gate_meta["champion_value"] == "n/a"
    assert gate_meta["challenger_value"] >= gate_meta["floor"] == 0.72

    # promoted: champion alias, gate result and promotion recorded on the version's tags
    assert step.champion == step.challenger == version
    tags = step.tags[version]
    assert tags["gate_passed"] == "true"
    assert tags["gate_reasons"] == gate.description
    assert tags["gate_champion_version"] == "none"
    assert tags["champion_previous"] == "none"
    assert step.meta("churn/champion")["previous_version"] == "none"

    # exported, parity passed on >= 1,000 rows, published to the version's run
    onnx = step.meta("churn/onnx")
    assert onnx["version"] == version
    assert onnx["model_kind"] == tags["model_kind"] == "xgboost"
    parity = step.check("onnx_parity")
    assert parity.passed
    assert parity.metadata["max_abs_diff"].value <= 1e-5
    assert parity.metadata["rows"].value >= 1_000
    assert onnx["parity_rows"] >= 1_000
    assert tags["onnx_sha256"] == onnx["sha256"]
    assert registry.has_onnx(lifecycle.uri, lifecycle.version(version)["run_id"])

    # the model card is in each candidate's metadata (and logged to its run)
    for kind in ("sklearn", "xgboost"):
        card = step.meta(f"churn/candidate_{kind}")["model_card"]
        assert card.startswith(f"# {MODEL} ({kind})")
        assert "## Held-out metrics (time split)" in card
        assert "## Calibration" in card
        assert step.meta(f"churn/candidate_{kind}")["training_set_fingerprint"] in card


# --------------------------------------------------------------------------------------------
# 2. a bad challenger is registered but blocked


def test_shuffled_labels_fail_the_gate_and_block_promotion_and_export(
    lifecycle: Lifecycle,
) -> None:
    first, step = lifecycle.steps["first"], lifecycle.steps["shuffled"]
    assert not step.result.success
    version = step.meta("churn/challenger")["version"]
    assert version == "2"
    assert step.challenger == version  # registered and aliased challenger

    gate = step.check("approval_gate")
    assert not gate.passed
    assert "below the floor" in gate.description
    gate_meta = {k: v.value for k, v in gate.metadata.items()}
    assert gate_meta["challenger_version"] == version
    assert gate_meta["champion_version"] == first.champion
    assert gate_meta["challenger_value"] < 0.5  # shuffled labels carry no signal
    assert step.tags[version]["gate_passed"] == "false"
    assert step.tags[version]["gate_reasons"] == gate.description

    # blocked: neither champion nor ONNX materialized; nothing was promoted or exported
    assert step.materialization("churn/champion") is None
    assert step.materialization("churn/onnx") is None
    assert step.result.get_failed_step_keys() == {"churn__challenger_approval_gate"}
    ran = {e.step_key for e in step.result.all_events if e.event_type_value == "STEP_START"}
    assert not ran & {"churn__champion", "churn__onnx"}
    assert step.champion == first.champion == "1"
    assert "champion_since" not in step.tags[version]
    assert not registry.has_onnx(lifecycle.uri, lifecycle.version(version)["run_id"])


# --------------------------------------------------------------------------------------------
# 3. a good challenger is compared with the champion on the same window and promoted


def test_promotion_compares_with_the_champion_on_the_same_window(lifecycle: Lifecycle) -> None:
    before, step = lifecycle.steps["shuffled"], lifecycle.steps["promotion"]
    assert step.result.success
    version = step.meta("churn/challenger")["version"]
    assert version == "3"

    gate = step.check("approval_gate")
    assert gate.passed
    gate_meta = {k: v.value for k, v in gate.metadata.items()}
    assert gate_meta["champion_version"] == before.champion == "1"
    champion_auc_pr = gate_meta["champion_value"]
    assert isinstance(champion_auc_pr, float)
    # the champion was scored (through its ONNX) on THIS training set's held-out window
    assert champion_auc_pr == pytest.approx(
        onnx_auc_pr(lifecycle, before.champion, step.training_set), abs=1e-9
    )
    held_out = training.time_split(pd.read_parquet(step.training_set))[1]
    assert step.tags[version]["test_window"] == window(held_out)
    assert gate_meta["challenger_value"] >= champion_auc_pr - gate_meta["tolerance"]
    assert gate_meta["challenger_value"] >= gate_meta["floor"]

    # promoted, with the previous champion and the trigger on the version's tags
    tags = step.tags[version]
    assert step.champion == version
    assert tags["gate_passed"] == "true"
    assert tags["gate_champion_version"] == "1"
    assert tags["champion_previous"] == "1"
    assert tags["trigger"] == "new_data"
    assert step.meta("churn/champion")["previous_version"] == "1"

    # the scikit-learn winner went through its own exporter, with parity
    assert tags["model_kind"] == "sklearn"
    assert step.meta("churn/onnx")["version"] == version
    assert step.check("onnx_parity").passed
    assert step.check("onnx_parity").metadata["max_abs_diff"].value <= 1e-5
    assert registry.has_onnx(lifecycle.uri, lifecycle.version(version)["run_id"])


# --------------------------------------------------------------------------------------------
# 6. MLflow hygiene


def test_candidate_runs_log_params_metrics_tags_and_a_signed_model(
    lifecycle: Lifecycle, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow import MlflowClient
    from mlflow.models import get_model_info

    step = lifecycle.steps["first"]
    frame = pd.read_parquet(step.training_set)
    fingerprint = training.dataset_fingerprint(frame)
    train, _ = training.time_split(frame)
    client = MlflowClient(lifecycle.uri)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", lifecycle.uri)  # for get_model_info only

    expected_params = {"sklearn": ("max_iter", "50"), "xgboost": ("n_estimators", "50")}
    for kind, (param, value) in expected_params.items():
        meta = step.meta(f"churn/candidate_{kind}")
        run = client.get_run(meta["mlflow_run_id"])
        assert run.info.status == "FINISHED"
        assert run.data.params[param] == value
        assert run.data.params["test_fraction"] == "0.25"
        assert {"learning_rate", "seed"} <= set(run.data.params)
        for metric in ("roc_auc", "auc_pr", "log_loss", "brier", "ece", "positive_rate"):
            assert run.data.metrics[metric] == pytest.approx(meta[metric])
        tags = run.data.tags
        assert tags["model_kind"] == kind
        assert tags["training_set_fingerprint"] == fingerprint == meta["training_set_fingerprint"]
        assert re.fullmatch(r"[0-9a-f]{12}|unknown", tags["code_version"])
        assert tags["trigger"] == "manual"
        assert tags["training_window"] == window(train)
        assert tags["dagster_run_id"] == step.result.run_id
        assert "model_card.md" in {a.path for a in client.list_artifacts(run.info.run_id)}
        model = get_model_info(tags["logged_model_uri"])
        assert model.signature is not None
        # the inputs are recorded by name, in the order the training set recorded them
        assert model.signature.inputs.input_names() == list(FEATURES)
        assert model.signature.outputs is not None
        assert model_inputs.ModelInputs.from_json(tags["model_inputs"]) == SYNTHETIC_INPUTS
        assert tags["feature_service"] == SYNTHETIC_INPUTS.feature_service
        assert ", ".join(f"`{f}`" for f in FEATURES) in meta["model_card"]
        assert run.info.artifact_uri.startswith(lifecycle.settings.home_path.as_uri())

    # the version carries the same provenance as its run
    version_tags = step.tags["1"]
    version_run = client.get_run(lifecycle.version("1")["run_id"])
    assert version_tags["training_set_fingerprint"] == fingerprint
    assert version_tags["model_kind"] == version_run.data.tags["model_kind"]
    assert version_tags["code_version"] == version_run.data.tags["code_version"]
    assert version_tags["training_window"] == window(train)

    # nothing landed in the working directory
    assert not (lifecycle.cwd / "mlruns").exists()


def test_the_next_data_home_gets_its_own_registry_after_training(
    lifecycle: Lifecycle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`mlflow.set_tracking_uri` exports MLFLOW_TRACKING_URI, which `build_resources` honours:
    the training runs above must not leave it behind for the next definitions load."""
    from mlops_assets.definitions import defs as load

    assert lifecycle.leaked_tracking_uri is None
    monkeypatch.setenv("MLOPS_HOME", str(tmp_path / "other"))
    other = load().resources["mlflow"]
    assert other.tracking_uri == registry.local_tracking_uri((tmp_path / "other").resolve())
    assert other.tracking_uri != lifecycle.uri


# --------------------------------------------------------------------------------------------
# 5. scoring serves ONNX and never unpickles


def _refuse(*args: object, **kwargs: object) -> None:
    raise AssertionError("something tried to unpickle while scoring")


@pytest.mark.parametrize("allow_pickle", [None, "false"])
def test_scoring_the_champion_never_unpickles(
    lifecycle: Lifecycle, monkeypatch: pytest.MonkeyPatch, allow_pickle: str | None
) -> None:
    if allow_pickle is None:
        monkeypatch.delenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", raising=False)
    else:
        monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", allow_pickle)
    version = lifecycle.alias(registry.CHAMPION)
    assert version is not None
    info = lifecycle.version(version)
    sets = {
        training.dataset_fingerprint(pd.read_parquet(s.training_set)): s.training_set
        for s in lifecycle.steps.values()
    }
    frame = pd.read_parquet(sets[info["tags"]["training_set_fingerprint"]])
    _, test = training.time_split(frame, test_fraction=float(info["params"]["test_fraction"]))
    X = training.feature_matrix(test, FEATURES)

    for module in (pickle, _pickle):
        for name in ("load", "loads", "Unpickler"):
            monkeypatch.setattr(module, name, _refuse)
    with pytest.raises(AssertionError, match="unpickle"):
        pickle.loads(pickle.dumps(1))  # the patch is live

    dest = lifecycle.settings.home_path / "scoring" / f"v{version}-{allow_pickle}"
    path = registry.download_onnx(lifecycle.uri, info["run_id"], dest)
    scorer = load_onnx_session(
        path,
        allowed_root=lifecycle.settings.home_path,
        expected_sha256=info["tags"]["onnx_sha256"],
    )
    assert scorer.metadata["model_version"] == version
    probs = scorer.predict_proba(X)
    assert probs.shape == (len(test),) and probs.dtype == np.float32
    assert ((probs >= 0) & (probs <= 1)).all()
    single = scorer.predict_proba(X[:1])
    assert single[0] == pytest.approx(probs[0], abs=1e-7)
    # the served scores are the registered model's: same held-out AUC-PR as logged
    scored = training.metrics_from_predictions(test[training.LABEL_COLUMN].to_numpy(), probs)
    assert scored["auc_pr"] == pytest.approx(info["metrics"]["auc_pr"], abs=1e-3)


# --------------------------------------------------------------------------------------------
# 4. rollback (moves `champion`: keep it the last test of the module)


def test_rollback_repoints_champion_and_refuses_unexported_or_unknown_versions(
    lifecycle: Lifecycle,
) -> None:
    first = lifecycle.steps["first"].champion
    current = lifecycle.alias(registry.CHAMPION)
    assert (first, current) == ("1", "3")

    result = lifecycle.rollback(first, reason="precision drop in prod", requested_by="alice")
    assert result.success
    assert lifecycle.alias(registry.CHAMPION) == first
    tags = lifecycle.version(first)["tags"]
    assert tags["champion_by"] == "alice"
    assert tags["champion_reason"] == "rollback: precision drop in prod"
    assert tags["champion_previous"] == tags["rollback_from"] == current
    observed = result.asset_observations_for_node("churn_rollback_champion")
    assert [o.metadata["requested_by"].value for o in observed] == ["alice"]
    assert observed[0].asset_key == dg.AssetKey([MODEL, "champion"])

    # the shuffled-label version was never exported: scoring could not serve it
    unexported = lifecycle.steps["shuffled"].challenger
    result = lifecycle.rollback(unexported, reason="try it", requested_by="bob")
    assert not result.success
    failure = result.failure_data_for_node("churn_rollback_champion")
    assert failure is not None
    message = failure.user_failure_data.description
    assert f"version {unexported} has no ONNX export" in message
    assert lifecycle.alias(registry.CHAMPION) == first
    assert lifecycle.version(unexported)["tags"].get("champion_by") is None

    result = lifecycle.rollback("999", reason="typo", requested_by="bob")
    assert not result.success
    message = result.failure_data_for_node("churn_rollback_champion").user_failure_data.description
    assert "version 999 does not exist" in message
    assert lifecycle.alias(registry.CHAMPION) == first

    result = lifecycle.rollback("3", reason="  ", requested_by="bob")
    assert not result.success
    message = result.failure_data_for_node("churn_rollback_champion").user_failure_data.description
    assert "needs a reason" in message
    assert lifecycle.alias(registry.CHAMPION) == first


# --------------------------------------------------------------------------------------------
# an export that fails parity is never published nor served (moves `champion`: runs last)


def test_a_published_version_missing_from_the_data_home_is_fetched_from_the_registry(
    lifecycle: Lifecycle,
) -> None:
    """A server on another machine, or a rollback after the cache was cleaned: the served
    path is filled from the version's run, atomically, and is the very file published."""
    settings = lifecycle.settings
    version = lifecycle.steps["first"].champion
    sha = lifecycle.version(version)["tags"]["onnx_sha256"]
    served = served_onnx_path(settings.home_path, MODEL, version)
    served.unlink()
    path = published_onnx_path(lifecycle.uri, settings.home_path, MODEL, version)
    assert path == served and path.is_file()
    assert load_onnx_session(path, allowed_root=settings.home_path, expected_sha256=sha)
    assert [p.name for p in served.parent.iterdir()] == [served.name]  # no download leftovers


def test_an_export_failing_parity_is_neither_published_nor_served(
    lifecycle: Lifecycle, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlops_assets.components.model_pipeline import export as export_assets

    settings = lifecycle.settings

    def onnx_path_for(version: str) -> Path:
        return published_onnx_path(lifecycle.uri, settings.home_path, MODEL, version)

    published = lifecycle.alias(registry.CHAMPION)
    assert published is not None
    published_sha = lifecycle.version(published)["tags"]["onnx_sha256"]
    served = served_onnx_path(settings.home_path, MODEL, published)
    assert registry.has_onnx(lifecycle.uri, lifecycle.version(published)["run_id"])
    monkeypatch.setattr(export_assets, "PARITY_TOLERANCE", -1.0)  # every export fails parity

    # a first export failing parity: the champion has nothing to serve, and says so
    unexported = lifecycle.steps["shuffled"].challenger
    registry.move_alias(
        lifecycle.uri, MODEL, registry.CHAMPION, unexported, reason="test", actor="test"
    )
    try:
        result = lifecycle.export()
        assert not result.success
        assert not [e for e in result.get_asset_check_evaluations() if e.passed]
        info = lifecycle.version(unexported)
        assert not registry.has_onnx(lifecycle.uri, info["run_id"])
        assert "onnx_sha256" not in info["tags"]
        assert "onnx_rejected_parity_max_abs_diff" in info["tags"]
        assert not served_onnx_path(settings.home_path, MODEL, unexported).exists()
        with pytest.raises(registry.RegistryError, match="no ONNX export"):
            onnx_path_for(unexported)

        # a failing re-export of a published version leaves the served file and its tag alone
        registry.move_alias(
            lifecycle.uri, MODEL, registry.CHAMPION, published, reason="test", actor="test"
        )
        assert not lifecycle.export().success
        assert lifecycle.version(published)["tags"]["onnx_sha256"] == published_sha
        assert onnx_path_for(published) == served
        assert load_onnx_session(
            served, allowed_root=settings.home_path, expected_sha256=published_sha
        )
    finally:
        registry.move_alias(
            lifecycle.uri, MODEL, registry.CHAMPION, published, reason="test", actor="test"
        )
