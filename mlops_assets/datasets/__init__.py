"""Dataset adapters: what writes a dataset into the landing zone (the churn simulator, the CDNOW
replay), each to its dataset's contract.

A dataset is declared in `mlops_assets/defs/datasets/<dataset>/defs.yaml`; an adapter loads
that contract through `contract(<dataset>)` — the same file ingest validates against — and
writes `landing/<YYYY-MM-DD>/<source>.csv` files through the shared `landing_writer`.
Importing this package imports nothing heavy.
"""

from __future__ import annotations

import functools
from pathlib import Path

from mlops_assets.core.schemas import DatasetContract, load_contract

DATASETS_DIR = Path(__file__).resolve().parents[1] / "defs" / "datasets"


def dataset_file(name: str) -> Path:
    """`defs/datasets/<name>/defs.yaml`: where a dataset is declared."""
    return DATASETS_DIR / name / "defs.yaml"


@functools.cache
def contract(name: str) -> DatasetContract:
    """The landing contract of dataset `name`, read from its YAML (once per process)."""
    return load_contract(dataset_file(name))


__all__ = ["DATASETS_DIR", "contract", "dataset_file"]
