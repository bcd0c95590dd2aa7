"""A dataset's dbt models as Dagster assets, with dbt tests as asset checks, and the
completeness check of its feature marts.

One `@dbt_assets` definition per dataset (`<dataset>_dbt_models`), selecting the dataset's
models from the shared dbt project (its YAML's `dbt.select`), daily partitioned like the
dataset: the partition window reaches dbt as `--vars {min_date, max_date}`, so the daily tick
builds one day and a backfill builds its whole range in a single dbt invocation. The asset
keys are dbt's own (the model names); the manifest is prepared at install, never parsed here.
"""

import json
import shutil
from collections.abc import Iterator, Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, dbt_assets

from mlops_assets.components.landing_dataset.spec import DATA_STAGE, DatasetSpec, FeatureMartSpec
from mlops_assets.core import quality
from mlops_assets.resources.dbt import FastDbtCliResource, dbt_project
from mlops_assets.resources.warehouse import WAREHOUSE_POOL, Warehouse
from mlops_assets.settings import Settings


class MlopsDbtTranslator(DagsterDbtTranslator):
    """Folder → group (`<dataset>_staging`, `<dataset>_intermediate`, `<dataset>_marts`: the
    folder holding the model file) and the dataset's tags; everything else per model comes
    from dbt YAML `meta`, so this stays small enough to unit-test."""

    def __init__(self, dataset: DatasetSpec):
        super().__init__(
            settings=DagsterDbtTranslatorSettings(
                enable_asset_checks=True, enable_code_references=True
            )
        )
        self.dataset = dataset

    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        if props["resource_type"] != "model":
            return spec
        keys = self.dataset.keys
        fqn = props["fqn"]
        folder = fqn[-2] if len(fqn) > 2 else "dbt"  # models/<...>/<folder>/<model>.sql
        return spec.replace_attributes(group_name=keys.group(folder)).merge_attributes(
            tags=keys.tags(DATA_STAGE)
        )


def build_dbt_assets(spec: DatasetSpec, partitions: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    assert spec.dbt is not None

    @dbt_assets(
        manifest=dbt_project.manifest_path,
        project=dbt_project,
        select=spec.dbt.select,
        exclude=spec.dbt.exclude or "",
        name=spec.keys.name("dbt_models"),
        dagster_dbt_translator=MlopsDbtTranslator(spec),
        partitions_def=partitions,
        backfill_policy=dg.BackfillPolicy.single_run(),
        pool=WAREHOUSE_POOL,
    )
    def _dbt_models(
        context: dg.AssetExecutionContext, dbt: FastDbtCliResource, settings: Settings
    ) -> Iterator[Any]:
        """Build the selected models for the run's partition window and run their tests."""
        window = context.partition_time_window
        last = window.end.date().fromordinal(window.end.date().toordinal() - 1)
        dbt_vars = {
            "min_date": window.start.date().isoformat(),
            "max_date": last.isoformat(),  # the window end is exclusive; dbt's is inclusive
            "features_export_dir": str(settings.features_dir),
        }
        settings.features_dir.mkdir(parents=True, exist_ok=True)
        context.log.info(f"dbt build for {dbt_vars['min_date']} … {dbt_vars['max_date']}")
        invocation = dbt.cli(["build", "--vars", json.dumps(dbt_vars)], context=context)
        yield from invocation.stream()
        # each invocation gets its own target/ folder; keep it only when the run failed (its
        # dbt.log is what the error message points to)
        shutil.rmtree(invocation.target_path, ignore_errors=True)

    return _dbt_models


def build_completeness_check(
    spec: DatasetSpec, mart: FeatureMartSpec, partitions: dg.PartitionsDefinition
) -> dg.AssetChecksDefinition:
    """`feature_completeness` on a feature mart: every column that is not one of its
    `id_columns` is a feature (the mart's own schema is the list: no copy here)."""
    table = mart.dbt_model
    not_features = set(mart.id_columns) | {mart.date_column}
    date_column = '"' + mart.date_column.replace('"', '""') + '"'

    @dg.asset_check(
        asset=dg.AssetKey(table),
        name="feature_completeness",
        description="Missing rate of every feature column stays under the limit for the days "
        "built.",
        blocking=True,
        partitions_def=partitions,
        pool=WAREHOUSE_POOL,
    )
    def feature_completeness(
        context: dg.AssetCheckExecutionContext, settings: Settings, warehouse: Warehouse
    ) -> dg.AssetCheckResult:
        window = context.partition_time_window
        with warehouse.connect(read_only=True) as con:
            columns = [
                name
                for (name,) in con.execute(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_schema = 'main' AND table_name = ? ORDER BY ordinal_position",
                    [table],
                ).fetchall()
                if name not in not_features
            ]
            outcome = quality.missing_rates(
                con,
                f'main."{table}"',
                [f'"{c}"' for c in columns],
                f"{date_column} >= ? AND {date_column} < ?",
                [window.start.date(), window.end.date()],
                settings.max_missing_rate,
            )
        rates = {k.strip('"'): v for k, v in outcome.metadata.get("missing_rates", {}).items()}
        return dg.AssetCheckResult(
            passed=outcome.passed,
            description=outcome.summary.replace('"', ""),
            metadata={
                "rows": outcome.metadata.get("rows", 0),
                "missing_rates": dg.MetadataValue.json(rates),
                "limit": settings.max_missing_rate,
            },
        )

    return feature_completeness
