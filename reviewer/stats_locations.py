"""Where the CAMs peak: maximum mean discrepancy (MMD) between the peak locations of two classes.

The kernel is Gaussian with sigma = the median pairwise distance of the pooled points (the usual
median heuristic). Frames of one video share their peak region, so the permutation null shuffles the
class labels of whole videos rather than of single frames; with one peak per video this is the
ordinary two-sample permutation test. A frame whose map has no positive evidence has no peak (stored
as ``[]``): it is left out of the locations and counted per class (``n_no_peak_a`` / ``_b``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import TypedDict

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.spatial.distance import pdist, squareform

from reviewer.stats_data import CLASSES, FrameError

PEAK_COLUMNS = ("video_id", "label", "cam_type", "frame", "x", "y")
TOLERANCE = 1e-12
FloatArray = npt.NDArray[np.float64]


class PeakRecord(TypedDict):
    """The peaks of one CAM asset: one [x, y] pixel position per frame, [] for a frame without a peak."""

    video_id: int
    label: str
    cam_type: str
    peaks: list[list[int]]


@dataclass(frozen=True)
class MmdResult:
    """Biased (V-statistic) MMD² between two classes' peaks, its permutation null and p-value.

    ``n_points_*`` and ``n_videos_*`` count located peaks; ``n_no_peak_*`` the frames left out because
    their map has no peak.
    """

    class_a: str
    class_b: str
    n_points_a: int
    n_points_b: int
    n_videos_a: int
    n_videos_b: int
    sigma: float | None
    observed: float | None
    null: FloatArray = field(default_factory=lambda: np.empty(0))
    p_value: float | None = None
    n_no_peak_a: int = 0
    n_no_peak_b: int = 0
    message: str | None = None


def peak_frame(records: Iterable[PeakRecord]) -> pd.DataFrame:
    """One row per frame (video_id, label, cam_type, frame, x, y) from CAM asset records.

    A frame without a peak keeps its row with x and y NaN, so the statistics can say how many frames
    of each class and CAM type they leave out; :func:`located` drops those rows.

    Raises:
        FrameError: a peak is neither an [x, y] pair nor [].
    """
    rows = []
    for record in records:
        for frame, peak in enumerate(record["peaks"]):
            if len(peak) not in (0, 2):
                raise FrameError(f"video {record['video_id']}: peak {peak!r} is not an [x, y] pair")
            x, y = map(float, peak) if peak else (math.nan, math.nan)
            rows.append((record["video_id"], record["label"], record["cam_type"], frame, x, y))
    return pd.DataFrame(rows, columns=list(PEAK_COLUMNS))


def located(peaks: pd.DataFrame) -> pd.DataFrame:
    """The rows of frames that have a peak: the points every location statistic and chart uses."""
    return peaks.dropna(subset=["x", "y"])


def mmd_squared(
    kernel: FloatArray, membership: npt.NDArray[np.bool_], sizes: npt.ArrayLike | None = None
) -> FloatArray:
    """Biased MMD² for each row of ``membership`` (True = first sample) as w K wᵀ, vectorised.

    With w_i = 1/n_a for the first sample and -1/n_b for the second, w K wᵀ equals
    mean K_aa + mean K_bb - 2 mean K_ab, so every permutation costs one matrix product. With
    ``sizes``, the units are groups (videos) of that many points and ``kernel`` holds the sums of
    the point kernel over each pair of groups: the same value, at (videos/points)² of the cost.
    """
    counts = np.ones(membership.shape[1]) if sizes is None else np.asarray(sizes, dtype=float)
    n_first = (membership * counts).sum(axis=1, keepdims=True)
    weights = np.where(membership, 1.0 / n_first, -1.0 / (counts.sum() - n_first))
    products: FloatArray = ((weights @ kernel) * weights).sum(axis=1)
    return products


def gaussian_kernel(points: npt.ArrayLike) -> tuple[FloatArray, float]:
    """Gaussian kernel matrix of the points and its sigma, the median pairwise distance."""
    pooled = np.asarray(points, dtype=float)
    distances = pdist(pooled)
    sigma = float(np.median(distances)) if distances.size else 0.0
    if sigma == 0.0:
        return np.empty((0, 0)), 0.0
    kernel: FloatArray = squareform(np.exp(-(distances**2) / (2 * sigma**2))) + np.eye(len(pooled))
    return kernel, sigma


def mmd_test(
    peaks: pd.DataFrame, class_a: str, class_b: str, *, n_perm: int = 1000, seed: int = 0
) -> MmdResult:
    """Permutation test of equal peak-location distributions in two classes.

    Filter ``peaks`` to one CAM type first. The p-value is (1 + #null >= observed) / (1 + n_perm), never 0.

    Raises:
        ValueError: ``n_perm`` is below 1.
    """
    if n_perm < 1:
        raise ValueError("n_perm must be at least 1")
    both = peaks[peaks["label"].isin([class_a, class_b])]
    pair = located(both).sort_values("video_id", kind="stable")
    codes, _ = pd.factorize(pair["video_id"])  # 0, 0, 1, 1, 1, 2, ...: each video's points together
    video_in_a = (pair.groupby(codes)["label"].first() == class_a).to_numpy()
    in_a = video_in_a[codes]
    counts = (int(in_a.sum()), int((~in_a).sum()), int(video_in_a.sum()), int((~video_in_a).sum()))
    no_peak = both.loc[both["x"].isna(), "label"].value_counts()
    undefined = MmdResult(
        class_a,
        class_b,
        *counts,
        sigma=None,
        observed=None,
        n_no_peak_a=int(no_peak.get(class_a, 0)),
        n_no_peak_b=int(no_peak.get(class_b, 0)),
    )
    empty = [name for name, n in ((class_a, counts[0]), (class_b, counts[1])) if n == 0]
    if empty:
        return _noted(replace(undefined, message=f"no peak locations for class {', '.join(empty)}"))
    kernel, sigma = gaussian_kernel(pair[["x", "y"]].to_numpy(float))
    if sigma == 0.0:
        return _noted(replace(undefined, message="most peaks coincide (median distance 0): no kernel width"))
    starts = np.flatnonzero(np.diff(codes, prepend=-1))
    video_kernel = np.add.reduceat(np.add.reduceat(kernel, starts, axis=0), starts, axis=1)
    sizes = np.bincount(codes)
    observed = float(mmd_squared(video_kernel, video_in_a[np.newaxis, :], sizes)[0])
    shuffled = np.random.default_rng(seed).permuted(np.tile(video_in_a, (n_perm, 1)), axis=1)
    null = mmd_squared(video_kernel, shuffled, sizes)
    p_value = (1 + int(np.sum(null >= observed - TOLERANCE))) / (1 + n_perm)
    return _noted(replace(undefined, sigma=sigma, observed=observed, null=null, p_value=p_value))


def _noted(result: MmdResult) -> MmdResult:
    """Adds to the message how many frames without a peak were left out, so no reader misses it."""
    if not result.n_no_peak_a + result.n_no_peak_b:
        return result
    left_out = f"frames without a CAM peak left out: {result.class_a} {result.n_no_peak_a}, "
    left_out += f"{result.class_b} {result.n_no_peak_b}"
    return replace(result, message="; ".join(filter(None, [result.message, left_out])))


def pairwise_mmd(
    peaks: pd.DataFrame, *, classes: Sequence[str] = (), n_perm: int = 1000, seed: int = 0
) -> list[MmdResult]:
    """MMD test for every pair of classes (given, or present in vocabulary order)."""
    names = list(classes) or [c for c in CLASSES if c in set(peaks["label"])]
    return [mmd_test(peaks, a, b, n_perm=n_perm, seed=seed) for a, b in itertools.combinations(names, 2)]
