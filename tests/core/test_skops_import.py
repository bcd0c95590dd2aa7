"""skops.io imported through `import_skops` names the same trusted types, and only its import
uses the indexed module lookup."""

import subprocess
import sys
import types

import numpy as np
import pytest

from mlops_assets.core import skops_import

# In a process as crowded as a Dagster step's: what skops computed at import through our
# lookup equals what its own (restored) lookup computes afterwards.
PROBE = """
import dagster, numpy as np, scipy.special, sklearn
from mlops_assets.core.skops_import import import_skops
import_skops()
import_skops()  # once per process
from skops.io import _trusted_types as trusted, _utils
assert _utils.whichmodule.__module__ == "skops.io._utils", "skops' own lookup restored"
assert trusted.SCIPY_UFUNC_TYPE_NAMES == _utils.get_public_type_names(scipy.special, np.ufunc)
assert trusted.NUMPY_UFUNC_TYPE_NAMES == _utils.get_public_type_names(np, np.ufunc)
print(len(trusted.SCIPY_UFUNC_TYPE_NAMES))
"""


def test_import_skops_trusts_what_skops_own_lookup_names() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert int(out.stdout) > 100  # the scipy ufuncs, which carry no __module__, were all named


def test_lookup_agrees_with_skops_own_for_every_scipy_ufunc() -> None:
    import scipy.special

    skops_import.import_skops()
    from skops.io import _utils

    ufuncs = [v for v in vars(scipy.special).values() if isinstance(v, np.ufunc)]
    assert ufuncs
    for ufunc in ufuncs:
        assert skops_import.whichmodule(ufunc, ufunc.__name__) == _utils.whichmodule(
            ufunc, ufunc.__name__
        )


@pytest.fixture
def hooked_module_first() -> object:
    """An object reachable first through a module's ``__getattr__``, then from a plain module."""
    thing = np.frompyfunc(lambda x: x, 1, 1)  # a ufunc: no __module__
    hooked = types.ModuleType("zz_hooked")
    hooked.__getattr__ = lambda name: thing if name == thing.__name__ else _raise(name)  # type: ignore[attr-defined]
    plain = types.ModuleType("zz_plain")
    setattr(plain, thing.__name__, thing)
    sys.modules["zz_hooked"], sys.modules["zz_plain"] = hooked, plain
    yield thing
    del sys.modules["zz_hooked"], sys.modules["zz_plain"]


def _raise(name: str) -> None:
    raise AttributeError(name)


def test_a_hooked_module_earlier_in_order_wins_as_in_skops(hooked_module_first: object) -> None:
    skops_import.import_skops()
    from skops.io import _utils

    name = hooked_module_first.__name__  # type: ignore[attr-defined]
    assert _utils.whichmodule(hooked_module_first, name) == "zz_hooked"
    assert skops_import.whichmodule(hooked_module_first, name) == "zz_hooked"
    del sys.modules["zz_hooked"]
    sys.modules["zz_hooked"] = types.ModuleType("zz_hooked")  # re-added last, holds nothing
    assert skops_import.whichmodule(hooked_module_first, name) == "zz_plain"


def test_an_object_in_no_module_is_main() -> None:
    orphan = np.frompyfunc(lambda x: x, 1, 1)
    assert skops_import.whichmodule(orphan, orphan.__name__) == "__main__"
