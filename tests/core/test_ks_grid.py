"""The grid KS (`core.ks_grid`) against scipy: the stated bound ``L <= D <= L + bound`` on
every shape of data, exactness for integer columns, and, through `compare`, the documented
guarantee for large windows: at most `KS_MAX_ERROR` below scipy's statistic, never above."""

from __future__ import annotations

import zlib
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mlops_assets.core.drift import (
    KS_GRID_MIN_ROWS,
    KS_MAX_ERROR,
    compare,
    fit_reference,
    ks_asymptotic_pvalue,
)
from mlops_assets.core.ks_grid import KSTWO_RTOL, build_grid, is_integral, ks_on_grid, kstwo_sf


def _rng(name: str) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(name.encode()))


def _finite(values) -> np.ndarray:
    x = pd.Series(values).to_numpy(dtype=np.float64, na_value=np.nan)
    return x[np.isfinite(x)]


GRID_CASES = {
    "normal shift": lambda r: (r.normal(size=30_000), r.normal(0.05, size=40_000)),
    "lognormal amounts in cents": lambda r: (
        np.round(r.lognormal(3, 1, 50_000), 2),
        np.round(r.lognormal(3.02, 1, 60_000), 2),
    ),
    "heavy tail": lambda r: (r.standard_cauchy(20_000), r.standard_cauchy(30_000) + 0.1),
    "poisson counts": lambda r: (r.poisson(4, 30_000), r.poisson(4.2, 40_000)),
    "counts, non-integral current": lambda r: (r.poisson(4, 30_000), r.poisson(4, 40_000) + 0.5),
    "wide integers": lambda r: (r.integers(0, 10**7, 20_000), r.integers(0, 10**7, 30_000)),
    "disjoint": lambda r: (r.uniform(0, 1, 20_000), r.uniform(2, 3, 20_000)),
    "current outside on both sides": lambda r: (r.normal(size=20_000), r.normal(0, 5, 30_000)),
    "mostly zeros": lambda r: (
        np.where(r.random(30_000) < 0.7, 0.0, r.exponential(size=30_000)),
        np.where(r.random(30_000) < 0.6, 0.0, r.exponential(size=30_000)),
    ),
    "current repeats reference values": lambda r: (
        (ref := r.normal(size=20_000)),
        np.concatenate([r.normal(size=10_000), r.choice(ref, 10_000)]),
    ),
}


@pytest.mark.parametrize("case", list(GRID_CASES))
def test_grid_statistic_brackets_scipy(case: str) -> None:
    ref, cur = GRID_CASES[case](_rng(case))
    sample = np.sort(ref.astype(np.float64))
    values = cur.astype(np.float64)
    grid = build_grid(sample)
    assert grid is not None
    integral = is_integral(values)
    d, bound = ks_on_grid(grid, values, integral)
    expected = stats.ks_2samp(sample, values).statistic
    assert d <= expected <= d + bound + 1e-15, (d, bound, expected)
    if grid.integral and integral:
        assert bound == 0.0 and d == expected  # integer columns: exact, same float ops
    # non-integral values between integer cells, or a Cauchy tail stretching the equal-width
    # cells: the bound says so (compare sorts instead); everything else is within it
    coarse = case in ("counts, non-integral current", "heavy tail")
    assert (bound > KS_MAX_ERROR) == coarse, bound


def test_integral_mode_needs_integer_sample_within_the_cell_budget() -> None:
    r = _rng("modes")
    assert build_grid(np.sort(r.poisson(3, 1_000).astype(float))).integral
    assert not build_grid(np.sort(r.integers(0, 10**7, 1_000).astype(float))).integral
    assert not build_grid(np.sort(r.normal(size=1_000))).integral
    assert build_grid(np.full(1_000, 2.5)) is None  # no equal-width grid on one float value


# --------------------------------------------------------------------------- through compare

