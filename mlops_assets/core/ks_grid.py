"""Two-sample KS statistic without sorting the current window: count it into a fixed grid.

The reference side of the KS test is a sorted sample ``a`` fitted once (`drift.fit_reference`).
A full sort of a million current values costs ~70 ms per column on this hardware; counting
them into ``cells`` equal-width cells costs ~7 ms. The grid is built once per reference:

* **cells**: ``c(x) = floor(clip(x * scale + (1 - lo * scale), 0, cells + 1))``, i.e. cell 0 is
  ``x < lo``, cells ``1..cells`` split ``[lo, hi)`` evenly and the last one is ``x >= hi``.
  ``c`` is monotone (IEEE multiplication by a positive number and addition round
  monotonically), so every cell is an interval, and the same map bins ``a`` and the current
  values ``b`` alike. ``lo``/``hi`` are the sample's ``TAIL`` and ``1 - TAIL`` quantiles.
* **integral mode**: when ``a`` holds only integers spanning at most ``cells`` values, the cells
  are ``[k, k + 1)`` for every integer ``k`` (``scale = 1``, exact arithmetic), one per value.

**Error bound.** Let A, B be the two empirical CDFs and L the largest ``|A - B|`` just below
each cell boundary (counts there are exact integers, so the floats are scipy's). For x inside
a cell, ``|A(x) - B(x)|`` exceeds L by at most ``min(A-mass, B-mass)`` of that cell (it can
only move by what one side gains inside the cell before the other catches up at the
boundary). So

    L <= D <= L + bound,   bound = max over cells of min(cell share of a, cell share of b)

where D is ``scipy.stats.ks_2samp(a, b).statistic``. In integral mode with integral current
values, all of a cell's mass sits on its integer k, both CDFs are flat across the rest of the
cell and ``bound = 0``: L is exactly D.

**Atoms.** A heavy repeated value v of the sample (say 40 % zeros) makes its cell's
``min(A-mass, B-mass)`` large although the CDFs only jump at v. The current values equal to v
are counted exactly, and that cell's term becomes ``max(rest of A, rest of B)``, the masses
of the cell without v: below v, ``|A - B|`` moves from the cell's lower boundary by at most
what lies in [boundary, x], v excluded; from v on, it is within what lies in (x, upper
boundary) of the value at the upper boundary.
`ks_on_grid` returns L and the bound; callers fall back to the exact KS when the bound exceeds
their tolerance (e.g. a heavy atom in a float column, or a degenerate reference).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

CELLS = 65_536
"""Equal-width cells between the reference's TAIL quantiles (~0.5 MB of counts per column)."""

TAIL = 1e-4
"""Share of the reference sample left in each open-ended outer cell."""

ATOM_SHARE = 1e-3
"""A sample value repeated at least this share of the time is an atom (see `ks_on_grid`)."""

MAX_ATOMS = 8
"""Atoms counted exactly in the current window (one pass each)."""

KSTWO_RTOL = 1e-9
"""Relative difference allowed between `kstwo_sf` and scipy's ``kstwo.sf`` (measured <= 2e-10)."""


@dataclass(frozen=True, eq=False)
class KsGrid:
    """The reference sample binned once; see the module docstring for the cell map."""

    lo: float
    scale: float
    cells: int
    integral: bool  # cells [k, k + 1) at integers: exact for integral current values
    ref_counts: np.ndarray  # sample values per cell, len cells + 2
    ref_cumulative: np.ndarray  # sample values below each cell's upper boundary
    n_reference: int
    atoms: np.ndarray  # heavy repeated sample values (float64), at most one per cell
    atom_counts: np.ndarray  # sample values equal to each atom

    def cell_of(self, values: np.ndarray) -> np.ndarray:
        """Cell index of every (finite float64) value; one float temporary of len(values)."""
        if self.scale == 1.0:  # integral mode: exact for integers below 2**52
            y = np.add(values, 1.0 - self.lo)
        else:
            y = np.multiply(values, self.scale)
            np.add(y, 1.0 - self.lo * self.scale, out=y)
        np.clip(y, 0, self.cells + 1, out=y)
        return y.astype(np.intp)  # truncation = floor on the clipped, non-negative values


