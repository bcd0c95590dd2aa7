"""The landing-dataset component: one `defs.yaml` per dataset builds that dataset's data layer.

    defs/datasets/<dataset>/defs.yaml   type: mlops_assets.components.LandingDataset
                                        attributes: <DatasetSpec>

From the YAML alone (no Feast registry, no warehouse at load) it builds, with the dataset's
daily partitions from its `partitions.start_date`: `landing_<source>` specs (the files) →
`raw_<source>` ingest assets with their quality checks → the dataset's dbt models
(`<dataset>_dbt_models`, dbt tests as checks) and `feature_completeness` on its feature marts
→ `<dataset>/online_features`; and `<dataset>_daily_job`, `<dataset>_landing_sensor`,
`<dataset>_daily_job_schedule`. The Feast registry is shared (`feast_registry`) and
referenced, never copied.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from pydantic import BaseModel

from mlops_assets.components.landing_dataset import automation, features, ingest, transform
from mlops_assets.components.landing_dataset.spec import (
    DatasetSpec,
    check_online_views,
    check_unique_sources,
)

FEATURE_REPO = "feature_repo"  # at the project root, next to dbt_project/


class LandingDataset(dg.Component, DatasetSpec, dg.Resolvable):
    """A dataset declared in YAML: its landing contract (sources, columns, keys, references),
    partitions, dbt models, feature marts and the Feast views it serves online."""

    @classmethod
    def get_model_cls(cls) -> type[BaseModel]:
        # validated against the plain schema (no template strings): an error names the field
        # and what is allowed without "or a string" alternatives
        return cls

    @classmethod
    def load(cls, attributes: BaseModel | None, context: dg.ComponentLoadContext) -> LandingDataset:
        source = str(Path(context.path) / "defs.yaml")
        if attributes is None:
            raise ValueError(f"{source}: a dataset needs `attributes:`")
        component = attributes if isinstance(attributes, cls) else cls(**attributes.model_dump())
        check_online_views(component, Path(context.project_root) / FEATURE_REPO, source)
        check_unique_sources(component, Path(context.path).parent, source)
        return component

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        return build_dataset_defs(self)


def daily_partitions(spec: DatasetSpec) -> dg.DailyPartitionsDefinition:
    return dg.DailyPartitionsDefinition(start_date=spec.partitions.start_date.isoformat())


def build_dataset_defs(spec: DatasetSpec) -> dg.Definitions:
    """Every definition of one dataset's data layer, from its spec only."""
    partitions = daily_partitions(spec)
    sources = spec.contract.sources
    raw = [ingest.build_ingest_asset(spec, s, partitions) for s in sources]
    assets: list[dg.AssetsDefinition] = list(raw)
    checks = []
    if spec.dbt is not None:
        assets.append(transform.build_dbt_assets(spec, partitions))
        checks = [
            transform.build_completeness_check(spec, m, partitions) for m in spec.features.marts
        ]
    if spec.features.online_views:
        assets.append(features.build_online_features(spec, partitions))
    job = automation.build_daily_job(spec, assets)
    return dg.Definitions(
        assets=[*(ingest.landing_spec(spec, s, partitions) for s in sources), *assets],
        asset_checks=checks,
        jobs=[job],
        sensors=[automation.build_landing_sensor(spec, job)],
        schedules=[automation.build_daily_schedule(spec, job)],
    )
