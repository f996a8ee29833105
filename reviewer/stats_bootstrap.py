"""Cluster-bootstrap intervals: whole videos are resampled with replacement.

:func:`bootstrap_ci` is the plain definition (any statistic, one call per resample). Weighted kappa and
ordinal Krippendorff's alpha have vectorised twins that reach the same numbers from the same draws in
one matrix product: a resample is only a multiplicity per video, and both statistics are functions of
a 7x7 table that is linear in those multiplicities. The page recomputes on every filter change, so
this turns tens of seconds into milliseconds; the tests hold each twin to the plain definition.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from reviewer.stats_data import SCORE_RANGE

Weights = Literal["linear", "quadratic"]
LEVEL = 0.95
SIZE = len(SCORE_RANGE)
IntArray = npt.NDArray[np.intp]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Interval:
    """Percentile bootstrap interval; ``n_valid`` resamples had a defined statistic."""

    low: float | None
    high: float | None
    n_valid: int
    message: str | None = None


def _draw_videos(videos: npt.ArrayLike, n_boot: int, seed: int) -> tuple[IntArray, IntArray]:
    """Video code of every unit, and ``n_boot`` rows of video codes drawn with replacement."""
    codes, uniques = pd.factorize(np.asarray(videos))
    return codes, np.random.default_rng(seed).integers(0, len(uniques), size=(n_boot, len(uniques)))


def _unit_multiplicity(videos: npt.ArrayLike, n_boot: int, seed: int) -> FloatArray:
    """How often each unit is drawn in each resample (resamples x units): its video's multiplicity.

    Uses the draws of :func:`bootstrap_ci`, so the vectorised intervals equal the plain definition.
    """
    codes, draws = _draw_videos(videos, n_boot, seed)
    if draws.size == 0:
        return np.empty((0, len(codes)))
    n_draws, n_videos = draws.shape
    offsets = (draws + n_videos * np.arange(n_draws)[:, np.newaxis]).ravel()
    multiplicity = np.bincount(offsets, minlength=n_draws * n_videos).reshape(n_draws, n_videos)
    by_unit: FloatArray = multiplicity[:, codes].astype(float)
    return by_unit


def percentile_interval(replicates: npt.ArrayLike) -> Interval:
    """95% percentile interval of bootstrap replicates; NaN marks a resample without a defined value."""
    values = np.asarray(replicates, dtype=float)
    if values.size == 0:
        return Interval(None, None, 0)
    defined = values[np.isfinite(values)]
    if defined.size < 2:
        return Interval(None, None, defined.size, "too few resamples with a defined value: no interval")
    low, high = np.quantile(defined, [(1 - LEVEL) / 2, (1 + LEVEL) / 2])
    skipped = values.size - defined.size
    message = f"{skipped} of {values.size} resamples undefined; interval from the rest" if skipped else None
    return Interval(float(low), float(high), defined.size, message)


def bootstrap_ci(
    videos: npt.ArrayLike,
    statistic: Callable[[IntArray], float | None],
    *,
    n_boot: int = 1000,
    seed: int = 0,
) -> Interval:
    """Percentile interval of ``statistic`` over resamples of whole videos, drawn with replacement.

    Args:
        videos: Video id of every unit; units of one video are always drawn together.
        statistic: Maps an array of unit indices (with repeats) to a value, or None where undefined.
        n_boot: Number of resamples; 0 skips the interval.
        seed: Seed of the generator, so the interval is reproducible.
    """
    codes, draws = _draw_videos(videos, n_boot, seed)
    if draws.size == 0:
        return Interval(None, None, 0)
    members = [np.flatnonzero(codes == code) for code in range(draws.shape[1])]
    values = [statistic(np.concatenate([members[v] for v in row])) for row in draws]
    return percentile_interval([np.nan if value is None else value for value in values])


def kappa_bootstrap(
    first: npt.ArrayLike,
    second: npt.ArrayLike,
    videos: npt.ArrayLike,
    *,
    weights: Weights,
    n_boot: int,
    seed: int,
) -> Interval:
    """The interval :func:`bootstrap_ci` gives for :func:`weighted_kappa`, computed for all resamples at once.

    Calling scikit-learn once per resample costs milliseconds each, i.e. tens of seconds for 1000
    resamples of a few expert pairs; here a resample is just video multiplicities, so every resample's
    7x7 table is one matrix product. Same draws, same kappa formula: the tests hold both to equality.
    """
    weight = _unit_multiplicity(videos, n_boot, seed)
    if weight.size == 0:
        return Interval(None, None, 0)
    cells = (np.asarray(first) - SCORE_RANGE.start) * SIZE + (np.asarray(second) - SCORE_RANGE.start)
    tables = (weight @ np.eye(SIZE * SIZE)[cells]).reshape(len(weight), SIZE, SIZE)
    return percentile_interval(_kappa_of_tables(tables, weights))


def _kappa_of_tables(tables: FloatArray, weights: Weights) -> FloatArray:
    """Weighted kappa 1 - sum(w O) / sum(w E) of each confusion table, as scikit-learn defines it."""
    rows, columns = np.indices(tables.shape[1:])
    penalty = np.abs(rows - columns) if weights == "linear" else (rows - columns) ** 2
    expected = tables.sum(axis=2)[:, :, np.newaxis] * tables.sum(axis=1)[:, np.newaxis, :]
    expected = expected / tables.sum(axis=(1, 2))[:, np.newaxis, np.newaxis]
    with np.errstate(invalid="ignore", divide="ignore"):
        kappas: FloatArray = 1 - (penalty * tables).sum(axis=(1, 2)) / (penalty * expected).sum(axis=(1, 2))
    return kappas


def unit_coincidences(reliability: npt.ArrayLike) -> FloatArray:
    """Each unit's share of Krippendorff's coincidence table, (n nᵀ - diag n) / (m - 1), units x 7 x 7.

    ``reliability`` is raters x units on the -3..3 scale, NaN where a rater did not rate; n holds the
    unit's value counts and m their sum. Units with fewer than two values are not pairable: zero.
    """
    values = np.asarray(reliability, dtype=float) - SCORE_RANGE.start
    counts = np.stack([(values == v).sum(axis=0) for v in range(SIZE)], axis=1).astype(float)
    pairable = counts.sum(axis=1)
    scale = np.divide(1.0, pairable - 1, out=np.zeros_like(pairable), where=pairable >= 2)
    pairs = counts[:, :, np.newaxis] * counts[:, np.newaxis, :] - counts[:, :, np.newaxis] * np.eye(SIZE)
    shares: FloatArray = pairs * scale[:, np.newaxis, np.newaxis]
    return shares


def ordinal_alpha_of(coincidences: FloatArray) -> FloatArray:
    """Ordinal alpha 1 - (n - 1) sum(o δ²) / sum(n_c n_k δ²) of each coincidence table (tables x 7 x 7).

    δ²_ck = (n_c + ... + n_k - (n_c + n_k) / 2)², Krippendorff's ordinal metric; NaN where undefined.
    """
    totals = coincidences.sum(axis=2)
    cumulative = np.cumsum(totals, axis=1)
    rows, columns = np.indices((SIZE, SIZE))
    low, high = np.minimum(rows, columns), np.maximum(rows, columns)
    between = cumulative[:, high] - cumulative[:, low] + totals[:, low]
    delta = (between - (totals[:, rows] + totals[:, columns]) / 2) ** 2
    observed = (coincidences * delta).sum(axis=(1, 2))
    expected = (totals[:, :, np.newaxis] * totals[:, np.newaxis, :] * delta).sum(axis=(1, 2))
    n = totals.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        alphas: FloatArray = 1 - (n - 1) * observed / expected
    return alphas


def alpha_bootstrap(reliability: npt.ArrayLike, videos: npt.ArrayLike, *, n_boot: int, seed: int) -> Interval:
    """The interval :func:`bootstrap_ci` gives for ordinal alpha of units (columns), all resamples at once."""
    weight = _unit_multiplicity(videos, n_boot, seed)
    if weight.size == 0:
        return Interval(None, None, 0)
    tables = (weight @ unit_coincidences(reliability).reshape(-1, SIZE * SIZE)).reshape(-1, SIZE, SIZE)
    return percentile_interval(ordinal_alpha_of(tables))
