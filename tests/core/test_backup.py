"""Backup and restore of a data home on real stores (SQLite, DuckDB, files): the snapshot is
complete and checksummed, restore brings the same bytes and rows back, and every kind of bad
input — a missing, altered or extra file, an edited manifest, a newer format, a non-empty or
moved home — is refused with the file or both versions named, leaving the home untouched."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import duckdb
import pytest

from mlops_assets.core.backup import (
    FORMAT_VERSION,
    BackupError,
    RestoreRefused,
    SnapshotInvalid,
    restore_snapshot,
    take_snapshot,
    verify_snapshot,
)
from mlops_assets.core.backup.manifest import MANIFEST, Manifest, read_manifest


def _make_home(home: Path) -> None:
    (home / "mlflow" / "artifacts" / "1").mkdir(parents=True)
    (home / "mlflow" / "artifacts" / "1" / "model.onnx").write_bytes(b"\x08\x01onnx-bytes")
    con = sqlite3.connect(home / "mlflow" / "mlflow.db")
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE TABLE versions (name TEXT, version INT)")
    con.executemany("INSERT INTO versions VALUES (?, ?)", [("churn", 1), ("churn", 2)])
    con.commit()
    con.close()
    warehouse = duckdb.connect(str(home / "warehouse.duckdb"))
    warehouse.execute("CREATE SCHEMA raw")
    warehouse.execute("CREATE TABLE raw.t AS SELECT range AS id, range * 0.5 AS x FROM range(1000)")
    # dbt-duckdb's views name their catalog (the file's stem)
    warehouse.execute("CREATE VIEW main.v AS SELECT count(*) AS n FROM warehouse.raw.t")
    warehouse.close()
    (home / "landing" / "2026-01-01").mkdir(parents=True)
    (home / "landing" / "2026-01-01" / "customers.csv").write_text("customer_id\nC1\n")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    _make_home(home)
    return home


@pytest.fixture
def snapshot(home: Path, tmp_path: Path) -> Path:
    report = take_snapshot(home, tmp_path / "backups" / "s1", code_version="abc123")
    return report.snapshot


def _entry(snapshot: Path, path: str) -> dict:
    files = json.loads((snapshot / MANIFEST).read_text())["files"]
    return next(f for f in files if f["path"] == path)


def test_snapshot_uses_each_stores_mechanism_and_checksums_every_file(snapshot: Path) -> None:
    manifest = verify_snapshot(snapshot)
    methods = {f.path: f.method for f in manifest.files}
    assert methods == {
        "home/landing/2026-01-01/customers.csv": "file-copy",
        "home/mlflow/artifacts/1/model.onnx": "file-copy",
        "home/mlflow/mlflow.db": "sqlite-backup",
        "home/warehouse.duckdb": "duckdb-copy",
    }
    assert manifest.format_version == FORMAT_VERSION
    assert manifest.code_version == "abc123"
    assert all(len(f.sha256) == 64 for f in manifest.files)


def test_restore_brings_the_same_rows_bytes_and_views_back(
    home: Path, snapshot: Path, tmp_path: Path
) -> None:
    import shutil

    shutil.rmtree(home)
    report = restore_snapshot(snapshot, home)
    assert not report.replaced_existing
    assert (home / "mlflow" / "artifacts" / "1" / "model.onnx").read_bytes() == (
        b"\x08\x01onnx-bytes"
    )
    con = sqlite3.connect(home / "mlflow" / "mlflow.db")
    assert con.execute("SELECT name, version FROM versions ORDER BY 2").fetchall() == [
        ("churn", 1),
        ("churn", 2),
    ]
    con.close()
    warehouse = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    assert warehouse.sql("SELECT n FROM main.v").fetchall() == [(1000,)]
    assert warehouse.sql("SELECT sum(x) FROM raw.t").fetchall() == [(249750.0,)]
    warehouse.close()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".home.")]  # no staging left


def test_a_missing_file_fails_verify_and_restore_naming_it(home: Path, snapshot: Path) -> None:
    (snapshot / "home" / "mlflow" / "artifacts" / "1" / "model.onnx").unlink()
    with pytest.raises(SnapshotInvalid, match=r"home/mlflow/artifacts/1/model.onnx: missing"):
        verify_snapshot(snapshot)
    with pytest.raises(SnapshotInvalid, match=r"model.onnx: missing"):
        restore_snapshot(snapshot, home, force=True)
    assert (home / "mlflow" / "artifacts" / "1" / "model.onnx").exists()  # home untouched


def test_an_altered_file_fails_verify_and_restore_naming_it(home: Path, snapshot: Path) -> None:
    target = snapshot / "home" / "landing" / "2026-01-01" / "customers.csv"
    target.write_text("customer_id\nC2\n")  # same size, other bytes
    with pytest.raises(SnapshotInvalid, match=r"home/landing/2026-01-01/customers.csv: altered"):
        verify_snapshot(snapshot)
    before = (home / "landing" / "2026-01-01" / "customers.csv").read_text()
    with pytest.raises(SnapshotInvalid, match=r"customers.csv: altered"):
        restore_snapshot(snapshot, home, force=True)
    assert (home / "landing" / "2026-01-01" / "customers.csv").read_text() == before


def test_an_extra_file_or_an_edited_manifest_fails_verify(snapshot: Path) -> None:
    (snapshot / "home" / "intruder.txt").write_text("x")
    with pytest.raises(SnapshotInvalid, match=r"home/intruder.txt: in the snapshot but not in"):
        verify_snapshot(snapshot)
    (snapshot / "home" / "intruder.txt").unlink()
    text = (snapshot / MANIFEST).read_text().replace("abc123", "def456")
    (snapshot / MANIFEST).write_text(text)
    with pytest.raises(SnapshotInvalid, match=r"manifest.json: altered"):
        verify_snapshot(snapshot)


def test_a_manifest_path_leaving_the_snapshot_is_refused(snapshot: Path) -> None:
    manifest = read_manifest(snapshot)
    manifest.files[0] = type(manifest.files[0])("home/../../etc/passwd", "0" * 64, 1, "file-copy")
    manifest.write(snapshot)
    with pytest.raises(SnapshotInvalid, match=r"'home/../../etc/passwd' leaves the snapshot"):
        verify_snapshot(snapshot)


def test_a_snapshot_from_a_newer_format_is_refused_naming_both_versions(
    home: Path, snapshot: Path
) -> None:
    manifest = read_manifest(snapshot)
    manifest.format_version = FORMAT_VERSION + 1
    manifest.write(snapshot)
    expected = (
        rf"format version {FORMAT_VERSION + 1} is newer than this code reads "
        rf"\(format version {FORMAT_VERSION}\)"
    )
    with pytest.raises(SnapshotInvalid, match=expected):
        restore_snapshot(snapshot, home, force=True)


def test_restore_into_a_non_empty_home_needs_force(home: Path, snapshot: Path) -> None:
    (home / "landing" / "2026-01-02").mkdir()
    (home / "landing" / "2026-01-02" / "new.csv").write_text("after the backup\n")
    with pytest.raises(RestoreRefused, match=r"is not empty; pass --force"):
        restore_snapshot(snapshot, home)
    assert (home / "landing" / "2026-01-02" / "new.csv").exists()
    report = restore_snapshot(snapshot, home, force=True)
    assert report.replaced_existing
    assert not (home / "landing" / "2026-01-02").exists()  # back to the snapshot's state
    assert [p.name for p in home.parent.iterdir() if p.name.startswith(".")] == []


def test_restore_elsewhere_is_refused_naming_both_homes(snapshot: Path, tmp_path: Path) -> None:
    with pytest.raises(RestoreRefused, match=r"taken of .*/home and cannot be restored into"):
        restore_snapshot(snapshot, tmp_path / "other")
    assert not (tmp_path / "other").exists()


def test_destination_must_be_new_and_outside_the_home(home: Path, tmp_path: Path) -> None:
    with pytest.raises(BackupError, match=r"is inside the data home"):
        take_snapshot(home, home / "backups" / "s")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(BackupError, match=r"exists and is not empty"):
        take_snapshot(home, tmp_path / "full")
    with pytest.raises(BackupError, match=r"does not exist"):
        take_snapshot(tmp_path / "nowhere", tmp_path / "s")


def test_symlinks_are_recorded_as_skipped_not_followed(home: Path, tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("outside the home")
    (home / "landing" / "link.csv").symlink_to(tmp_path / "secret")
    manifest = take_snapshot(home, tmp_path / "s").manifest
    assert manifest.skipped == {"landing/link.csv": "symlink (not followed)"}
    assert not (tmp_path / "s" / "home" / "landing" / "link.csv").exists()


def test_sqlite_is_copied_consistently_while_another_connection_writes(
    home: Path, tmp_path: Path
) -> None:
    """The backup API copies one committed state: every row of a transaction or none."""
    stop = threading.Event()

    def writer() -> None:
        con = sqlite3.connect(home / "mlflow" / "mlflow.db", timeout=30)
        i = 3
        while not stop.is_set():
            with con:  # two rows per transaction
                con.executemany("INSERT INTO versions VALUES (?, ?)", [("a", i), ("b", i)])
            i += 1
        con.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        snapshot = take_snapshot(home, tmp_path / "live").snapshot
    finally:
        stop.set()
        thread.join()
    copy = sqlite3.connect(snapshot / "home" / "mlflow" / "mlflow.db")
    assert copy.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    a, b = (copy.execute(f"SELECT count(*) FROM versions WHERE name='{n}'").fetchone()[0]
            for n in "ab")  # fmt: skip
    assert a == b
    copy.close()


def test_duckdb_backup_waits_for_the_writer_then_fails_naming_the_file(
    home: Path, tmp_path: Path
) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", (
            "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('ready', flush=True); "
            "sys.stdin.read()"
        ), str(home / "warehouse.duckdb")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(BackupError, match=r"warehouse.duckdb: still locked by a writer"):
            take_snapshot(home, tmp_path / "s", lock_timeout=1.0)
        assert not (tmp_path / "s").exists()
        assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name]
    finally:
        holder.communicate("")
    assert take_snapshot(home, tmp_path / "s").manifest.files


def test_manifest_roundtrips(snapshot: Path) -> None:
    manifest = read_manifest(snapshot)
    assert Manifest.from_json(manifest.to_json(), where=snapshot) == manifest
