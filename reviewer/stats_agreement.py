"""Agreement on scores between experts and within one expert, and how long experts spend per video.

A unit of agreement is one CAM of one video (video, CAM type), rated on the ordinal scale -3..3.
Confidence intervals resample whole videos (cluster bootstrap): the two CAMs of a video, and the
answers of several experts to it, are not independent, so resampling single units would be too narrow.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

import krippendorff
import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import cohen_kappa_score

from reviewer.stats_data import CLASSES, SCORE_RANGE, answer_rows, finite_or_none, first_reads

Weights = Literal["linear", "quadratic"]
LEVEL = 0.95
IntArray = npt.NDArray[np.intp]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Interval:
    """Percentile bootstrap interval; ``n_valid`` resamples had a defined statistic."""

    low: float | None
    high: float | None
    n_valid: int
    message: str | None = None


@dataclass(frozen=True)
class KappaResult:
    """Weighted Cohen's kappa between two readings (two experts, or one expert and their re-read)."""

    rater_a: str
    rater_b: str
    weights: str
    n_units: int
    kappa: float | None
    ci_low: float | None
    ci_high: float | None
    message: str | None = None


@dataclass(frozen=True)
class AlphaResult:
    """Krippendorff's ordinal alpha over all experts; ``n_units`` counts CAMs rated at least twice."""

    n_experts: int
    n_units: int
    alpha: float | None
    ci_low: float | None
    ci_high: float | None
    message: str | None = None


@dataclass(frozen=True)
class TimeSummary:
    """Median seconds an expert spent per answer within one group (class or position bin)."""

    group: str
    n: int
    median_seconds: float | None
    message: str | None = None


def _draw_videos(videos: npt.ArrayLike, n_boot: int, seed: int) -> tuple[IntArray, IntArray]:
    """Video code of every unit, and ``n_boot`` rows of video codes drawn with replacement."""
    codes, uniques = pd.factorize(np.asarray(videos))
    return codes, np.random.default_rng(seed).integers(0, len(uniques), size=(n_boot, len(uniques)))


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
    codes, draws = _draw_videos(videos, n_boot, seed)
    if draws.size == 0:
        return Interval(None, None, 0)
    n_draws, n_videos = draws.shape
    offsets = (draws + n_videos * np.arange(n_draws)[:, np.newaxis]).ravel()
    multiplicity = np.bincount(offsets, minlength=n_draws * n_videos).reshape(n_draws, n_videos)
    size = len(SCORE_RANGE)
    cells = (np.asarray(first) - SCORE_RANGE.start) * size + (np.asarray(second) - SCORE_RANGE.start)
    tables = (multiplicity[:, codes] @ np.eye(size * size)[cells]).reshape(n_draws, size, size)
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


def weighted_kappa(first: npt.ArrayLike, second: npt.ArrayLike, *, weights: Weights) -> float | None:
    """Scikit-learn's weighted kappa on the full -3..3 scale; None where it is undefined (0/0)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        value = cohen_kappa_score(first, second, labels=list(SCORE_RANGE), weights=weights)
    return finite_or_none(value)


def ordinal_alpha(reliability: npt.ArrayLike) -> float | None:
    """Krippendorff's alpha, ordinal, on the full -3..3 domain (raters x units, NaN = not rated)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        value = krippendorff.alpha(
            reliability_data=reliability, value_domain=list(SCORE_RANGE), level_of_measurement="ordinal"
        )
    return finite_or_none(value)


def _kappa_result(
    rater_a: str, rater_b: str, units: pd.DataFrame, *, weights: Weights, n_boot: int, seed: int
) -> KappaResult:
    """Kappa of the ``first`` and ``second`` columns of ``units`` with an interval over ``video_id``."""
    empty = KappaResult(rater_a, rater_b, weights, len(units), None, None, None)
    if units.empty:
        return replace(empty, message="no CAM was scored in both readings")
    first, second = units["first"].to_numpy(int), units["second"].to_numpy(int)
    kappa = weighted_kappa(first, second, weights=weights)
    if kappa is None:
        return replace(empty, message="kappa undefined: both readings gave every CAM one and the same score")
    interval = kappa_bootstrap(first, second, units["video_id"], weights=weights, n_boot=n_boot, seed=seed)
    return KappaResult(
        rater_a, rater_b, weights, len(units), kappa, interval.low, interval.high, interval.message
    )


