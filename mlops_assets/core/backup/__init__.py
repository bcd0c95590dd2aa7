"""Backup and restore of a data home: a checksummed snapshot taken with each store's own
consistent-copy mechanism, verified before anything is restored, restored by a swap."""

from mlops_assets.core.backup.manifest import (
    FORMAT_VERSION,
    BackupError,
    Manifest,
    SnapshotInvalid,
    verify_snapshot,
)
from mlops_assets.core.backup.restore import RestoreRefused, RestoreReport, restore_snapshot
from mlops_assets.core.backup.snapshot import BackupReport, take_snapshot

__all__ = [
    "FORMAT_VERSION",
    "BackupError",
    "BackupReport",
    "Manifest",
    "RestoreRefused",
    "RestoreReport",
    "SnapshotInvalid",
    "restore_snapshot",
    "take_snapshot",
    "verify_snapshot",
]
