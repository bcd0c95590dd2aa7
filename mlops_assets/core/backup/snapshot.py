"""Take a snapshot of a data home into a new directory (see `manifest` for the layout).

The snapshot is written under a temporary name next to the destination and renamed at the
end, so a destination that exists is always a complete snapshot."""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from mlops_assets.core.backup import stores
from mlops_assets.core.backup.manifest import (
    CONFIG_DIR,
    HOME_DIR,
    BackupError,
    FileEntry,
    Manifest,
    now_utc,
    sha256_file,
)

METHODS = {
    "sqlite": ("sqlite-backup", stores.copy_sqlite),
    "file": ("file-copy", stores.copy_file),
}


@dataclass(frozen=True)
class BackupReport:
    snapshot: Path
    manifest: Manifest
    seconds: float

    @property
    def total_bytes(self) -> int:
        return sum(f.bytes for f in self.manifest.files)


def project_config_files(project_root: Path) -> dict[str, Path]:
    """The configuration a data home was built with: dataset and model YAMLs, the Feast
    repo's config, the dbt project and profiles, the workspace."""
    patterns = [
        "mlops_assets/defs/**/*.yaml",
        "feature_repo/feature_store.yaml",
        "dbt_project/dbt_project.yml",
        "dbt_project/profiles.yml",
        "workspace.yaml",
    ]
    found: dict[str, Path] = {}
    for pattern in patterns:
        for path in sorted(project_root.glob(pattern)):
            if path.is_file():
                found[path.relative_to(project_root).as_posix()] = path
    return found


def take_snapshot(
    home: Path,
    destination: Path,
    *,
    code_version: str = "unknown",
    config_files: Mapping[str, Path] | None = None,
    lock_timeout: float = 300.0,
    progress: Callable[[str], None] | None = None,
) -> BackupReport:
    """Copy every file of `home` into `destination/home/` with its store's consistent-copy
    mechanism, the configuration into `destination/config/`, and write the manifest."""
    say = progress or (lambda _line: None)
    started = time.perf_counter()
    home, destination = Path(home).resolve(), Path(destination).resolve()
    if not home.is_dir():
        raise BackupError(f"data home {home} does not exist or is not a directory")
    if destination == home or destination.is_relative_to(home):
        raise BackupError(f"backup destination {destination} is inside the data home {home}")
    if destination.exists() and (not destination.is_dir() or any(destination.iterdir())):
        raise BackupError(f"backup destination {destination} exists and is not empty")
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = destination.parent / f".{destination.name}.partial-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    manifest = Manifest(source_home=str(home), created_at=now_utc(), code_version=code_version)
    try:
        _copy_home(home, staging, manifest, lock_timeout=lock_timeout, say=say)
        for name, source in sorted((config_files or {}).items()):
            target = staging / CONFIG_DIR / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            manifest.files.append(_entry(staging, target, "file-copy"))
        manifest.write(staging)
        if destination.exists():
            destination.rmdir()  # empty, checked above
        staging.rename(destination)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return BackupReport(destination, manifest, time.perf_counter() - started)


def _copy_home(home: Path, staging: Path, manifest: Manifest, *, lock_timeout: float, say) -> None:
    files = sorted(p for p in home.rglob("*") if p.is_file() or p.is_symlink())
    databases = {p for p in files if not p.is_symlink() and _kind(p) != "file"}
    for path in files:
        relative = path.relative_to(home).as_posix()
        if path.is_symlink():
            manifest.skipped[relative] = "symlink (not followed)"
            continue
        if _is_side_file(path, databases):
            manifest.skipped[relative] = "side file of a database copied by its own mechanism"
            continue
        target = staging / HOME_DIR / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        kind = stores.kind_of(path) if path in databases else "file"
        try:
            method = _copy_one(path, target, kind, relative, lock_timeout=lock_timeout, say=say)
        except FileNotFoundError:
            manifest.skipped[relative] = "removed while the backup ran (a temporary file)"
            continue
        manifest.files.append(_entry(staging, target, method))


def _copy_one(path: Path, target: Path, kind: str, relative: str, *, lock_timeout, say) -> str:
    if kind == "duckdb":
        say(f"{relative}: DuckDB COPY FROM DATABASE")
        try:
            stores.copy_duckdb(path, target, lock_timeout=lock_timeout)
        except stores.StoreLocked as exc:
            raise BackupError(str(exc)) from None
        return "duckdb-copy"
    method, copy = METHODS[kind]
    if kind == "sqlite":
        say(f"{relative}: SQLite backup API")
    copy(path, target)
    return method


def _kind(path: Path) -> str:
    try:
        return stores.kind_of(path)
    except FileNotFoundError:
        return "file"  # gone already: recorded as skipped when its copy fails


def _is_side_file(path: Path, databases: set[Path]) -> bool:
    name = path.name
    return any(
        name.endswith(suffix) and path.with_name(name[: -len(suffix)]) in databases
        for suffix in stores.SIDE_SUFFIXES
    )


def _entry(root: Path, path: Path, method: str) -> FileEntry:
    return FileEntry(
        path=path.relative_to(root).as_posix(),
        sha256=sha256_file(path),
        bytes=path.stat().st_size,
        method=method,
    )