def pairwise_kappa(
    df: pd.DataFrame, *, weights: Weights = "quadratic", n_boot: int = 1000, seed: int = 0
) -> list[KappaResult]:
    """Weighted kappa for every pair of experts over the CAMs both scored (first reads).

    Returns:
        One result per pair in name order; with fewer than two experts a single result whose message
        says that there is no agreement to compute.
    """
    data = first_reads(df)
    experts = sorted(set(data["expert_name"]))
    if len(experts) < 2:
        message = "fewer than two experts: no agreement between experts"
        return [KappaResult(", ".join(experts), "", weights, 0, None, None, None, message)]
    wide = data.pivot(index=["video_id", "cam_type"], columns="expert_name", values="score")
    results = []
    for rater_a, rater_b in itertools.combinations(experts, 2):
        both = wide[[rater_a, rater_b]].dropna()
        units = pd.DataFrame(
            {
                "video_id": both.index.get_level_values("video_id"),
                "first": both[rater_a].to_numpy(),
                "second": both[rater_b].to_numpy(),
            }
        )
        results.append(_kappa_result(rater_a, rater_b, units, weights=weights, n_boot=n_boot, seed=seed))
    return results


def krippendorff_alpha(df: pd.DataFrame, *, n_boot: int = 1000, seed: int = 0) -> AlphaResult:
    """Ordinal Krippendorff's alpha for all experts at once; it tolerates experts who skipped videos."""
    wide = first_reads(df).pivot(index="expert_name", columns=["video_id", "cam_type"], values="score")
    pairable = (wide.notna().sum(axis=0) >= 2).to_numpy()
    n_experts, n_units = len(wide), int(pairable.sum())
    if n_experts < 2 or n_units == 0:
        message = "fewer than two experts scored the same CAM: no agreement between experts"
        return AlphaResult(n_experts, n_units, None, None, None, message)
    matrix = wide.loc[:, pairable].to_numpy(float)
    alpha = ordinal_alpha(matrix)
    if alpha is None:
        message = "alpha undefined: every expert gave every CAM one and the same score"
        return AlphaResult(n_experts, n_units, None, None, None, message)
    videos = wide.columns[pairable].get_level_values("video_id")
    interval = bootstrap_ci(videos, lambda units: ordinal_alpha(matrix[:, units]), n_boot=n_boot, seed=seed)
    return AlphaResult(n_experts, n_units, alpha, interval.low, interval.high, interval.message)


def intra_rater_kappa(
    df: pd.DataFrame, *, weights: Weights = "quadratic", n_boot: int = 1000, seed: int = 0
) -> list[KappaResult]:
    """Per expert, weighted kappa between the original and the re-read answer of the same CAMs."""
    scores = df.set_index(["study_item_id", "cam_type"])["score"]
    rereads = df[df["is_reread"].astype(bool)]
    results = []
    for name in sorted(set(df["expert_name"])):
        mine = rereads[rereads["expert_name"] == name]
        originals = pd.MultiIndex.from_arrays([mine["reread_of"].astype("int64"), mine["cam_type"]])
        units = pd.DataFrame(
            {
                "video_id": mine["video_id"].to_numpy(),
                "first": scores.reindex(originals).to_numpy(),
                "second": mine["score"].to_numpy(),
            }
        )
        reread = f"{name} (re-read)"
        results.append(_kappa_result(name, reread, units, weights=weights, n_boot=n_boot, seed=seed))
    return results


def _median_time(group: str, seconds: pd.Series) -> TimeSummary:
    if seconds.empty:
        return TimeSummary(group, 0, None, f"no answers for {group}")
    return TimeSummary(group, len(seconds), float(seconds.median()))


def time_by_class(df: pd.DataFrame, *, classes: Sequence[str] = ()) -> list[TimeSummary]:
    """Median seconds per answer by true class, re-reads included (they cost the expert time too)."""
    answers = answer_rows(df)
    names = list(classes) or [c for c in CLASSES if c in set(answers["label"])]
    return [_median_time(name, answers.loc[answers["label"] == name, "seconds_spent"]) for name in names]


def time_by_position(df: pd.DataFrame, *, bin_size: int = 1) -> list[TimeSummary]:
    """Median seconds per answer by position in the expert's list, to see fatigue or learning.

    Args:
        df: The tidy study frame; re-reads are included, they sit at their own positions.
        bin_size: Positions per bin (e.g. 10 for 0-9, 10-19, ...), since single positions are sparse.
    """
    if bin_size < 1:
        raise ValueError("bin_size must be at least 1")
    answers = answer_rows(df)
    starts = answers["position"] // bin_size * bin_size
    return [
        _median_time(
            str(start) if bin_size == 1 else f"{start}-{start + bin_size - 1}",
            answers.loc[starts == start, "seconds_spent"],
        )
        for start in sorted(set(starts))
    ]
