"""dbt CLI resource tuned for per-partition runs."""

from __future__ import annotations

import importlib.metadata
from functools import cached_property

from dagster_dbt import DbtCliResource
from packaging import version


class FastDbtCliResource(DbtCliResource):
    """`DbtCliResource` that reads the dbt-core version from package metadata.

    The stock resource shells out to `dbt --version` before every invocation (about 2 s here,
    and it tries to reach PyPI). dbt-core is installed in this same environment, so its
    metadata gives the same answer for free.
    """

    @cached_property
    def _cli_version(self) -> version.Version:
        return version.parse(importlib.metadata.version("dbt-core"))
