"""The whole pipeline in the `prod` profile, on real servers the tests start: the Dagster
instance on Postgres with compute logs on S3 (dagster-aws), MLflow on Postgres with its
artifacts on S3, Feast's SQL registry on Postgres and its online store on Redis — selected by
environment variables only.

A small churn world is materialized phase by phase (as `mlops-assets materialize` does), then
two more days land on S3 one at a time and arrive through the landing sensor (it copies them
from the S3 landing prefix, then requests them); a second Python
process (another code server on another machine, as far as the instance is concerned) loads
the same definitions, reads the same instance and sees the same runs, partitions and champion.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import pytest

from mlops_assets.components.landing_dataset import dataset_specs
from mlops_assets.components.model_pipeline.spec import model_specs
from mlops_assets.datasets.simulator import SimulationConfig, simulate
from mlops_assets.settings import Settings
from tests.servers import S3, Postgres
from tests.small_worlds import SMALL_WORLD_BOOTSTRAP

pytestmark = pytest.mark.slow

START = dt.date(2026, 1, 1)
DAYS = 40
WORLD = {"start_date": START, "customers": 500, "seed": 3}
DATASET, MODEL = "churn_world", "churn"
SENSOR = f"{DATASET}_landing_sensor"

SECOND_PROCESS = """
import json, os, dagster as dg
from mlops_assets.definitions import defs
from mlops_assets.core import registry
d = defs()
uri = os.environ["MLFLOW_TRACKING_URI"]  # the resource holds it as an EnvVar, read at run time
with dg.DagsterInstance.get() as instance:
    print(json.dumps({
        "storage": type(instance.run_storage).__name__,
        "runs": sorted(r.run_id for r in instance.get_runs()),
        "raw_partitions": sorted(
            instance.get_materialized_partitions(dg.AssetKey("raw_customers"))
        ),
        "champion": registry.alias_version(uri, "churn", "champion"),
        "sensors": sorted(s.name for s in d.sensors),
    }))
"""


@dataclass
class ProdWorld:
    env: dict[str, str]
    s3: S3
    postgres: Postgres
    home: Path
    runs: list[str] = field(default_factory=list)
    daily_requests: list[list[str]] = field(default_factory=list)
    observed: dict = field(default_factory=dict)


def _objects(s3: S3, prefix: str) -> list[str]:
    import boto3

    client = boto3.client("s3", endpoint_url=s3.endpoint_url, region_name="us-east-1")
    found = client.list_objects_v2(Bucket=s3.bucket, Prefix=prefix)
    return [o["Key"] for o in found.get("Contents", [])]


def _tables(url: str) -> set[str]:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def world(
    postgres: Postgres, s3: S3, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ProdWorld]:
    from mlops_assets.runner import ensure_dagster_home, materialize_everything, run_selection

    home = tmp_path_factory.mktemp("prod") / "home"
    env = {
        "MLOPS_ENV": "prod",
        "MLOPS_HOME": str(home),
        "DAGSTER_HOME": str(home / "dagster"),
        "MLOPS_DAGSTER_PG_URL": postgres.create_database("dagster").replace(
            "postgresql+psycopg2://", "postgresql://"
        ),
        "MLFLOW_TRACKING_URI": postgres.create_database("mlflow"),
        "MLOPS_MLFLOW_ARTIFACT_ROOT": f"s3://{s3.bucket}/mlflow",
        "MLOPS_FEAST_REGISTRY_URL": postgres.create_database("feast"),
        "MLOPS_REDIS_URL": redis_url,
        "MLOPS_S3_BUCKET": s3.bucket,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_S3": s3.endpoint_url,
    }
    with pytest.MonkeyPatch.context() as mp:
        for name, value in env.items():
            mp.setenv(name, value)
        settings = Settings.from_env()
        simulate(SimulationConfig(days=DAYS, **WORLD), settings.landing_dir)
        ensure_dagster_home(home)
        from mlops_assets.definitions import defs as load

        defs = load()
        world = ProdWorld(env=env, s3=s3, postgres=postgres, home=home)
        with dg.DagsterInstance.get() as instance:
            results = materialize_everything(
                defs,
                settings.landing_dir,
                instance=instance,
                progress=print,
                datasets=[d for d in dataset_specs() if d.name == DATASET],
                models=[m for m in model_specs() if m.name == MODEL],
                bootstrap_reason=SMALL_WORLD_BOOTSTRAP,
            )
            world.runs = [r.run_id for r in results]
            sensor = defs.resolve_sensor_def(SENSOR)
            cursor = None
            stage = home.parent / "stage"  # what the upstream system writes, day by day
            for extra in (1, 2):  # two more days land on S3, one at a time
                simulate(SimulationConfig(days=DAYS + extra, **WORLD), stage)
                _upload_new_days(stage, settings.landing_dir, s3.bucket)
                tick = sensor.evaluate_tick(
                    dg.build_sensor_context(
                        instance=instance, cursor=cursor, definitions=defs,
                        resources=defs.resources, sensor_name=SENSOR,
                    )
                )  # fmt: skip
                cursor = tick.cursor
                world.daily_requests.append([r.partition_key for r in tick.run_requests])
                for request in tick.run_requests:
                    day = request.partition_key
                    run_selection(
                        defs,
                        f"tag:mlops/dataset={DATASET} and tag:mlops/stage=data",
                        instance=instance,
                        partition_range=(day, day),
                        tags={k: v for k, v in request.tags.items() if "dagster/" not in k},
                    )
            world.observed["storage"] = type(instance.run_storage).__name__
            world.observed["runs"] = sorted(r.run_id for r in instance.get_runs())
            world.observed["raw_partitions"] = sorted(
                instance.get_materialized_partitions(dg.AssetKey("raw_customers"))
            )
            world.observed["event_text"] = "\n".join(
                str(event) for run in world.observed["runs"] for event in instance.all_logs(run)
            )
        yield world


def _upload_new_days(stage: Path, landing: Path, bucket: str) -> None:
    """The staged days the landing folder does not have, put under s3://bucket/landing/."""
    import boto3

    client = boto3.client("s3")  # endpoint and credentials from the environment
    for day in sorted(p for p in stage.iterdir() if p.is_dir()):
        if not (landing / day.name).exists():
            for file in sorted(day.iterdir()):
                client.upload_file(str(file), bucket, f"landing/{day.name}/{file.name}")


