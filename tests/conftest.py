"""Test-session setup shared by every folder."""

import pytest


def pytest_configure(config: pytest.Config) -> None:
    # Install the package's own (exact-message) Dagster warning filters before pytest starts
    # wrapping each test in `warnings.catch_warnings()`, so they are part of the baseline every
    # test restores to, as they are in a CLI run or a code server.
    import mlops_assets  # noqa: F401


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Slow end-to-end modules first. With `--dist loadfile` the workers take whole files in
    collection order: a multi-minute scenario handed out last leaves the other worker idle
    while it runs, so the long ones go first (a stable sort: order within stays the same)."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
