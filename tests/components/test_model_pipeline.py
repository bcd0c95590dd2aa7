"""The model-pipeline component: what one YAML builds (keys, checks, jobs, sensors,
schedules — no materialization), and the clear load-time errors a wrong YAML gets (file,
field, what is allowed)."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import dagster as dg
import pytest
import yaml

from mlops_assets.components.landing_dataset import DATASETS_DIR, load_dataset_spec
from mlops_assets.components.model_pipeline import build_model_defs
from mlops_assets.components.model_pipeline.spec import (
    MODELS_DIR,
    ModelSpec,
    ModelSpecError,
    declared_feature_services,
    load_spec,
)

ROOT = Path(__file__).resolve().parents[2]
CHURN_YAML = MODELS_DIR / "churn" / "defs.yaml"
LAYER = {
    "training_set",
    "candidate_sklearn",
    "candidate_xgboost",
    "challenger",
    "champion",
    "onnx",
    "daily_scores",
    "drift_report",
    "model_performance",
    "retraining_history",
    "prediction_log",
    "ab_test",
    "retraining_episodes",  # observed only: its check is the episode's state
}


@pytest.fixture
def loaded(tmp_path, monkeypatch) -> dg.Definitions:
    monkeypatch.setenv("MLOPS_HOME", str(tmp_path))
    from mlops_assets.definitions import defs

    return defs()


def _keys(defs: dg.Definitions, model: str) -> set[str]:
    return {
        k.path[1] for k in defs.resolve_all_asset_keys() if len(k.path) == 2 and k.path[0] == model
    }


def test_the_churn_yaml_builds_the_whole_prefixed_model_layer(loaded: dg.Definitions) -> None:
    assert _keys(loaded, "churn") == LAYER
    graph = loaded.resolve_asset_graph()
    specs = {s.key.to_user_string(): s for s in loaded.resolve_all_asset_specs()}
    assert {specs[f"churn/{k}"].group_name for k in LAYER} == {
        "churn_training",
        "churn_export",
        "churn_monitoring",
        "churn_serving",
    }
    assert all(specs[f"churn/{k}"].tags["mlops/model"] == "churn" for k in LAYER)
    deps = {k: {d.asset_key.to_user_string() for d in s.deps} for k, s in specs.items()}
    assert {"feast_registry", "churn_labels"} <= deps["churn/training_set"]
    assert deps["churn/challenger"] == {"churn/candidate_sklearn", "churn/candidate_xgboost"}
    assert (
        "churn/onnx" in deps["churn/daily_scores"]
        and "churn_world/online_features" in deps["churn/daily_scores"]
    )
    assert "churn_labels" in deps["churn/model_performance"]

    checks = {
        (c.asset_key.to_user_string(), c.name): c.blocking
        for c in graph.asset_check_keys
        for c in [graph.get_check_spec(c)]
    }
    assert checks[("churn/challenger", "approval_gate")] is True
    assert checks[("churn/onnx", "onnx_parity")] is True
    assert checks[("churn/training_set", "training_set_null_rate")] is True
    assert ("churn/drift_report", "feature_drift") in checks
    assert ("churn/drift_report", "missing_rate_drift") in checks
    assert ("churn/model_performance", "performance_floor") in checks
    for name in ("score_distribution", "bucket_shares", "scoring_volume", "value_range"):
        assert checks[("churn/drift_report", name)] is False  # output checks never block
    assert checks[("churn/model_performance", "top_decile")] is False
    assert checks[("churn/retraining_episodes", "retraining_episode")] is False
    assert not graph.get(dg.AssetKey(["churn", "retraining_episodes"])).is_materializable
    # the history follows the candidates, not the gate: a failed gate does not block it
    assert deps["churn/retraining_history"] == {
        "churn/candidate_sklearn",
        "churn/candidate_xgboost",
    }

    # partitions start where the YAML says; the performance asset carries the label delay
    scores = graph.get(dg.AssetKey(["churn", "daily_scores"]))
    assert scores.partitions_def.get_first_partition_key() == "2026-01-01"
    perf = specs["churn/model_performance"]
    assert perf.metadata["mlops/label_delay_days"] == 30

    assert {j.name for j in loaded.jobs} >= {
        "churn_retrain_job",
        "churn_scoring_job",
        "churn_performance_job",
        "churn_rollback_job",
        "churn_approve_model_job",
        "churn_retraining_episode_job",
        "churn_world_daily_job",
    }
    assert {s.name for s in loaded.sensors} >= {
        "churn_world_landing_sensor",
        "churn_scoring_sensor",
        "churn_retrain_on_drift_sensor",
        "churn_retrain_on_new_data_sensor",
    }
    assert {s.name for s in loaded.schedules} >= {
        "churn_world_daily_job_schedule",
        "churn_retrain_schedule",
        "churn_scoring_schedule",
    }
    retrain = loaded.resolve_job_def("churn_retrain_job")
    assert {k.to_user_string() for k in retrain.asset_layer.executable_asset_keys} == {
        f"churn/{k}"
        for k in LAYER
        - {
            "daily_scores",
            "drift_report",
            "model_performance",
            "prediction_log",
            "ab_test",
            "retraining_episodes",
        }
    }
    scoring = loaded.resolve_job_def("churn_scoring_job")
    assert {k.to_user_string() for k in scoring.asset_layer.executable_asset_keys} == {
        "churn/daily_scores",
        "churn/drift_report",
    }
    # the dataset's daily job is its data layer only: each model scores through its own job
    daily = loaded.resolve_job_def("churn_world_daily_job")
    assert not {
        k for k in daily.asset_layer.executable_asset_keys if k.path[0] in {"churn", "cdnow"}
    }
    assert dg.AssetKey(["churn_world", "online_features"]) in (
        daily.asset_layer.executable_asset_keys
    )


def test_a_second_yaml_builds_a_second_layer_next_to_the_first() -> None:
    churn = load_spec(CHURN_YAML)
    world = load_dataset_spec(DATASETS_DIR / churn.dataset / "defs.yaml")
    upsell = churn.model_copy(update={"name": "upsell", "candidates": churn.candidates[:1]})
    both = dg.Definitions.merge(build_model_defs(churn, world), build_model_defs(upsell, world))
    keys = {k.to_user_string() for a in both.assets for k in a.keys}
    assert {f"upsell/{k}" for k in LAYER - {"candidate_xgboost"}} <= keys
    assert "upsell/candidate_xgboost" not in keys
    assert {j.name for j in both.jobs} >= {"upsell_retrain_job", "churn_retrain_job"}
    assert {s.name for s in both.sensors} >= {"upsell_scoring_sensor", "churn_scoring_sensor"}


def test_the_schema_reads_every_field_of_the_churn_yaml() -> None:
    spec = load_spec(CHURN_YAML)
    assert spec.name == "churn" and spec.entity.join_key == "customer_id"
    assert spec.features.service == "churn_model"
    assert spec.labels.delay_days == 30 and spec.labels.dbt_model == "churn_labels"
    assert spec.partitions.start_date.isoformat() == "2026-01-01"
    assert [c.kind for c in spec.candidates] == ["sklearn", "xgboost"]
    assert (spec.gate.metric, spec.gate.floor, spec.gate.tolerance) == ("auc_pr", 0.72, 0.01)
    assert "nb_transactions_30d" in spec.population.sql


def test_the_feast_repo_declares_the_services_models_name() -> None:
    assert "churn_model" in declared_feature_services(ROOT / "feature_repo")


# --------------------------------------------------------------------------------------------
# wrong YAML → a clear error when the code location loads


def _project(tmp_path: Path, monkeypatch, attributes: dict) -> Path:
    """A throwaway dg project with one model YAML, the dataset it reads and a Feast repo
    declaring two services and the dataset's online view."""
    package = f"tmp_models_{uuid.uuid4().hex[:8]}"
    root = tmp_path / "project"
    model_dir = root / package / "defs" / "models" / "m"
    model_dir.mkdir(parents=True)
    dataset_dir = root / package / "defs" / "datasets" / "d"
    dataset_dir.mkdir(parents=True)
    dataset = yaml.safe_load((DATASETS_DIR / "churn_world" / "defs.yaml").read_text())
    dataset["attributes"]["name"] = "d"
    dataset["attributes"]["features"]["online_views"] = ["view_a"]
    (dataset_dir / "defs.yaml").write_text(yaml.safe_dump(dataset, sort_keys=False))
    for init in (root / package / "__init__.py", root / package / "defs" / "__init__.py"):
        init.write_text("")
    (root / "pyproject.toml").write_text(
        f'[tool.dg]\ndirectory_type = "project"\n[tool.dg.project]\nroot_module = "{package}"\n'
    )
    (root / "feature_repo").mkdir()
    (root / "feature_repo" / "services.py").write_text(
        "from feast import FeatureService\n"
        'a = FeatureService(name="svc_a", features=[])\n'
        'b = FeatureService(name="svc_b", features=[])\n'
        'v = FeatureView(name="view_a", entities=[], schema=[], source=None)\n'
    )
    doc = {"type": "mlops_assets.components.ModelPipeline", "attributes": attributes}
    (model_dir / "defs.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    monkeypatch.syspath_prepend(str(root))
    return root


def _good() -> dict:
    doc = yaml.safe_load(CHURN_YAML.read_text())["attributes"]
    doc["features"]["service"] = "svc_a"
    doc["dataset"] = "d"
    return doc


def _load_error(root: Path) -> str:
    with pytest.raises(Exception) as raised:
        dg.ComponentTree.for_project(root).build_defs("models")
    messages, err = [], raised.value
    while err is not None:
        messages.append(str(err))
        err = err.__cause__
    return "\n".join(messages)


def test_a_good_yaml_in_another_project_loads(tmp_path, monkeypatch) -> None:
    root = _project(tmp_path, monkeypatch, {**_good(), "name": "m"})
    defs = dg.ComponentTree.for_project(root).build_defs("models")
    assert {k.to_user_string() for a in defs.assets for k in a.keys} >= {"m/challenger"}


@pytest.mark.parametrize(
    ("change", "field", "allowed"),
    [
        (lambda d: d.update(colour="blue"), "attributes.colour", "Extra inputs are not permitted"),
        (
            lambda d: d["labels"].update(delay_days="a month"),
            "attributes.labels.delay_days",
            "valid integer",
        ),
        (
            lambda d: d["candidates"].append({"kind": "lightgbm"}),
            "attributes.candidates.2",
            "expected tags: 'sklearn', 'xgboost'",
        ),
        (
            lambda d: d["gate"].update(floor=1.5),
            "attributes.gate.floor",
            "less than or equal to 1",
        ),
        (
            lambda d: d["gate"].update(floor=-0.1),
            "attributes.gate.floor",
            "greater than or equal to 0",
        ),
        (
            lambda d: d["gate"].update(metric="f1"),
            "attributes.gate.metric",
            "'auc_pr' or 'roc_auc'",
        ),
        (
            lambda d: d["candidates"].append({"kind": "sklearn"}),
            "attributes.candidates",
            "repeated: ['sklearn']",
        ),
        (
            lambda d: d.update(outputs={"bucket_edges": [0.7, 0.3]}),
            "attributes.outputs",
            "bucket_edges must increase strictly within (0, 1)",
        ),
    ],
    ids=[
        "unknown-field",
        "wrong-type",
        "unknown-kind",
        "floor-above-1",
        "floor-below-0",
        "unknown-metric",
        "kind-twice",
        "bucket-edges-unordered",
    ],
)
def test_a_wrong_yaml_fails_at_load_naming_file_field_and_what_is_allowed(
    tmp_path, monkeypatch, change, field, allowed
) -> None:
    attributes = _good()
    change(attributes)
    root = _project(tmp_path, monkeypatch, attributes)
    message = _load_error(root)
    assert re.search(rf"{re.escape(field)} at \S*defs/models/m/defs.yaml:\d+", message), message
    assert allowed in message, message

    # the same file read outside Dagster's loader says the same, with the path first
    with pytest.raises(ModelSpecError) as raised:
        load_spec(next(root.glob("*/defs/models/m/defs.yaml")))
    assert str(raised.value).startswith(str(next(root.glob("*/defs/models/m/defs.yaml"))))
    assert field in str(raised.value) and allowed.split(":")[0] in str(raised.value)


def test_an_unknown_feature_service_names_it_and_lists_the_declared_ones(
    tmp_path, monkeypatch
) -> None:
    attributes = _good()
    attributes["features"]["service"] = "churn_v9"
    root = _project(tmp_path, monkeypatch, attributes)
    message = _load_error(root)
    assert "defs/models/m/defs.yaml: attributes.features.service" in message
    assert "'churn_v9' is not declared" in message
    assert "available: svc_a, svc_b" in message


def test_an_unknown_dataset_names_it_and_lists_the_declared_ones(tmp_path, monkeypatch) -> None:
    attributes = _good()
    attributes["dataset"] = "nowhere"
    root = _project(tmp_path, monkeypatch, attributes)
    message = _load_error(root)
    assert "defs/models/m/defs.yaml: attributes.dataset: dataset 'nowhere' is not declared" in (
        message
    )
    assert "declared: d" in message


def test_the_schema_has_no_dataset_names_of_its_own() -> None:
    """The component is generic: every model fact comes from the YAML."""
    source = "\n".join(p.read_text() for p in (ROOT / "mlops_assets" / "components").rglob("*.py"))
    for word in ("churn", "customer_id", "customer_activity", "plan_tier"):
        assert word not in source, word
    assert ModelSpec.model_fields["name"].is_required()
