"""One typed settings object: where the data lives, which profile runs, and every threshold.

Read from the environment only when `Settings.from_env()` is called (at definitions load or in
a CLI), never at import. Dagster shows it as the `settings` resource, so every threshold that
gates data or models is visible in the UI's resource view.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from mlops_assets.profile import DEFAULT_HOME, deployment_env, mlops_home

# Partitions, label delays and thresholds of a dataset or a model are in its YAML
# (defs/datasets/<dataset>/defs.yaml, defs/models/<model>/defs.yaml), not here.
__all__ = ["DEFAULT_HOME", "Settings", "deployment_env", "mlops_home"]


class Settings(dg.ConfigurableResource):
    """Paths, profile and the data layer's thresholds (the same for every dataset). A model's
    thresholds (gate, drift, performance, retraining) are in its YAML, read by the
    model-pipeline component."""

    home: str
    env: str = "local"

    # ingest and data quality
    max_quarantine_rate: float = 0.02
    max_missing_rate: float = 0.05
    max_orphan_rate: float = 0.01
    row_count_tolerance: float = 0.5  # a partition may differ from its trailing mean by ±50%
    row_count_window_days: int = 7
    max_event_lag_hours: float = 6.0  # the day's newest event must be after 18:00
    max_landing_file_bytes: int = 256 * 1024 * 1024  # a bigger landing file is refused unread
    # raw-column shift at ingest (core.column_shift): warn-level, the day vs its trailing weeks
    column_shift_window_days: int = 28
    column_shift_psi_limit: float = 0.1
    column_shift_min_rows: int = 100

    # cost (core.cost): prices in one currency; a model's monthly budget is in its YAML
    cpu_hour_price: float = 0.05  # per vCPU-hour (an on-demand cloud core)
    gb_month_price: float = 0.023  # per GB-month of storage (object-store list price)

    @classmethod
    def from_env(cls) -> Settings:
        return cls(home=str(mlops_home()), env=deployment_env())

    @property
    def home_path(self) -> Path:
        return Path(self.home)

    @property
    def landing_dir(self) -> Path:
        return self.home_path / "landing"

    @property
    def warehouse_path(self) -> Path:
        return self.home_path / "warehouse.duckdb"

    @property
    def features_dir(self) -> Path:
        return self.home_path / "features"

    @property
    def artifacts_dir(self) -> Path:
        return self.home_path / "artifacts"
