"""One typed settings object: where the data lives, which profile runs, and every threshold.

Read from the environment only when `Settings.from_env()` is called (at definitions load or in
a CLI), never at import. Dagster shows it as the `settings` resource, so every threshold that
gates data or models is visible in the UI's resource view.
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

DEFAULT_HOME = ".mlops"
# Partitions, label delays and thresholds of a dataset or a model are in its YAML
# (defs/datasets/<dataset>/defs.yaml, defs/models/<model>/defs.yaml), not here.


def mlops_home() -> Path:
    """The data home: `MLOPS_HOME`, default `./.mlops` (absolute, so subprocesses agree)."""
    return Path(os.environ.get("MLOPS_HOME") or DEFAULT_HOME).resolve()


def deployment_env() -> str:
    """The one profile switch: `MLOPS_ENV` is `local` (embedded defaults) or `prod`."""
    env = os.environ.get("MLOPS_ENV", "local").strip().lower() or "local"
    if env not in {"local", "prod"}:
        raise ValueError(f"MLOPS_ENV must be 'local' or 'prod', got {env!r}")
    return env


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
