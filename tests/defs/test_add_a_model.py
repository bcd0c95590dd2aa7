"""The README's "Add a model", followed as written on a temporary copy of the project.

The project (its git-tracked and unignored files) is copied to a temp folder; the shell block
of the README section is run there line by line, `make` targets replaced by what they run
(the copy has no venv of its own: this test's interpreter runs the copy's code through
PYTHONPATH). The new `toy_failure` model must then be materialized end to end (trained,
promoted, exported, scoring, monitored) in the copy's own instance, and no file that existed
before the steps may have changed: the platform code took the new model without an edit.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from tests.components.test_model_pipeline import LAYER as MODEL_ASSETS

SERVING_ASSETS = {"prediction_log", "ab_test"}

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
EXAMPLE = Path("examples/add_a_model")
MODEL = "toy_failure"
DAYS = 45  # generate_toy.py's default; labels land 7 days later
# What `make` runs for the README's targets, given this interpreter's venv.
MAKE = {
    "make install": [
        [
            str(BIN / "dagster-dbt"),
            "project",
            "prepare-and-package",
            "--file",
            "mlops_assets/resources/dbt.py",
        ],
    ],
    "make materialize": [[str(BIN / "mlops-assets"), "materialize"]],
}
GENERATED = ("dbt_project/target/", "dbt_project/logs/", "logs/")  # build output, not edits


def readme_steps() -> list[str]:
    """The lines of the first ```bash block under "## Add a model"."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Add a model\n", 1)
    assert len(section) == 2, "README has no '## Add a model' section"
    block = re.search(r"```bash\n(.*?)```", section[1].split("\n## ", 1)[0], re.DOTALL)
    assert block, "the 'Add a model' section has no bash block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def commands(step: str) -> list[list[str]]:
    if step in MAKE:
        return MAKE[step]
    words = shlex.split(step)
    if step.startswith("cp "):
        return [["bash", "-c", step]]  # the brace expansion is bash's
    if words[0] == ".venv/bin/python":
        return [[sys.executable, *words[1:]]]
    raise AssertionError(f"README step {step!r}: this test does not know how to run it")


def project_files(root: Path) -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return sorted(f for f in listed.split("\0") if f and (root / f).is_file())


def digests(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in root.rglob("*")
        if path.is_file()
        and "__pycache__" not in path.parts
        and not str(path.relative_to(root)).startswith(GENERATED)
    }


@pytest.fixture(scope="module")
def followed(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("add_a_model")
    project, home = root / "project", root / "home"
    for name in project_files(ROOT):
        target = project / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((ROOT / name).read_bytes())
    before = digests(project)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("MLOPS_", "MLFLOW_"))},
        "MLOPS_HOME": str(home),
        "DAGSTER_HOME": str(home / "dagster"),
        "PYTHONPATH": str(project),  # the copy's code, not the installed tree's
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
    }
    env.pop("PYTHONWARNINGS", None)
    outputs = []
    for step in readme_steps():
        for cmd in commands(step):
            out = subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True)
            outputs.append(out.stdout + out.stderr)
            assert out.returncode == 0, f"{step}: {outputs[-1][-4000:]}"
    return {"project": project, "home": home, "before": before, "outputs": outputs}


def test_the_steps_materialize_the_new_model_end_to_end(followed: dict) -> None:
    printed = followed["outputs"][-1]
    assert "everything materialized" in printed
    # what users read: no warning, no MLflow download bars (the CLI turns them off)
    assert [line for line in printed.splitlines() if re.search("warning", line, re.I)] == []
    assert "Downloading artifacts" not in printed
    instance = dg.DagsterInstance.from_config(str(followed["home"] / "dagster"))
    try:
        missing = [
            name
            # on demand, from the UI (serving) / observed only (episodes)
            for name in sorted(MODEL_ASSETS - SERVING_ASSETS - {"retraining_episodes"})
            if instance.get_latest_materialization_event(dg.AssetKey([MODEL, name])) is None
        ]
        assert not missing, f"{MODEL}/… never materialized: {missing}"
        champion = instance.get_latest_materialization_event(dg.AssetKey([MODEL, "champion"]))
        assert int(champion.asset_materialization.metadata["version"].value) >= 1
    finally:
        instance.dispose()
    with duckdb.connect(str(followed["home"] / "warehouse.duckdb"), read_only=True) as con:
        days, rows = con.execute(
            f"SELECT count(DISTINCT score_date), count(*) FROM monitoring.{MODEL}_predictions"
        ).fetchone()
        quarantined = con.execute("SELECT count(*) FROM raw.quarantine").fetchone()[0]
    assert days == DAYS - 7  # every day from the model's first partition on
    assert rows > 0 and quarantined == 0


def test_the_steps_edit_no_existing_file(followed: dict) -> None:
    before, after = followed["before"], digests(followed["project"])
    changed = sorted(name for name in before if after.get(name) != before[name])
    assert not changed, f"following 'Add a model' edited or removed {changed}"
    added = sorted(set(after) - set(before))
    expected = sorted(
        str(path.relative_to(ROOT / EXAMPLE))
        for path in (ROOT / EXAMPLE).rglob("*")
        if path.is_file() and path.parent != ROOT / EXAMPLE and "__pycache__" not in path.parts
    )
    assert added == expected
    assert any(name.startswith("mlops_assets/defs/models/") for name in added)
