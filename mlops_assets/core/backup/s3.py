"""Snapshots on an S3 prefix: the local snapshot uploaded file by file with the manifest last
(a prefix with a manifest holds a complete snapshot), and downloaded back whole before it is
verified and restored like a local one. The client comes from boto3's own configuration
(credentials and `AWS_ENDPOINT_URL_S3` from the environment)."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

from mlops_assets.core.backup.manifest import MANIFEST, MANIFEST_SUM, BackupError

SCHEME = "s3://"


def is_s3(location: str) -> bool:
    return location.startswith(SCHEME)


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """(bucket, prefix ending in '/') of `s3://bucket/prefix`; refuses an empty or `..` prefix."""
    rest = uri[len(SCHEME) :] if is_s3(uri) else ""
    bucket, _, prefix = rest.partition("/")
    prefix = prefix.strip("/")
    if not bucket or not prefix or ".." in PurePosixPath(prefix).parts:
        raise BackupError(f"{uri!r} is not s3://bucket/prefix (a prefix is required)")
    return bucket, prefix + "/"


def _client() -> Any:
    import boto3

    return boto3.client("s3")


def _keys(client: Any, bucket: str, prefix: str) -> list[str]:
    keys: list[str] = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [item["Key"] for item in page.get("Contents", [])]
    return keys


def upload_snapshot(local: Path, uri: str, client: Any = None) -> int:
    """Upload the snapshot at `local` under `uri`; refuses a prefix that holds anything."""
    client = client or _client()
    bucket, prefix = parse_s3_uri(uri)
    if _keys(client, bucket, prefix):
        raise BackupError(f"{uri} is not empty: a snapshot goes to a new prefix")
    last = [local / MANIFEST_SUM, local / MANIFEST]
    files = [p for p in sorted(local.rglob("*")) if p.is_file() and p not in last] + last
    for path in files:
        client.upload_file(str(path), bucket, prefix + path.relative_to(local).as_posix())
    return len(files)


def download_snapshot(uri: str, local: Path, client: Any = None) -> Path:
    """Every object under `uri` into the empty directory `local` (verified by the caller)."""
    client = client or _client()
    bucket, prefix = parse_s3_uri(uri)
    keys = _keys(client, bucket, prefix)
    if prefix + MANIFEST not in keys:
        raise BackupError(f"{uri}{MANIFEST}: missing (is {uri} a backup snapshot?)")
    for key in keys:
        relative = PurePosixPath(key[len(prefix) :])
        if not relative.parts or ".." in relative.parts or relative.is_absolute():
            raise BackupError(f"{key}: object name leaves the snapshot")
        target = local.joinpath(*relative.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        client.download_file(bucket, key, str(target))
    return local
