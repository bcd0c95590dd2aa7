"""`mlops-assets backup` / `restore` from the command line: exit codes and messages that name
what is wrong (unset destination, an instance outside the home, an altered snapshot)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_assets.cli import main
from mlops_assets.core.backup import verify_snapshot


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    (home / "landing" / "2026-01-01").mkdir(parents=True)
    (home / "landing" / "2026-01-01" / "customers.csv").write_text("customer_id\nC1\n")
    monkeypatch.setenv("MLOPS_HOME", str(home))
    monkeypatch.setenv("MLOPS_ENV", "local")
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    return home


def test_backup_goes_to_the_backup_dir_and_verify_reports_ok(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.delenv("MLOPS_BACKUP_DIR", raising=False)
    assert main(["backup"]) == 2
    assert "give --to DIR or set MLOPS_BACKUP_DIR" in capsys.readouterr().err
    monkeypatch.setenv("MLOPS_BACKUP_DIR", str(tmp_path / "backups"))
    assert main(["backup"]) == 0
    (snapshot,) = (tmp_path / "backups").iterdir()
    files = verify_snapshot(snapshot).files
    assert "home/landing/2026-01-01/customers.csv" in {f.path for f in files}
    assert f"{len(files)} files" in capsys.readouterr().err
    assert main(["restore", "--from", str(snapshot), "--verify"]) == 0
    assert f"ok, {len(files)} files match their sha256" in capsys.readouterr().err
    (snapshot / "home" / "landing" / "2026-01-01" / "customers.csv").write_text("x")
    assert main(["restore", "--from", str(snapshot), "--verify"]) == 1
    assert "home/landing/2026-01-01/customers.csv: altered" in capsys.readouterr().err
    assert main(["restore", "--from", str(snapshot), "--force"]) == 1
    assert (home / "landing" / "2026-01-01" / "customers.csv").read_text() == "customer_id\nC1\n"


def test_an_instance_outside_the_home_is_refused(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "elsewhere"))
    assert main(["backup", "--to", str(tmp_path / "s")]) == 1
    assert "DAGSTER_HOME=" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch):
    from tests.servers import s3_server

    with s3_server("backups") as server:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", server.endpoint_url)
        yield server


def test_a_snapshot_on_an_s3_prefix_round_trips_and_is_verified(
    home: Path, s3, capsys: pytest.CaptureFixture[str]
) -> None:
    import boto3

    uri = "s3://backups/mlops/2026-12-03"
    assert main(["backup", "--to", uri]) == 0
    assert main(["backup", "--to", uri]) == 1  # a prefix holds one snapshot
    assert "s3://backups/mlops/2026-12-03 is not empty" in capsys.readouterr().err
    assert main(["backup", "--to", "s3://backups"]) == 1
    assert "a prefix is required" in capsys.readouterr().err

    (home / "landing" / "2026-01-01" / "customers.csv").write_text("customer_id\nC9\n")
    assert main(["restore", "--from", uri]) == 1  # not empty
    assert main(["restore", "--from", uri, "--force"]) == 0
    assert (home / "landing" / "2026-01-01" / "customers.csv").read_text() == "customer_id\nC1\n"

    client = boto3.client("s3")  # endpoint and credentials from the environment, as the CLI
    key = "mlops/2026-12-03/home/landing/2026-01-01/customers.csv"
    client.put_object(Bucket="backups", Key=key, Body=b"customer_id\nC2\n")
    capsys.readouterr()
    assert main(["restore", "--from", uri, "--verify"]) == 1
    assert "home/landing/2026-01-01/customers.csv: altered" in capsys.readouterr().err
    assert main(["restore", "--from", "s3://backups/nothing-here"]) == 1
    assert "manifest.json: missing" in capsys.readouterr().err
