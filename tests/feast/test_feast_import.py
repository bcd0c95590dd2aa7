"""Feast is imported without typeguard's import-time instrumentation, and only Feast."""

import subprocess
import sys

PROBE = """
import sys, typeguard
from mlops_assets.core.feature_store.feast_import import import_feast
checked = typeguard.typechecked
assert "feast" not in sys.modules
import_feast()
import_feast()  # once per process
assert "feast" in sys.modules
assert typeguard.typechecked is checked  # restored for every other user
from feast import FeatureStore, RepoConfig  # the API is whole
print("restored")
"""


def test_import_feast_restores_typeguard_for_everyone_else() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == "restored"
