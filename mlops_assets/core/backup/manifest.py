"""The snapshot's manifest: format version, where it came from, and a sha256 per file.

Layout of a snapshot directory:

    manifest.json         this manifest (format, source home, code version, files)
    manifest.json.sha256  the manifest's own checksum, so an edited manifest is caught too
    home/...              the data home's files, at their paths below the home
    config/...            the project's configuration files, for reference and comparison
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath

FORMAT_NAME = "mlops-assets-backup"
# Bump when the layout or the meaning of a field changes; a restore refuses a newer snapshot.
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
MANIFEST_SUM = "manifest.json.sha256"
HOME_DIR = "home"
CONFIG_DIR = "config"
CHUNK = 1024 * 1024


class BackupError(RuntimeError):
    """A backup or restore that cannot go on; the message names the file or setting."""


class SnapshotInvalid(BackupError):
    """A snapshot that is incomplete, altered or of a format this code cannot read."""


@dataclass(frozen=True)
class FileEntry:
    path: str  # POSIX path relative to the snapshot root, e.g. "home/mlflow/mlflow.db"
    sha256: str
    bytes: int
    method: str  # "sqlite-backup", "duckdb-copy" or "file-copy": how it was captured


@dataclass
class Manifest:
    source_home: str
    created_at: str
    code_version: str
    format: str = FORMAT_NAME
    format_version: int = FORMAT_VERSION
    files: list[FileEntry] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # path below the home -> why

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str, *, where: Path) -> Manifest:
        try:
            raw = json.loads(text)
            files = [FileEntry(**entry) for entry in raw.pop("files")]
            return cls(**raw, files=files)
        except (ValueError, TypeError, KeyError) as exc:
            raise SnapshotInvalid(f"{where}: not a readable backup manifest ({exc})") from None

    def write(self, root: Path) -> None:
        text = self.to_json()
        (root / MANIFEST).write_text(text)
        digest = hashlib.sha256(text.encode()).hexdigest()
        (root / MANIFEST_SUM).write_text(f"{digest}  {MANIFEST}\n")


def now_utc() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def safe_relative(text: str, *, where: Path) -> PurePosixPath:
    """A manifest path that stays inside the snapshot: relative, no `..`, no backslash."""
    path = PurePosixPath(text)
    if path.is_absolute() or ".." in path.parts or "\\" in text or not path.parts:
        raise SnapshotInvalid(f"{where}: manifest path {text!r} leaves the snapshot")
    if path.parts[0] not in (HOME_DIR, CONFIG_DIR):
        raise SnapshotInvalid(f"{where}: manifest path {text!r} is not under home/ or config/")
    return path


def read_manifest(root: Path) -> Manifest:
    """The manifest of the snapshot at `root`, after checking its own checksum and format."""
    manifest, checksum = root / MANIFEST, root / MANIFEST_SUM
    for needed in (manifest, checksum):
        if not needed.is_file():
            raise SnapshotInvalid(f"{needed}: missing (is {root} a backup snapshot?)")
    text = manifest.read_text()
    recorded = checksum.read_text().split()[0] if checksum.read_text().split() else ""
    if hashlib.sha256(text.encode()).hexdigest() != recorded:
        raise SnapshotInvalid(f"{manifest}: altered (its sha256 differs from {MANIFEST_SUM})")
    result = Manifest.from_json(text, where=manifest)
    if result.format != FORMAT_NAME:
        raise SnapshotInvalid(f"{manifest}: format {result.format!r}, expected {FORMAT_NAME!r}")
    if not isinstance(result.format_version, int) or result.format_version > FORMAT_VERSION:
        raise SnapshotInvalid(
            f"{manifest}: snapshot format version {result.format_version} is newer than this "
            f"code reads (format version {FORMAT_VERSION}); restore with a newer mlops-assets"
        )
    for entry in result.files:
        safe_relative(entry.path, where=manifest)
    return result


def verify_snapshot(root: Path) -> Manifest:
    """Check every file against the manifest: none missing, none altered, none added.
    Raises `SnapshotInvalid` naming the first bad file."""
    root = Path(root)
    manifest = read_manifest(root)
    listed = set()
    for entry in manifest.files:
        path = root / entry.path
        listed.add(path)
        if not path.is_file() or path.is_symlink():
            raise SnapshotInvalid(f"{entry.path}: missing from the snapshot {root}")
        if path.stat().st_size != entry.bytes or sha256_file(path) != entry.sha256:
            raise SnapshotInvalid(f"{entry.path}: altered (sha256 differs from the manifest)")
    for top in (HOME_DIR, CONFIG_DIR):
        for path in sorted((root / top).rglob("*")) if (root / top).exists() else []:
            if (path.is_file() or path.is_symlink()) and path not in listed:
                raise SnapshotInvalid(
                    f"{path.relative_to(root).as_posix()}: in the snapshot but not in its manifest"
                )
    return manifest
