"""Restore a snapshot into a data home: verify everything first, copy into a temporary
directory next to the home (checking each file's sha256 again), then swap it in with renames.
A failure at any point leaves the home as it was: nothing is half-restored."""

from __future__ import annotations

import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from mlops_assets.core.backup.manifest import (
    CONFIG_DIR,
    HOME_DIR,
    BackupError,
    Manifest,
    SnapshotInvalid,
    sha256_file,
    verify_snapshot,
)


class RestoreRefused(BackupError):
    """A restore that would overwrite data or land where the snapshot cannot work."""


@dataclass(frozen=True)
class RestoreReport:
    home: Path
    manifest: Manifest
    seconds: float
    replaced_existing: bool
    config_differences: list[str]  # config files whose current text differs from the snapshot's


def restore_snapshot(
    snapshot: Path,
    home: Path,
    *,
    force: bool = False,
    project_root: Path | None = None,
) -> RestoreReport:
    """Bring `home` back from `snapshot`.

    Refuses (before touching anything) a snapshot that fails verification, a home that is not
    empty unless `force`, and a home at another path than the one backed up: the stores record
    absolute paths (MLflow artifact locations, Feast sources), so a snapshot is restored where
    it was taken — on a new machine, under the same `MLOPS_HOME`."""
    started = time.perf_counter()
    snapshot, home = Path(snapshot).resolve(), Path(home).resolve()
    manifest = verify_snapshot(snapshot)
    if Path(manifest.source_home) != home:
        raise RestoreRefused(
            f"the snapshot was taken of {manifest.source_home} and cannot be restored into "
            f"{home}: set MLOPS_HOME={manifest.source_home} (stores keep absolute paths)"
        )
    occupied = home.exists() and (not home.is_dir() or any(home.iterdir()))
    if occupied and not force:
        raise RestoreRefused(f"data home {home} is not empty; pass --force to replace it")
    home.parent.mkdir(parents=True, exist_ok=True)
    staging = home.parent / f".{home.name}.restore-{uuid.uuid4().hex[:8]}"
    try:
        _stage(snapshot, manifest, staging)
        replaced = _swap(staging, home)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return RestoreReport(
        home=home,
        manifest=manifest,
        seconds=time.perf_counter() - started,
        replaced_existing=replaced,
        config_differences=config_differences(snapshot, manifest, project_root),
    )


def _stage(snapshot: Path, manifest: Manifest, staging: Path) -> None:
    staging.mkdir()
    prefix = HOME_DIR + "/"
    for entry in manifest.files:
        if not entry.path.startswith(prefix):
            continue
        target = staging / entry.path[len(prefix) :]
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(snapshot / entry.path, target)
        if sha256_file(target) != entry.sha256:  # changed since verify, or a bad disk
            raise SnapshotInvalid(f"{entry.path}: altered while restoring (sha256 differs)")


def _swap(staging: Path, home: Path) -> bool:
    """Put `staging` at `home`: the old home is renamed aside first and removed only after the
    new one is in place (renamed back if that fails)."""
    if not home.exists():
        staging.rename(home)
        return False
    aside = home.parent / f".{home.name}.replaced-{uuid.uuid4().hex[:8]}"
    home.rename(aside)
    try:
        staging.rename(home)
    except BaseException:
        aside.rename(home)
        raise
    if aside.is_dir():
        shutil.rmtree(aside)
    else:
        aside.unlink()
    return True


def config_differences(snapshot: Path, manifest: Manifest, project_root: Path | None) -> list[str]:
    """Config files of the snapshot that differ from (or are missing in) `project_root`."""
    if project_root is None:
        return []
    prefix = CONFIG_DIR + "/"
    differ = []
    for entry in manifest.files:
        if entry.path.startswith(prefix):
            current = project_root / entry.path[len(prefix) :]
            if not current.is_file() or sha256_file(current) != entry.sha256:
                differ.append(entry.path[len(prefix) :])
    return differ
