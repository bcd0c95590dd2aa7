"""Feast, shared by every dataset and model: the registry (`feast apply` of `feature_repo/`).

Lineage in the UI: each dataset's feature marts (dbt) → `feast_registry` →
`<dataset>/online_features` (each dataset's daily online load, built by the landing-dataset
component) and each model's `<model>/training_set` (point in time, built by the
model-pipeline component).
"""

from collections.abc import Sequence

import dagster as dg

from mlops_assets.resources.feature_store import FeatureStoreResource

GROUP = "features"
OWNERS = ["team:ml-platform"]


def build_feast_registry(marts: Sequence[dg.AssetKey]) -> dg.AssetsDefinition:
    """The registry asset, downstream of every dataset's feature marts (their YAMLs)."""

    @dg.asset(
        name="feast_registry",
        group_name=GROUP,
        owners=OWNERS,
        kinds={"feast", "sqlite"},
        deps=list(dict.fromkeys(marts)),
    )
    def feast_registry(
        context: dg.AssetExecutionContext, feast: FeatureStoreResource
    ) -> dg.MaterializeResult:
        """The Feast registry after `feast apply` of `feature_repo/`: entities, feature views,
        on-demand views and feature services (same objects the CLI registers)."""
        from mlops_assets.core import feature_store

        store = feast.store()
        summary = feature_store.apply_repo(store, home=feast.home)
        context.log.info(f"feast apply: {summary}")
        return dg.MaterializeResult(
            metadata={
                "feature_views": dg.MetadataValue.json(summary.get("feature_views", [])),
                "on_demand_feature_views": dg.MetadataValue.json(
                    summary.get("on_demand_feature_views", [])
                ),
                "feature_services": dg.MetadataValue.json(summary.get("feature_services", [])),
                "features": len(summary.get("features", [])),
                "summary": dg.MetadataValue.json(summary),
            }
        )

    return feast_registry
