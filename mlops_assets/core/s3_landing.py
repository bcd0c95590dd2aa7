"""A landing zone on S3, copied day by day into the local landing folder that ingest reads.

The layout is the local one under a prefix: `s3://<bucket>/<prefix><YYYY-MM-DD>/<source>.csv`.
`sync_days` copies a dataset's files (its contract's file names only; other datasets share the
prefix) that are not yet local, each downloaded beside its destination and renamed into place,
so ingest never reads half a file and a day counts as landed only once its required files are
all there (`core.ingest.landed_days`). A key that cannot be a landing file — not under a day
folder, nested deeper, a name that is no calendar day, an object over the size limit — is not
copied and is returned with the reason, for the caller to report; nothing is skipped silently.
Framework-free: the caller passes a boto3 S3 client.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops_assets.core.ingest import DAY_DIR, DEFAULT_MAX_LANDING_FILE_BYTES


@dataclass
class SyncResult:
    copied: list[str] = field(default_factory=list)  # "<day>/<file>", in listing order
    refused: list[tuple[str, str]] = field(default_factory=list)  # (S3 key, why)


def sync_days(
    client: Any,
    bucket: str,
    prefix: str,
    landing_dir: Path,
    file_names: Sequence[str],
    *,
    max_bytes: int = DEFAULT_MAX_LANDING_FILE_BYTES,
) -> SyncResult:
    """Copy the dataset's landing files under `s3://bucket/prefix` that the local landing
    folder lacks (same name and size: already there)."""
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    wanted = set(file_names)
    result = SyncResult()
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    for page in pages:
        for obj in page.get("Contents", ()):
            key, size = obj["Key"], int(obj["Size"])
            if key.endswith("/"):
                continue  # a folder marker some tools write
            parts = key[len(prefix) :].split("/")
            if len(parts) == 2 and parts[1] not in wanted:
                continue  # another dataset's file (its own sensor copies it)
            why = _refusal(parts, size, max_bytes)
            if why:
                result.refused.append((key, why))
                continue
            day, name = parts
            target = landing_dir / day / name
            if target.is_symlink():
                result.refused.append((key, f"{target} is a symbolic link"))
                continue
            if target.is_file() and target.stat().st_size == size:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(f".{name}.{os.getpid()}.part")
            try:
                client.download_file(bucket, key, str(partial))
                if partial.stat().st_size != size:
                    raise OSError(f"downloaded {partial.stat().st_size} bytes, expected {size}")
                os.replace(partial, target)
            finally:
                partial.unlink(missing_ok=True)
            result.copied.append(f"{day}/{name}")
    return result


def _refusal(parts: list[str], size: int, max_bytes: int) -> str | None:
    if len(parts) != 2:
        return "not <day>/<file> under the landing prefix"
    day = parts[0]
    if not DAY_DIR.match(day):
        return f"folder {day!r} is not a day (YYYY-MM-DD)"
    try:
        dt.date.fromisoformat(day)
    except ValueError:
        return f"folder {day!r} is not a calendar day"
    if size > max_bytes:
        return f"{size} bytes, over the {max_bytes}-byte limit of a landing file"
    return None
