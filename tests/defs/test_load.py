"""The code location loads fast, imports nothing heavy, validates, and every asset carries the
catalog facts the UI filters on (owners, group, kinds, description)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("mlflow", "feast", "evidently", "xgboost", "sklearn", "onnx", "onnxruntime", "torch")


def test_loading_the_code_location_imports_no_heavy_library() -> None:
    code = (
        "import sys, json, mlops_assets.definitions as d; d.defs(); "
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_definitions_validate_with_the_dagster_cli(tmp_path: Path) -> None:
    env = {**os.environ, "MLOPS_HOME": str(tmp_path), "DAGSTER_HOME": str(tmp_path)}
    dagster = Path(sys.executable).parent / "dagster"
    out = subprocess.run(
        [str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr[-3000:]


@pytest.fixture
def loaded(tmp_path, monkeypatch):
    monkeypatch.setenv("MLOPS_HOME", str(tmp_path))
    from mlops_assets.definitions import defs

    return defs()


def test_every_asset_has_owner_group_kind_and_description(loaded) -> None:
    for spec in loaded.resolve_all_asset_specs():
        name = spec.key.to_user_string()
        assert spec.owners, f"{name} has no owner"
        assert spec.group_name and spec.group_name != "default", f"{name} has no group"
        assert spec.kinds, f"{name} has no kinds"
        assert spec.description, f"{name} has no description"


def test_environment_is_read_when_loading_not_at_import(monkeypatch, tmp_path) -> None:
    from mlops_assets.definitions import defs

    monkeypatch.setenv("MLOPS_HOME", str(tmp_path / "a"))
    assert defs().resources["settings"].home == str(tmp_path / "a")
    monkeypatch.setenv("MLOPS_HOME", str(tmp_path / "b"))
    assert defs().resources["settings"].home == str(tmp_path / "b")
    monkeypatch.setenv("MLOPS_ENV", "staging")
    with pytest.raises(ValueError, match="MLOPS_ENV"):
        defs()


def test_readme_tree_names_every_defs_area_and_core_module() -> None:
    readme = (ROOT / "README.md").read_text()
    areas = [p.name for p in (ROOT / "mlops_assets" / "defs").iterdir() if p.is_dir()]
    missing = [a for a in areas if not a.startswith("_") and f"    {a}/" not in readme]
    assert not missing, f"README tree lacks defs/ areas {missing}"
    modules = [
        p.stem for p in (ROOT / "mlops_assets" / "core").glob("*.py") if p.stem != "__init__"
    ]
    assert not [m for m in modules if f"{m}.py" not in readme], "README tree lacks core modules"
