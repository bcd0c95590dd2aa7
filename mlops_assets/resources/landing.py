"""Where datasets land: the local landing folder, fed from an S3 prefix in the `prod` profile.

Ingest always reads the local folder (confined, size-checked: `core.ingest`). In `prod` each
dataset's landing sensor first copies the days its files have reached on S3 into that folder
(`core.s3_landing`), through dagster-aws's `S3Resource` (the `prod` extra; credentials and
endpoint from boto3's environment: `AWS_*`, `AWS_ENDPOINT_URL_S3`), imported only then.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import dagster as dg

from mlops_assets.core.ingest import DEFAULT_MAX_LANDING_FILE_BYTES
from mlops_assets.core.s3_landing import SyncResult, sync_days


class LandingZone(dg.ConfigurableResource):
    """The local landing folder, fed from `s3://<s3_bucket>/<s3_prefix>` when a bucket is set."""

    s3_bucket: str | None = None
    s3_prefix: str = "landing/"
    max_file_bytes: int = DEFAULT_MAX_LANDING_FILE_BYTES

    @property
    def source(self) -> str:
        return f"s3://{self.s3_bucket}/{self.s3_prefix}" if self.s3_bucket else "local"

    def sync(self, landing_dir: Path, file_names: Sequence[str]) -> SyncResult:
        """Copy what S3 holds and the folder lacks (nothing to do without a bucket)."""
        if not self.s3_bucket:
            return SyncResult()
        from dagster_aws.s3 import S3Resource

        return sync_days(
            S3Resource().get_client(),
            self.s3_bucket,
            self.s3_prefix,
            landing_dir,
            file_names,
            max_bytes=self.max_file_bytes,
        )
