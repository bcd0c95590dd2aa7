"""Import ``skops.io`` without its import-time scan of every loaded module.

When ``skops.io`` is imported it names the types it trusts by default, among them every
scipy.special ufunc. Those carry no ``__module__``, so skops finds each one's module the way
``pickle`` does: ``getattr(module, name)`` on every module in ``sys.modules`` — about 300,000
lookups in a process that has loaded Dagster, many through modules' lazy ``__getattr__``
hooks: 6-9 s of every process that logs or loads a scikit-learn model (each training and
export step of a multiprocess run, each test worker).

`import_skops` imports it with a lookup that gives the same answer faster: a module's own
namespace is read directly, and only modules that define ``__getattr__`` are asked through
``getattr`` as before. The original function is restored once the package is loaded, so what
skops does afterwards (dumping and loading models) is unchanged.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import threading
import warnings
from collections.abc import Callable
from types import ModuleType
from typing import Any

_lock = threading.Lock()
_UTILS = "skops.io._utils"
_MISSING = object()


def whichmodule(obj: Any, name: str) -> str:
    """skops' (and pickle's) ``whichmodule``: the first loaded module holding ``obj`` as
    ``name``, looked up in an index of plain module namespaces instead of through ``getattr``
    on every module."""
    module_name = getattr(obj, "__module__", None)
    if module_name is not None:
        return module_name
    return _index.find(obj, name)


class _ModuleIndex:
    """Where each (object, attribute name) first appears among ``sys.modules``, rebuilt when
    the loaded modules change. Modules with a ``__getattr__`` hook (or that are not
    plain modules) cannot be indexed; they are asked through ``getattr`` in their turn."""

    def __init__(self) -> None:
        self.modules: list[tuple[str, Any]] = []
        self.first: dict[tuple[int, str], int] = {}
        self.hooked: list[int] = []

    def refresh(self) -> None:
        modules = list(sys.modules.copy().items())
        if modules == self.modules:  # names and module objects (compared by identity)
            return
        self.modules = modules
        self.first, self.hooked = {}, []
        for position, (module_name, module) in enumerate(self.modules):
            if module_name in ("__main__", "__mp_main__") or module is None:
                continue
            namespace = getattr(module, "__dict__", None)
            if type(module) is ModuleType and namespace and "__getattr__" not in namespace:
                for attribute, value in namespace.items():
                    self.first.setdefault((id(value), attribute), position)
            else:
                self.hooked.append(position)

    def find(self, obj: Any, name: str) -> str:
        self.refresh()
        indexed = self.first.get((id(obj), name))
        if indexed is not None and vars(self.modules[indexed][1]).get(name, _MISSING) is not obj:
            indexed = None  # a stale entry: the index is only a shortcut, never an answer
        if indexed is None or "." in name:
            return _first_holder(self.modules, obj, name)  # skops' own scan
        earlier_hooks = [self.modules[p] for p in self.hooked if p < indexed]
        return _first_holder(earlier_hooks, obj, name, default=self.modules[indexed][0])

    def clear(self) -> None:
        self.__init__()  # type: ignore[misc]


_index = _ModuleIndex()


def _first_holder(
    modules: list[tuple[str, Any]], obj: Any, name: str, default: str = "__main__"
) -> str:
    for module_name, module in modules:
        skipped = module_name in ("__main__", "__mp_main__") or module is None
        if not skipped and _found_by_getattr(module, name, obj):
            return module_name
    return default


def _found_by_getattr(module: Any, name: str, obj: Any) -> bool:
    target = module
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            for part in name.split("."):
                if part == "<locals>":
                    return False
                target = getattr(target, part)
    except AttributeError:
        return False
    return target is obj


class _PatchUtilsOnLoad(importlib.abc.MetaPathFinder):
    """Finds ``skops.io._utils`` as usual and swaps in our ``whichmodule`` right after it runs,
    before the rest of the package (which uses it at import) is executed."""

    def __init__(self, replacement: Callable[[Any, str], str]) -> None:
        self.replacement = replacement
        self.original: Callable[[Any, str], str] | None = None

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != _UTILS:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        run_module = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            run_module(module)
            self.original = module.whichmodule
            module.whichmodule = self.replacement

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def import_skops() -> None:
    """Import ``skops.io`` (once per process); a no-op when it is already loaded."""
    if "skops.io" in sys.modules:
        return
    with _lock:
        if "skops.io" in sys.modules:
            return
        finder = _PatchUtilsOnLoad(whichmodule)
        sys.meta_path.insert(0, finder)
        try:
            import skops.io  # noqa: F401
        finally:
            sys.meta_path.remove(finder)
            utils = sys.modules.get(_UTILS)
            if utils is not None and finder.original is not None:
                utils.whichmodule = finder.original
            _index.clear()
