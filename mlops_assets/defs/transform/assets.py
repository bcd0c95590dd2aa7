"""dbt models as Dagster assets: staging → intermediate → marts, with dbt tests as asset checks.

One `@dbt_assets` definition, daily partitioned: the partition window reaches dbt as
`--vars {min_date, max_date}`, so the daily tick builds one day and a backfill builds its whole
range in a single dbt invocation.
"""

import json
import shutil
from collections.abc import Iterator, Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, dbt_assets

from mlops_assets.partitions import daily_partitions
from mlops_assets.resources.dbt import FastDbtCliResource, dbt_project
from mlops_assets.resources.warehouse import WAREHOUSE_POOL
from mlops_assets.settings import Settings


class MlopsDbtTranslator(DagsterDbtTranslator):
    """Folder → group (`dbt_staging`, `dbt_intermediate`, `dbt_marts`); everything else per
    model comes from YAML `meta`, so this stays small enough to unit-test."""

    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        if props["resource_type"] == "model":
            spec = spec.replace_attributes(group_name=f"dbt_{props['fqn'][1]}")
        return spec


translator = MlopsDbtTranslator(
    settings=DagsterDbtTranslatorSettings(enable_asset_checks=True, enable_code_references=True)
)


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=translator,
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=WAREHOUSE_POOL,
)
def dbt_models(
    context: dg.AssetExecutionContext, dbt: FastDbtCliResource, settings: Settings
) -> Iterator[Any]:
    """Build the selected models for the run's partition window and run their tests."""
    window = context.partition_time_window
    dbt_vars = {
        "min_date": window.start.date().isoformat(),
        # the window end is exclusive; dbt's window is inclusive
        "max_date": (window.end.date().fromordinal(window.end.date().toordinal() - 1)).isoformat(),
        "features_export_dir": str(settings.features_dir),
    }
    settings.features_dir.mkdir(parents=True, exist_ok=True)
    context.log.info(f"dbt build for {dbt_vars['min_date']} … {dbt_vars['max_date']}")
    invocation = dbt.cli(["build", "--vars", json.dumps(dbt_vars)], context=context)
    yield from invocation.stream()
    # each invocation gets its own target/ folder; keep it only when the run failed (its
    # dbt.log is what the error message points to)
    shutil.rmtree(invocation.target_path, ignore_errors=True)
