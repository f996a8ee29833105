"""Agreement on scores between experts and within one expert (re-reads).

A unit of agreement is one CAM of one video (video, CAM type), rated on the ordinal scale -3..3.
The main numbers are computed within one CAM type (:func:`by_cam_type`): pooled over both types, two
experts who agree only that the train-CAM scores lower than the test-CAM look in strong agreement
although they rank the videos' CAMs of either type quite differently, so the pooled value is a
secondary row labelled :data:`POOLED`.
Confidence intervals resample whole videos (cluster bootstrap): the two CAMs of a video, and the
answers of several experts to it, are not independent, so resampling single units would be too narrow.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

import krippendorff
import numpy.typing as npt
import pandas as pd
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import cohen_kappa_score

from reviewer.stats_bootstrap import Weights, alpha_bootstrap, kappa_bootstrap
from reviewer.stats_data import CAM_TYPES, SCORE_RANGE, finite_or_none, first_reads

R = TypeVar("R")
POOLED = "both"  # cam_type of a result over the train- and test-CAMs at once (secondary)


@dataclass(frozen=True)
class KappaResult:
    """Weighted Cohen's kappa between two readings (two experts, or one expert and their re-read)."""

    cam_type: str
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

    cam_type: str
    n_experts: int
    n_units: int
    alpha: float | None
    ci_low: float | None
    ci_high: float | None
    message: str | None = None


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


def of_cam_type(df: pd.DataFrame, cam_type: str) -> pd.DataFrame:
    """The rows of one CAM type, or every row for :data:`POOLED`."""
    return df if cam_type == POOLED else df[df["cam_type"] == cam_type]


def by_cam_type(compute: Callable[[str], list[R]], cam_types: Sequence[str] = CAM_TYPES) -> list[R]:
    """Results within each CAM type in turn, then pooled over them (secondary) when there are two or more.

    Args:
        compute: Maps a CAM type (or :data:`POOLED`) to its results.
        cam_types: The CAM types shown; with one only, pooling would just repeat it.
    """
    scopes = [*cam_types, POOLED] if len(cam_types) > 1 else list(cam_types)
    return [result for scope in scopes for result in compute(scope)]


def _kappa_result(
    cam_type: str,
    rater_a: str,
    rater_b: str,
    units: pd.DataFrame,
    *,
    weights: Weights,
    n_boot: int,
    seed: int,
) -> KappaResult:
    """Kappa of the ``first`` and ``second`` columns of ``units`` with an interval over ``video_id``."""
    empty = KappaResult(cam_type, rater_a, rater_b, weights, len(units), None, None, None)
    if units.empty:
        return replace(empty, message="no CAM was scored in both readings")
    first, second = units["first"].to_numpy(int), units["second"].to_numpy(int)
    kappa = weighted_kappa(first, second, weights=weights)
    if kappa is None:
        return replace(empty, message="kappa undefined: both readings gave every CAM one and the same score")
    interval = kappa_bootstrap(first, second, units["video_id"], weights=weights, n_boot=n_boot, seed=seed)
    return replace(empty, kappa=kappa, ci_low=interval.low, ci_high=interval.high, message=interval.message)


def pairwise_kappa(
    df: pd.DataFrame,
    *,
    cam_type: str = POOLED,
    weights: Weights = "quadratic",
    n_boot: int = 1000,
    seed: int = 0,
) -> list[KappaResult]:
    """Weighted kappa for every pair of experts over the CAMs of ``cam_type`` both scored (first reads).

    Returns:
        One result per pair in name order; with fewer than two experts a single result whose message
        says that there is no agreement to compute.
    """
    data = of_cam_type(first_reads(df), cam_type)
    experts = sorted(set(data["expert_name"]))
    if len(experts) < 2:
        message = "fewer than two experts: no agreement between experts"
        return [KappaResult(cam_type, ", ".join(experts), "", weights, 0, None, None, None, message)]
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
        results.append(
            _kappa_result(cam_type, rater_a, rater_b, units, weights=weights, n_boot=n_boot, seed=seed)
        )
    return results


def krippendorff_alpha(
    df: pd.DataFrame, *, cam_type: str = POOLED, n_boot: int = 1000, seed: int = 0
) -> AlphaResult:
    """Ordinal Krippendorff's alpha for all experts at once; it tolerates experts who skipped videos."""
    data = of_cam_type(first_reads(df), cam_type)
    wide = data.pivot(index="expert_name", columns=["video_id", "cam_type"], values="score")
    pairable = (wide.notna().sum(axis=0) >= 2).to_numpy()
    n_experts, n_units = len(wide), int(pairable.sum())
    if n_experts < 2 or n_units == 0:
        message = "fewer than two experts scored the same CAM: no agreement between experts"
        return AlphaResult(cam_type, n_experts, n_units, None, None, None, message)
    matrix = wide.loc[:, pairable].to_numpy(float)
    alpha = ordinal_alpha(matrix)
    if alpha is None:
        message = "alpha undefined: every expert gave every CAM one and the same score"
        return AlphaResult(cam_type, n_experts, n_units, None, None, None, message)
    videos = wide.columns[pairable].get_level_values("video_id")
    interval = alpha_bootstrap(matrix, videos, n_boot=n_boot, seed=seed)
    return AlphaResult(cam_type, n_experts, n_units, alpha, interval.low, interval.high, interval.message)


def intra_rater_kappa(
    df: pd.DataFrame,
    *,
    cam_type: str = POOLED,
    weights: Weights = "quadratic",
    n_boot: int = 1000,
    seed: int = 0,
) -> list[KappaResult]:
    """Per expert, weighted kappa between the original and the re-read answer of the same CAMs."""
    data = of_cam_type(df, cam_type)
    scores = data.set_index(["study_item_id", "cam_type"])["score"]
    rereads = data[data["is_reread"].astype(bool)]
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
        results.append(
            _kappa_result(cam_type, name, reread, units, weights=weights, n_boot=n_boot, seed=seed)
        )
    return results