def test_the_instance_is_on_postgres_and_records_every_run(world: ProdWorld) -> None:
    assert world.observed["storage"] == "PostgresRunStorage"
    assert set(world.runs) <= set(world.observed["runs"])
    assert {"runs", "event_logs", "instigators"} <= _tables(world.env["MLOPS_DAGSTER_PG_URL"])
    assert not (world.home / "dagster" / "history").exists()  # no SQLite fallback


def test_days_arrive_through_the_landing_sensor_one_at_a_time(world: ProdWorld) -> None:
    first_new = [(START + dt.timedelta(days=DAYS + i)).isoformat() for i in (0, 1)]
    assert world.daily_requests == [[first_new[0]], [first_new[1]]]
    expected = [(START + dt.timedelta(days=i)).isoformat() for i in range(DAYS + 2)]
    assert world.observed["raw_partitions"] == expected


def test_compute_logs_go_to_s3_through_dagster_aws(world: ProdWorld) -> None:
    keys = _objects(world.s3, "dagster/compute-logs/")
    assert keys, "no compute log reached the bucket"


def test_the_database_password_appears_in_no_log(world: ProdWorld) -> None:
    """Secrets only through the environment: the run's event logs and the compute logs in S3
    never contain the Postgres password the servers were started with."""
    import boto3

    assert world.observed["event_text"]  # there is something to scan
    assert world.postgres.password not in world.observed["event_text"]
    client = boto3.client("s3", endpoint_url=world.s3.endpoint_url, region_name="us-east-1")
    for key in _objects(world.s3, "dagster/compute-logs/"):
        body = client.get_object(Bucket=world.s3.bucket, Key=key)["Body"].read()
        assert world.postgres.password.encode() not in body, key


def test_mlflow_keeps_its_registry_on_postgres_and_its_artifacts_on_s3(world: ProdWorld) -> None:
    from mlops_assets.core import registry

    uri = world.env["MLFLOW_TRACKING_URI"]
    champion = registry.alias_version(uri, MODEL, "champion")
    assert champion is not None
    assert {"registered_models", "model_versions"} <= _tables(uri)
    artifacts = _objects(world.s3, "mlflow/")
    assert any(key.endswith("onnx/model.onnx") for key in artifacts), artifacts[:20]
    assert not (world.home / "mlflow").exists()  # nothing fell back to local files


def test_feast_registry_is_on_postgres_and_online_features_in_redis(
    world: ProdWorld, redis_url: str
) -> None:
    import redis

    assert {"feature_views", "entities"} <= _tables(world.env["MLOPS_FEAST_REGISTRY_URL"])
    assert not (world.home / "feast" / "registry.db").exists()
    assert not (world.home / "feast" / "online.db").exists()
    host, port = redis_url.split(":")
    assert redis.Redis(host=host, port=int(port)).dbsize() > 0


def test_a_second_process_reads_the_same_instance_and_registry(world: ProdWorld) -> None:
    out = subprocess.run(
        [sys.executable, "-c", SECOND_PROCESS],
        env={**os.environ, **world.env},
        capture_output=True, text=True, timeout=300, cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["storage"] == "PostgresRunStorage"
    assert seen["runs"] == world.observed["runs"]
    assert seen["raw_partitions"] == world.observed["raw_partitions"]
    from mlops_assets.core import registry

    assert seen["champion"] == registry.alias_version(
        world.env["MLFLOW_TRACKING_URI"], MODEL, "champion"
    )
    assert SENSOR in seen["sensors"]
