"""Import Feast without typeguard's import-time instrumentation.

Feast decorates its API with typeguard's ``@typechecked``, which reads, parses and compiles
again the source of every decorated function when its module is imported: 4-10 s of the
first ``import feast`` on a 2-core machine, paid by every process that opens the feature
store (the CLI, each step process of a multiprocess run, the prediction service, each test
worker). `import_feast` imports Feast with that decorator as the identity, restored as soon
as Feast's package is loaded, so Feast's functions run without their runtime argument type
checks — our calls are covered by tests — and every other user of typeguard keeps them. The
same trade is made elsewhere for the same reason (featurebyte/featurebyte#2363).
"""

from __future__ import annotations

import sys
import threading
from typing import Any

_lock = threading.Lock()


def _identity(target: Any = None, **_options: Any) -> Any:
    return target if target is not None else (lambda function: function)


def import_feast() -> None:
    """Import the `feast` package (once per process); a no-op when it is already loaded."""
    if "feast" in sys.modules:
        return
    with _lock:
        if "feast" in sys.modules:
            return
        import typeguard

        checked = typeguard.typechecked
        typeguard.typechecked = _identity
        try:
            import feast  # noqa: F401
        finally:
            typeguard.typechecked = checked