COMPARE_CASES = {
    "normal": lambda r, n: r.normal(0.01, size=n),
    "int64 counts": lambda r, n: r.poisson(4.1, n),
    "float counts with NaN": lambda r, n: np.where(r.random(n) < 0.05, np.nan, r.poisson(4.1, n)),
    "amounts in cents with inf": lambda r, n: np.where(
        r.random(n) < 0.01, np.inf, np.round(r.lognormal(3.01, 1, n), 2)
    ),
    "mostly zeros": lambda r, n: np.where(r.random(n) < 0.6, 0.0, r.exponential(size=n)),
    "cauchy (exact fallback)": lambda r, n: r.standard_cauchy(n),
    "shifted far": lambda r, n: r.normal(3, size=n),
}
REFERENCE = {
    "normal": lambda r, n: r.normal(size=n),
    "int64 counts": lambda r, n: r.poisson(4, n),
    "float counts with NaN": lambda r, n: r.poisson(4, n).astype(float),
    "amounts in cents with inf": lambda r, n: np.round(r.lognormal(3, 1, n), 2),
    "mostly zeros": lambda r, n: np.where(r.random(n) < 0.7, 0.0, r.exponential(size=n)),
    "cauchy (exact fallback)": lambda r, n: r.standard_cauchy(n),
    "shifted far": lambda r, n: r.normal(size=n),
}
EXACT = {"int64 counts", "float counts with NaN", "cauchy (exact fallback)"}


@pytest.mark.parametrize("case", list(COMPARE_CASES))
def test_compare_ks_above_grid_threshold_is_within_stated_bound(case: str) -> None:
    r = _rng(case)
    n_cur = KS_GRID_MIN_ROWS + 20_000
    ref = pd.DataFrame({"x": REFERENCE[case](r, 150_000)})
    cur = pd.DataFrame({"x": COMPARE_CASES[case](r, n_cur)})
    profile = fit_reference(ref, ["x"])
    sample, values = profile.numeric["x"].ks_sample, _finite(cur["x"])
    assert len(values) > KS_GRID_MIN_ROWS
    row = compare(profile, cur).table.set_index("feature").loc["x"]
    expected = stats.ks_2samp(sample, values, method="auto")
    d = row.ks_statistic
    assert expected.statistic - KS_MAX_ERROR <= d <= expected.statistic
    scipy_at_d = ks_asymptotic_pvalue(d, len(sample), len(values))
    assert row.ks_pvalue == pytest.approx(scipy_at_d, rel=KSTWO_RTOL, abs=1e-300)
    assert expected.pvalue * (1 - KSTWO_RTOL) <= row.ks_pvalue  # a lower statistic ...
    low = ks_asymptotic_pvalue(max(expected.statistic - KS_MAX_ERROR, 0), len(sample), len(values))
    assert row.ks_pvalue <= low * (1 + KSTWO_RTOL)  # ... a larger p-value, by the bound's worth
    if case in EXACT:  # integer columns: the same statistic; the fallback: scipy's own p too
        assert d == expected.statistic
    if case == "cauchy (exact fallback)":
        assert row.ks_pvalue == expected.pvalue
    exact = compare(profile, cur, ks_exact=True).table.set_index("feature").loc["x"]
    assert (exact.ks_statistic, exact.ks_pvalue) == (expected.statistic, expected.pvalue)
    assert (exact.status, exact.psi) == (row.status, row.psi)  # KS never changes a verdict


@pytest.mark.parametrize("n", [141, 2_000, 12_000, 90_909, 300_000])
def test_kstwo_sf_matches_scipy_where_it_replaces_smirnov(n: int) -> None:
    """The Smirnov branch (``2.2 <= n d^2 < 370``) and its borders, against scipy."""
    for nd2 in (0.5, 2.19, 2.2, 3.0, 10.0, 60.0, 250.0, 369.9, 371.0):
        d = (nd2 / n) ** 0.5
        if d >= 0.5:
            continue
        expected = float(stats.kstwo.sf(d, n))
        assert kstwo_sf(d, n) == pytest.approx(expected, rel=KSTWO_RTOL, abs=1e-300), (n, nd2)


def test_atoms_are_counted_exactly_and_tighten_the_bound() -> None:
    r = _rng("atoms")
    ref = np.sort(np.where(r.random(50_000) < 0.4, 0.0, r.lognormal(3, 1, 50_000)))
    cur = np.where(r.random(60_000) < 0.45, 0.0, r.lognormal(3, 1, 60_000))
    grid = build_grid(ref)
    assert grid.atoms.tolist() == [0.0] and grid.atom_counts[0] == np.count_nonzero(ref == 0)
    d, bound = ks_on_grid(grid, cur, integral=False)
    expected = stats.ks_2samp(ref, cur).statistic
    assert d <= expected <= d + bound and bound <= KS_MAX_ERROR
    plain = replace(grid, atoms=np.empty(0), atom_counts=np.empty(0, np.int64))  # no atom rule
    assert ks_on_grid(plain, cur, integral=False)[1] > 0.3  # min of the zero cell's masses
