"""The landing-dataset component: what one dataset YAML builds (keys, groups, partitions,
checks, dbt selection, jobs, sensors, schedules — no materialization), and the clear
load-time errors a wrong YAML gets (file, field, what is allowed)."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import dagster as dg
import pytest
import yaml

from mlops_assets.components.landing_dataset import (
    DATASETS_DIR,
    DatasetSpecError,
    build_dataset_defs,
    dataset_specs,
    load_dataset_spec,
)
from mlops_assets.core.schemas import ContractError

CHURN_WORLD = DATASETS_DIR / "churn_world" / "defs.yaml"
CDNOW = DATASETS_DIR / "cdnow" / "defs.yaml"


@pytest.fixture(scope="module")
def loaded() -> dg.Definitions:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLOPS_HOME", "/nonexistent-mlops-home")
        from mlops_assets.definitions import defs

        return defs()


def _asset_keys(defs: dg.Definitions) -> set[str]:
    """Keys of the definitions' assets and specs (no resources needed)."""
    return {
        k.to_user_string()
        for a in defs.assets
        for k in (a.keys if isinstance(a, dg.AssetsDefinition) else [a.key])
    }


def _checks(graph, key: str) -> dict[str, bool]:
    return {
        c.name: c.blocking
        for c in (graph.get_check_spec(k) for k in graph.asset_check_keys)
        if c.asset_key.to_user_string() == key
    }


def test_each_dataset_yaml_builds_its_data_layer(loaded: dg.Definitions) -> None:
    graph = loaded.resolve_asset_graph()
    specs = {s.key.to_user_string(): s for s in loaded.resolve_all_asset_specs()}
    deps = {k: {d.asset_key.to_user_string() for d in s.deps} for k, s in specs.items()}
    # raw keys stay `raw_<source>` (lineage from before datasets were declared)
    for source in ("customers", "transactions", "support_tickets", "churn_labels"):
        assert f"landing_{source}" in deps[f"raw_{source}"]
        assert specs[f"raw_{source}"].group_name == "churn_world_ingest"
        assert specs[f"raw_{source}"].tags["mlops/dataset"] == "churn_world"
    assert "raw_customers" in deps["raw_transactions"]  # read by the orphan check
    assert "landing_cdnow_purchases" in deps["raw_cdnow_purchases"]
    assert "raw_cdnow_purchases" in deps["stg_cdnow_purchases"]  # the dbt source has an owner
    assert specs["raw_cdnow_purchases"].group_name == "cdnow_ingest"

    # checks follow the contract: references → known_<source>; timestamp events → volume
    assert _checks(graph, "raw_transactions") == {
        "quarantine_rate": True,
        "known_customers": True,
        "freshness": False,
        "row_count": False,
        "column_shift": False,  # warn-level: amount deciles, channel shares vs trailing weeks
    }
    assert _checks(graph, "raw_customers") == {"quarantine_rate": True}
    assert _checks(graph, "raw_churn_labels") == {"quarantine_rate": True, "known_customers": True}
    # a date event time: no freshness or row-count rule (days are not cut short at noon)
    assert _checks(graph, "raw_cdnow_purchases") == {"quarantine_rate": True, "column_shift": False}
    assert _checks(graph, "customer_activity_features")["feature_completeness"] is True
    assert _checks(graph, "cdnow_customer_features")["feature_completeness"] is True

    # each dataset's dbt models, folder → group, in one @dbt_assets per dataset
    assert specs["customer_activity_features"].group_name == "churn_world_marts"
    assert specs["stg_transactions"].group_name == "churn_world_staging"
    assert specs["cdnow_customer_features"].group_name == "cdnow_marts"
    assert specs["int_cdnow_customer_daily"].group_name == "cdnow_intermediate"
    assert specs["cdnow_repurchase_labels"].tags["mlops/dataset"] == "cdnow"
    dbt_defs = {
        a.node_def.name: {k.to_user_string() for k in a.keys}
        for a in loaded.assets
        if isinstance(a, dg.AssetsDefinition)
        and a.is_executable
        and a.node_def.name.endswith("_dbt_models")
    }
    assert set(dbt_defs) == {"churn_world_dbt_models", "cdnow_dbt_models"}
    assert all(
        k.startswith(("stg_cdnow", "int_cdnow", "cdnow_")) for k in dbt_defs["cdnow_dbt_models"]
    )
    assert not [k for k in dbt_defs["churn_world_dbt_models"] if "cdnow" in k]

    # online features per dataset; the registry is shared and downstream of every feature mart
    assert {"feast_registry", "cdnow_customer_features"} <= deps["cdnow/online_features"]
    assert {"cdnow_customer_features", "customer_activity_features"} <= deps["feast_registry"]
    assert specs["cdnow/online_features"].group_name == "cdnow_features"

    # partitions from the YAML's start date
    for key in ("raw_cdnow_purchases", "cdnow_customer_features", "cdnow/online_features"):
        first = graph.get(dg.AssetKey.from_user_string(key)).partitions_def
        assert first.get_first_partition_key() == "2026-01-01"

    # automation per dataset
    assert {"churn_world_daily_job", "cdnow_daily_job"} <= {j.name for j in loaded.jobs}
    assert {"churn_world_landing_sensor", "cdnow_landing_sensor"} <= {
        s.name for s in loaded.sensors
    }
    assert {"churn_world_daily_job_schedule", "cdnow_daily_job_schedule"} <= {
        s.name for s in loaded.schedules
    }
    cdnow_job = loaded.resolve_job_def("cdnow_daily_job")
    keys = {k.to_user_string() for k in cdnow_job.asset_layer.executable_asset_keys}
    assert {"raw_cdnow_purchases", "cdnow_customer_features", "cdnow/online_features"} <= keys
    assert not keys & {"raw_transactions", "churn_world/online_features"}


