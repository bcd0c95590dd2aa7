"""mlops-assets: an asset-based data and model platform on Dagster."""

import warnings

# The one place where Dagster warnings are filtered, each on purpose and by its exact message
# (so any other beta/preview/deprecation warning still shows):
# - `backfill_policy` (beta): single-run backfills are how a 90-day history is built in one
#   dbt invocation instead of 90 (DESIGN §9); there is no stable alternative in 1.13.
# - `partitions_def` on `AssetCheckSpec` (preview): data-quality checks judge one day's
#   partition, so they are partitioned like the asset they check.
# - `include_sources` (beta): Dagster's own selection-string parser passes it for every
#   `group:` and `tag:` clause (runner phases select a dataset's or a model's assets by tag);
#   we never pass it ourselves.
# - code references, sensor `owners`, `execution_type` (beta): Dagster's own component loader
#   (each `defs/datasets/<dataset>/defs.yaml` and `defs/models/<model>/defs.yaml`) links every
#   definition to its YAML line and copies sensors and checks with these parameters; we never
#   call them ourselves.
_INTENDED_DAGSTER_WARNINGS = (
    r"Parameter `backfill_policy` of function `\w+` is currently in beta",
    r"Specifying a partitions_def on an AssetCheckSpec is currently in preview",
    r"Parameter `include_sources` of function `AssetSelection.(groups|tag)` is currently in beta",
    r"Class `LocalFileCodeReference` is currently in beta",
    r"Class `CodeReferencesMetadataValue` is currently in beta",
    r"Parameter `owners` of initializer `SensorDefinition.__init__` is currently in beta",
    r"Parameter `execution_type` of function `AssetsDefinition.__init__` is currently in beta",
)
for _message in _INTENDED_DAGSTER_WARNINGS:
    warnings.filterwarnings("ignore", message=_message)
