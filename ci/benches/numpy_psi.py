"""A plain numpy PSI: the drift bench's baseline and its independent check of Evidently's numbers.

It lives with the generator, not in the projects: a project's drift job trusts Evidently, and the
generator (which pins Evidently in every project) checks each release against this, value by
value, in ci/benches/drift.py (`binning rules` and `max |dPSI|`).

Binning follows the rule Evidently 0.7 documents for its PSI test, so both compute PSI on the same
bins:

- non-finite values (NaN, +-inf) are dropped from each side first;
- a column with more than 20 distinct reference values gets Sturges histogram bins over both
  sides together (`numpy.histogram_bin_edges(..., bins="sturges")`);
- otherwise each distinct value is its own bin;
- empty bins get a small share (min non-zero share / 1e6 when that is <= 1e-4, else 1e-4) so
  the log term stays finite;
- PSI = sum((ref% - cur%) * ln(ref% / cur%)); drift when PSI >= threshold.
"""

from __future__ import annotations

from typing import Any

import numpy as np

FloatArray = np.ndarray[Any, np.dtype[np.float64]]
DISTINCT_VALUES_FOR_HISTOGRAM = 20


def _finite(values: Any) -> FloatArray:
    array = np.asarray(values, dtype=np.float64).ravel()
    return array[np.isfinite(array)]


def _fill_zeros(shares: FloatArray) -> FloatArray:
    filled = shares.copy()
    nonzero = filled[filled != 0]
    if nonzero.size == 0:
        return filled
    smallest = float(nonzero.min())
    filled[filled == 0] = smallest / 10**6 if smallest <= 0.0001 else 0.0001
    return filled


def binned_shares(reference: Any, current: Any) -> tuple[FloatArray, FloatArray]:
    """The share of each side's rows per bin (bins from the rule in the module docstring)."""
    ref = _finite(reference)
    cur = _finite(current)
    if ref.size == 0 or cur.size == 0:
        raise ValueError("PSI needs at least one finite value on each side")
    distinct = np.unique(ref)
    if distinct.size > DISTINCT_VALUES_FOR_HISTOGRAM:
        edges = np.histogram_bin_edges(np.concatenate([ref, cur]), bins="sturges")
        ref_shares = np.histogram(ref, edges)[0] / ref.size
        cur_shares = np.histogram(cur, edges)[0] / cur.size
    else:
        keys = np.union1d(distinct, np.unique(cur))
        ref_shares = np.bincount(np.searchsorted(keys, ref), minlength=keys.size) / ref.size
        cur_shares = np.bincount(np.searchsorted(keys, cur), minlength=keys.size) / cur.size
    return _fill_zeros(ref_shares.astype(np.float64)), _fill_zeros(cur_shares.astype(np.float64))


def psi(reference: Any, current: Any) -> float:
    """Population Stability Index of one feature, current against reference."""
    ref_shares, cur_shares = binned_shares(reference, current)
    return float(np.sum((ref_shares - cur_shares) * np.log(ref_shares / cur_shares)))


def psi_table(reference: Any, current: Any, columns: list[str]) -> dict[str, float]:
    """PSI per column for two frames (anything indexable by column name)."""
    return {column: psi(np.asarray(reference[column]), np.asarray(current[column])) for column in columns}
