"""The prod landing zone on S3 (moto's real S3 server): each dataset's landing sensor copies
its new days into the local landing folder, then requests them as it does for local files;
keys that cannot be landing files are reported with why, never copied."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import boto3
import dagster as dg
import pytest

from mlops_assets.components.landing_dataset import dataset_specs
from mlops_assets.components.landing_dataset.automation import build_landing_sensor
from mlops_assets.core.s3_landing import sync_days
from mlops_assets.resources.landing import LandingZone
from mlops_assets.settings import Settings
from tests.servers import S3

SPECS = {d.name: d for d in dataset_specs()}


@pytest.fixture
def prefix() -> str:
    """A landing prefix of the test's own: moto's servers in one process share their buckets
    (another module's test may have landed days under `landing/`)."""
    return f"t-{uuid.uuid4().hex[:8]}/landing/"


@pytest.fixture
def client(s3: S3, prefix: str, monkeypatch: pytest.MonkeyPatch):
    for name, value in {
        "AWS_ENDPOINT_URL_S3": s3.endpoint_url,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    client = boto3.client("s3")
    yield client
    listed = client.list_objects_v2(Bucket=s3.bucket, Prefix=prefix).get("Contents", [])
    for obj in listed:
        client.delete_object(Bucket=s3.bucket, Key=obj["Key"])


def _land(client, bucket: str, files: dict[str, bytes]) -> None:
    for key, body in files.items():
        client.put_object(Bucket=bucket, Key=key, Body=body)


def test_a_sensor_copies_its_datasets_new_days_and_requests_them(
    client, s3: S3, prefix: str, tmp_path: Path
) -> None:
    spec = SPECS["churn_world"]
    required = [s.file_name for s in spec.contract.sources if s.required]
    day1, day2 = "2026-01-01", "2026-01-02"
    _land(client, s3.bucket, {f"{prefix}{day1}/{n}": f"{n} 1\n".encode() for n in required})
    _land(client, s3.bucket, {f"{prefix}{day2}/{n}": f"{n} 2\n".encode() for n in required[:-1]})
    _land(client, s3.bucket, {f"{prefix}{day1}/cdnow_purchases.csv": b"another dataset's\n"})
    job = dg.define_asset_job("daily", selection=dg.AssetSelection.all())
    sensor = build_landing_sensor(spec, job)
    settings = Settings(home=str(tmp_path / "home"))
    landing = LandingZone(s3_bucket=s3.bucket, s3_prefix=prefix)

    def tick(cursor: str | None = None) -> dg.SensorResult:
        with dg.instance_for_test() as instance:
            context = dg.build_sensor_context(
                instance=instance,
                cursor=cursor,
                resources={"settings": settings, "landing": landing},
            )
            return sensor(context)

    first = tick()
    assert [r.partition_key for r in first.run_requests] == [day1]  # day 2 is incomplete
    folder = settings.landing_dir
    assert sorted(p.name for p in (folder / day1).iterdir()) == sorted(required)
    assert (folder / day1 / required[0]).read_bytes() == f"{required[0]} 1\n".encode()
    assert not (folder / day1 / "cdnow_purchases.csv").exists()  # the cdnow sensor's to copy
    assert not list(folder.rglob("*.part"))
    _land(client, s3.bucket, {f"{prefix}{day2}/{required[-1]}": b"late\n"})
    second = tick(first.cursor)
    assert [r.partition_key for r in second.run_requests] == [day2]
    third = tick(second.cursor)
    assert not third.run_requests
    assert "no new churn_world day" in third.skip_reason.skip_message


def test_keys_that_cannot_be_landing_files_are_refused_with_why(
    client, s3: S3, prefix: str, tmp_path: Path
) -> None:
    name = SPECS["cdnow"].contract.sources[0].file_name
    _land(
        client,
        s3.bucket,
        {
            f"{prefix}2026-02-01/{name}": b"ok\n",
            f"{prefix}2026-02-02/{name}": b"x" * 100,  # over the limit below
            f"{prefix}2026-13-40/{name}": b"no such day\n",
            f"{prefix}yesterday/{name}": b"not a day\n",
            f"{prefix}2026-02-03/nested/{name}": b"too deep\n",
            f"{prefix}2026-02-04/": b"",  # a folder marker: ignored
        },
    )
    landing = tmp_path / "landing"
    result = sync_days(client, s3.bucket, prefix.rstrip("/"), landing, [name], max_bytes=50)
    assert result.copied == [f"2026-02-01/{name}"]
    refused = dict(result.refused)
    assert refused == {
        f"{prefix}2026-02-02/{name}": "100 bytes, over the 50-byte limit of a landing file",
        f"{prefix}2026-13-40/{name}": "folder '2026-13-40' is not a calendar day",
        f"{prefix}yesterday/{name}": "folder 'yesterday' is not a day (YYYY-MM-DD)",
        f"{prefix}2026-02-03/nested/{name}": "not <day>/<file> under the landing prefix",
    }
    assert sorted(p.relative_to(landing).as_posix() for p in landing.rglob("*")) == [
        "2026-02-01",
        f"2026-02-01/{name}",
    ]
    again = sync_days(client, s3.bucket, prefix, landing, [name], max_bytes=50)
    assert again.copied == []  # same name and size: already there
    assert dt.date.fromisoformat("2026-02-01") in SPECS["cdnow"].landed_days(landing)