def build_grid(sample: np.ndarray, cells: int = CELLS) -> KsGrid | None:
    """A grid for a sorted finite sample, or None when no equal-width grid fits (hi == lo)."""
    n = len(sample)
    first, last = float(sample[0]), float(sample[-1])
    integral = (
        abs(first) < 2**52
        and abs(last) < 2**52
        and last - first + 1 <= cells
        and bool(np.all(np.floor(sample) == sample))
    )
    if integral:
        lo, scale, size = first, 1.0, int(last - first) + 1
    else:
        k = int(n * TAIL)
        lo, hi = float(sample[k]), float(sample[n - 1 - k])
        scale = cells / (hi - lo) if hi > lo else np.inf
        if not np.isfinite(scale):
            return None
        size = cells
    none = np.empty(0, np.int64)
    grid = KsGrid(lo, scale, size, integral, none, none, n, np.empty(0), none)
    counts = np.bincount(grid.cell_of(sample), minlength=size + 2)
    atoms, atom_counts = (np.empty(0), none) if integral else _atoms(grid, sample)
    return KsGrid(lo, scale, size, integral, counts, np.cumsum(counts), n, atoms, atom_counts)


def _atoms(grid: KsGrid, sample: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The `MAX_ATOMS` most repeated sample values holding at least `ATOM_SHARE` each (e.g. the
    zeros of an amount), the heaviest one per cell."""
    starts = np.flatnonzero(np.concatenate(([True], sample[1:] != sample[:-1])))
    values, counts = sample[starts], np.diff(starts, append=len(sample))  # sorted: no np.unique
    heavy = np.flatnonzero(counts >= ATOM_SHARE * len(sample))
    heavy = heavy[np.argsort(-counts[heavy], kind="stable")]
    chosen: dict[int, int] = {}
    for i in heavy:
        cell = int(grid.cell_of(values[i : i + 1])[0])
        if cell not in chosen and len(chosen) < MAX_ATOMS:
            chosen[cell] = int(i)
    idx = np.array(sorted(chosen.values()), dtype=np.intp)
    return values[idx].astype(np.float64), counts[idx].astype(np.int64)


def is_integral(values: np.ndarray) -> bool:
    """Every value is an integer (finite float64 input)."""
    return bool(np.array_equal(np.floor(values), values))


def ks_on_grid(grid: KsGrid, values: np.ndarray, integral: bool) -> tuple[float, float]:
    """(L, bound) for the sorted reference sample vs ``values`` (finite float64, any order):
    ``L <= ks_2samp(sample, values).statistic <= L + bound``. ``integral`` says every value is
    an integer (the caller knows it from the dtype or `is_integral`)."""
    n1, n2 = grid.n_reference, len(values)
    counts = np.bincount(grid.cell_of(values), minlength=grid.cells + 2)
    cdf_a = grid.ref_cumulative / n1
    cdf_b = np.cumsum(counts) / n2
    d = float(np.max(np.abs(cdf_a - cdf_b)))
    if grid.integral and integral:
        return d, 0.0
    per_cell = np.minimum(grid.ref_counts / n1, counts / n2)
    if len(grid.atoms):
        cells = grid.cell_of(grid.atoms)
        at = np.array([np.count_nonzero(values == v) for v in grid.atoms], dtype=np.int64)
        rest_a = (grid.ref_counts[cells] - grid.atom_counts) / n1
        rest_b = (counts[cells] - at) / n2
        per_cell[cells] = np.minimum(per_cell[cells], np.maximum(rest_a, rest_b))
    bound = float(np.max(per_cell))
    return d, bound


def kstwo_sf(d: float, n: int) -> float:
    """``scipy.stats.kstwo.sf(d, n)`` within a relative `KSTWO_RTOL` (1e-300 absolute below
    ~1e-290, where doubles lose digits), without scipy's slowest branch.

    For ``n > 140`` and ``2.2 <= n d^2 < 370`` scipy returns ``2 * special.smirnov(n, d)``,
    whose exact sum costs 0.1-0.3 s at n ~ 1e5 (several times the whole grid KS of a column).
    Here the same Birnbaum-Tingey sum ``d * sum_j C(n,j) (1-d-j/n)^(n-j) (d+j/n)^(j-1)`` is
    evaluated in logs with numpy (~2 ms). Every other case is scipy's own code.
    """
    from scipy import special, stats

    if not (n > 140 and 0 < d < 0.5 and 2.2 <= n * d * d < 370):
        return float(stats.kstwo.sf(d, n))
    j = np.arange(int(np.floor(n * (1 - d))) + 1, dtype=np.float64)
    log_choose = special.gammaln(n + 1) - special.gammaln(j + 1) - special.gammaln(n - j + 1)
    with np.errstate(divide="ignore"):
        log_terms = (
            log_choose
            + (n - j) * np.log(np.maximum(1 - d - j / n, 0.0))
            + (j - 1) * np.log(d + j / n)
        )
    top = float(np.max(log_terms))
    log_p = math.log(2 * d) + top + math.log(float(np.sum(np.exp(log_terms - top))))
    return float(np.clip(math.exp(log_p), 0.0, 1.0))
