"""Test-session setup shared by every folder."""

import pytest


def pytest_configure(config: pytest.Config) -> None:
    # Install the package's own (exact-message) Dagster warning filters before pytest starts
    # wrapping each test in `warnings.catch_warnings()`, so they are part of the baseline every
    # test restores to, as they are in a CLI run or a code server.
    import mlops_assets  # noqa: F401
