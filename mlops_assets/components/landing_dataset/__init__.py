"""The landing-dataset component type (`LandingDataset`) and its YAML schema (`DatasetSpec`)."""

from mlops_assets.components.landing_dataset.component import (
    LandingDataset,
    build_dataset_defs,
    daily_partitions,
)
from mlops_assets.components.landing_dataset.spec import (
    DATASETS_DIR,
    DatasetKeys,
    DatasetSpec,
    DatasetSpecError,
    dataset_specs,
    load_dataset_spec,
)

__all__ = [
    "DATASETS_DIR",
    "DatasetKeys",
    "DatasetSpec",
    "DatasetSpecError",
    "LandingDataset",
    "build_dataset_defs",
    "daily_partitions",
    "dataset_specs",
    "load_dataset_spec",
]