def test_the_yaml_loader_reads_both_datasets_like_the_component() -> None:
    specs = {s.name: s for s in dataset_specs()}
    assert set(specs) == {"churn_world", "cdnow"}
    cdnow = specs["cdnow"].contract
    assert cdnow.names == ["cdnow_purchases"] and cdnow.required_files == ("cdnow_purchases.csv",)
    world = specs["churn_world"].contract
    assert world.required_files == ("customers.csv", "transactions.csv", "support_tickets.csv")
    assert world.source("transactions").references == (("customer_id", "customers"),)
    assert specs["cdnow"].features.online_views == ["cdnow_customer_activity"]


def test_a_dataset_yaml_builds_without_the_rest_of_the_project() -> None:
    spec = load_dataset_spec(CDNOW)
    defs = build_dataset_defs(spec)
    keys = _asset_keys(defs)
    assert {"landing_cdnow_purchases", "raw_cdnow_purchases", "cdnow/online_features"} <= keys


# --------------------------------------------------------------------------------------------
# wrong YAML → a clear error when the code location loads


def _project(tmp_path: Path, monkeypatch, datasets: dict[str, dict]) -> Path:
    """A throwaway dg project with dataset YAMLs and a Feast repo declaring two views (one
    offline only)."""
    package = f"tmp_datasets_{uuid.uuid4().hex[:8]}"
    root = tmp_path / "project"
    for folder, attributes in datasets.items():
        dataset_dir = root / package / "defs" / "datasets" / folder
        dataset_dir.mkdir(parents=True)
        doc = {"type": "mlops_assets.components.LandingDataset", "attributes": attributes}
        (dataset_dir / "defs.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    for init in (root / package / "__init__.py", root / package / "defs" / "__init__.py"):
        init.write_text("")
    (root / "pyproject.toml").write_text(
        f'[tool.dg]\ndirectory_type = "project"\n[tool.dg.project]\nroot_module = "{package}"\n'
    )
    (root / "feature_repo").mkdir()
    (root / "feature_repo" / "views.py").write_text(
        "from feast import FeatureView\n"
        'a = FeatureView(name="view_a", entities=[], schema=[], source=None)\n'
        'b = FeatureView(name="view_b", entities=[], schema=[], source=None, online=False)\n'
    )
    monkeypatch.syspath_prepend(str(root))
    return root


def _good(name: str = "d") -> dict:
    """A small valid dataset (no dbt: nothing to select from in a throwaway project)."""
    doc = yaml.safe_load(CHURN_WORLD.read_text())["attributes"]
    doc["name"] = name
    doc.pop("dbt")
    doc["features"] = {}
    return doc


def _load_error(root: Path) -> str:
    with pytest.raises(Exception) as raised:
        dg.ComponentTree.for_project(root).build_defs("datasets")
    messages, err = [], raised.value
    while err is not None:
        messages.append(str(err))
        err = err.__cause__
    return "\n".join(messages)


def test_a_good_dataset_yaml_in_another_project_loads(tmp_path, monkeypatch) -> None:
    root = _project(tmp_path, monkeypatch, {"d": _good()})
    defs = dg.ComponentTree.for_project(root).build_defs("datasets")
    keys = _asset_keys(defs)
    assert {"raw_customers", "landing_transactions"} <= keys
    assert {s.name for s in defs.sensors} == {"d_landing_sensor"}


def _column(doc: dict, source: str, column: str) -> dict:
    src = next(s for s in doc["sources"] if s["name"] == source)
    return next(c for c in src["columns"] if c["name"] == column)


def _source(doc: dict, source: str) -> dict:
    return next(s for s in doc["sources"] if s["name"] == source)


@pytest.mark.parametrize(
    ("change", "field", "allowed"),
    [
        (lambda d: d.update(colour="blue"), "attributes.colour", "Extra inputs are not permitted"),
        (
            lambda d: _column(d, "transactions", "amount").update(type="money"),
            "attributes.sources.1.columns.3.type",
            "'string', 'int', 'float', 'decimal', 'date' or 'timestamp'",
        ),
        (
            lambda d: _source(d, "transactions").update(key=["txn_id"]),
            "sources.1.key.0",
            "'txn_id' is not a column of transactions; columns: transaction_id, customer_id",
        ),
        (
            lambda d: _source(d, "transactions").update(event_time="channel"),
            "sources.1.event_time",
            "'channel' is a string column; allowed: date or timestamp",
        ),
        (
            lambda d: _source(d, "transactions").update(references={"customer_id": "clients"}),
            "sources.1.references.customer_id",
            "'clients' is not another source of this dataset; sources: customers, support_tickets",
        ),
        (
            lambda d: _source(d, "customers").update(references={"customer_id": "churn_labels"}),
            "sources.0.references.customer_id",
            "churn_labels has a composite key",
        ),
        (
            lambda d: _column(d, "customers", "plan").update(min=0),
            "sources.0.columns.2.min",
            "only int, float, decimal columns take bounds, not string",
        ),
        (
            lambda d: d["partitions"].update(start_date="someday"),
            "attributes.partitions.start_date",
            "valid date",
        ),
    ],
    ids=[
        "unknown-field",
        "unknown-type",
        "key-not-a-column",
        "event-time-not-a-time",
        "reference-unknown-source",
        "reference-composite-key",
        "bounds-on-a-string",
        "bad-start-date",
    ],
)
def test_a_wrong_dataset_yaml_fails_at_load_naming_file_field_and_what_is_allowed(
    tmp_path, monkeypatch, change, field, allowed
) -> None:
    attributes = _good()
    change(attributes)
    root = _project(tmp_path, monkeypatch, {"d": attributes})
    message = _load_error(root)
    assert re.search(r"\S*defs/datasets/d/defs.yaml", message), message
    assert field in message and allowed in message, message

    # the same file read outside Dagster's loader says the same, with the path first
    path = next(root.glob("*/defs/datasets/d/defs.yaml"))
    with pytest.raises(DatasetSpecError) as raised:
        load_dataset_spec(path)
    assert str(raised.value).startswith(str(path))
    assert field.removeprefix("attributes.") in str(raised.value), raised.value
    # and so does the adapters' contract loader (plain data, no pydantic), when it reads it
    if "sources" in field:
        from mlops_assets.core.schemas import load_contract

        with pytest.raises(ContractError) as raised:
            load_contract(path)
        assert str(raised.value).startswith(
            f"{path}: attributes.{field.removeprefix('attributes.')}"
        )


def test_a_source_declared_by_two_datasets_names_both(tmp_path, monkeypatch) -> None:
    other = _good("e")
    other["sources"] = [_source(other, "customers")]
    root = _project(tmp_path, monkeypatch, {"d": _good(), "e": other})
    message = _load_error(root)
    assert "attributes.sources: source 'customers' is declared by datasets" in message, message
    assert "must be unique across datasets" in message
    with pytest.raises(ContractError, match="source 'customers' is declared by datasets"):
        dataset_specs(next(root.glob("*/defs/datasets")))


@pytest.mark.parametrize(
    ("view", "allowed"),
    [
        ("view_z", "feature view 'view_z' is not declared in"),
        ("view_b", "feature view 'view_b' is declared with online=False"),
    ],
)
def test_an_online_view_must_be_declared_online(tmp_path, monkeypatch, view, allowed) -> None:
    attributes = _good()
    attributes["dbt"] = {"select": "path:models/x"}
    attributes["features"] = {"online_views": [view]}
    root = _project(tmp_path, monkeypatch, {"d": attributes})
    message = _load_error(root)
    assert "defs/datasets/d/defs.yaml: attributes.features.online_views.0" in message, message
    assert allowed in message


def test_the_component_has_no_dataset_names_of_its_own() -> None:
    root = Path(__file__).resolve().parents[2] / "mlops_assets" / "components" / "landing_dataset"
    source = "\n".join(p.read_text() for p in root.rglob("*.py"))
    for word in ("churn", "cdnow", "customer", "transactions", "purchase"):
        assert word not in source, word
