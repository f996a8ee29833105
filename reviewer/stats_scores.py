"""Scores of train- versus test-CAMs and their Wilcoxon signed-rank test (preference: stats_preference).

All functions read the tidy frame of :mod:`reviewer.stats_data` and use first reads only, so a re-read
item never counts twice. Differences are always test minus train, so positive effects favour the
test-CAM (the model that never saw the video).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from reviewer.stats_data import CAM_TYPES, CLASSES, first_reads
from reviewer.vocab import CamKind, LusClass

ALL = "all"
PER_VIDEO = "per video (mean over experts)"
POOLED = "all (expert, video) pairs pooled: pairs not independent"
ALTERNATIVE = "two-sided"
ZERO_METHOD = "wilcox"
EXACT_MAX_PAIRS = 13
Grouping = Literal["all", "label", "expert"]


@dataclass(frozen=True)
class ScoreSummary:
    """Distribution of one CAM type's scores within one group (all, a class or an expert)."""

    group: str
    cam_type: str
    n: int
    mean: float | None
    median: float | None
    sd: float | None
    message: str | None = None


@dataclass(frozen=True)
class ClassRow:
    """One row of the paper-like per-class table of mean scores."""

    label: str
    name: str
    n_videos: int
    n_answers: int
    train_mean: float | None
    train_sd: float | None
    test_mean: float | None
    test_sd: float | None
    difference: float | None
    message: str | None = None


@dataclass(frozen=True)
class WilcoxonResult:
    """Wilcoxon signed-rank test of test-minus-train score differences.

    ``n_nonzero`` pairs enter the test; ``r_plus`` is the sum of the ranks of positive differences
    (favouring the test-CAM) and ``min_rank_sum`` the two-sided statistic T = min(R+, R-).
    """

    scope: str
    n_pairs: int
    n_nonzero: int
    r_plus: float | None
    min_rank_sum: float | None
    p_value: float | None
    rank_biserial: float | None
    method: str | None
    alternative: str = ALTERNATIVE
    zero_method: str = ZERO_METHOD
    message: str | None = None


def _describe(group: str, cam_type: str, scores: pd.Series) -> ScoreSummary:
    n = len(scores)
    if n == 0:
        return ScoreSummary(group, cam_type, 0, None, None, None, f"no {cam_type}-CAM scores for {group}")
    if n == 1:
        value = float(scores.iloc[0])
        return ScoreSummary(group, cam_type, 1, value, value, None, "one score only: no standard deviation")
    return ScoreSummary(
        group, cam_type, n, float(scores.mean()), float(scores.median()), float(scores.std(ddof=1))
    )


def summarize_scores(
    df: pd.DataFrame, *, by: Grouping = "all", groups: Sequence[str] = ()
) -> list[ScoreSummary]:
    """Mean, median and sample sd of train- and test-CAM scores, overall, per class or per expert.

    Args:
        df: The tidy study frame.
        by: ``"all"``, ``"label"`` (true class) or ``"expert"`` (expert name).
        groups: Groups to list even when absent (e.g. the run's classes), so an empty class shows up
            with a message instead of silently vanishing. Default: the groups present.

    Returns:
        Train then test summary for each group, in class-vocabulary or name order.
    """
    data = first_reads(df)
    if by == "all":
        keys = pd.Series(ALL, index=data.index)
    else:
        keys = data["label" if by == "label" else "expert_name"]
    present = set(keys)
    default = [c for c in CLASSES if c in present] if by == "label" else sorted(present)
    names = [ALL] if by == "all" else list(groups) or default
    return [
        _describe(name, kind, data.loc[(keys == name) & (data["cam_type"] == kind), "score"])
        for name in names
        for kind in CAM_TYPES
    ]


def class_table(df: pd.DataFrame, *, classes: Sequence[str] = ()) -> list[ClassRow]:
    """The paper's per-class table (test-CAM: COVID-19 -0.25, pneumonia 2.05, healthy 0) for this study."""
    data = first_reads(df)
    summaries = summarize_scores(df, by="label", groups=classes)
    rows = []
    for train, test in zip(summaries[::2], summaries[1::2], strict=True):
        of_class = data[data["label"] == train.group]
        rows.append(
            ClassRow(
                label=train.group,
                name=LusClass(train.group).label,
                n_videos=of_class["video_id"].nunique(),
                n_answers=of_class["study_item_id"].nunique(),
                train_mean=train.mean,
                train_sd=train.sd,
                test_mean=test.mean,
                test_sd=test.sd,
                difference=None if train.mean is None or test.mean is None else test.mean - train.mean,
                message=None if len(of_class) else f"no videos of class {train.group}",
            )
        )
    return rows


def score_pairs(df: pd.DataFrame) -> pd.DataFrame:
    """One row per study item with its ``train`` and ``test`` scores; items lacking one are left out."""
    train = df[df["cam_type"] == CamKind.TRAIN.value].set_index("study_item_id")
    test = df[df["cam_type"] == CamKind.TEST.value].set_index("study_item_id")
    pairs = train[["video_id", "label", "expert_id", "expert_name"]].assign(
        train=train["score"], test=test["score"]
    )
    return pairs.dropna(subset=["train", "test"]).reset_index()


def signed_rank_sums(differences: npt.ArrayLike) -> tuple[float, float]:
    """Sums of the positive and negative signed ranks of the non-zero differences (average ties)."""
    values = np.asarray(differences, dtype=float)
    nonzero = values[values != 0]
    ranks = stats.rankdata(np.abs(nonzero))
    return float(ranks[nonzero > 0].sum()), float(ranks[nonzero < 0].sum())


def rank_biserial(differences: npt.ArrayLike) -> float | None:
    """Matched-pairs rank-biserial correlation (R+ - R-) / (R+ + R-), in [-1, 1].

    It is the effect size that belongs to the signed-rank test: +1 when every non-zero difference
    favours the test-CAM, -1 when every one favours the train-CAM. None without non-zero differences.
    """
    plus, minus = signed_rank_sums(differences)
    return (plus - minus) / (plus + minus) if plus + minus else None


def wilcoxon_test(differences: npt.ArrayLike, *, scope: str = POOLED) -> WilcoxonResult:
    """Two-sided Wilcoxon signed-rank test of paired differences with scipy.

    Zeros are dropped (``zero_method='wilcox'``, Wilcoxon's own rule and scipy's default): a pair the
    expert scored equally says nothing about direction, and the count of dropped pairs is visible as
    ``n_pairs - n_nonzero``. Integer scores always tie, so with up to 13 non-zero pairs the p-value comes
    from all 2**n sign flips (exact under ties); above that from the tie-corrected normal approximation.
    """
    values = np.asarray(differences, dtype=float)
    nonzero = values[values != 0]
    if nonzero.size == 0:
        reason = "no paired scores" if values.size == 0 else "all differences are zero"
        undefined = f"{reason}: the Wilcoxon test is undefined"
        return WilcoxonResult(scope, values.size, 0, None, None, None, None, None, message=undefined)
    small = nonzero.size <= EXACT_MAX_PAIRS
    method = "exact (all sign flips)" if small else "normal approximation (tie-corrected)"
    message: str | None = None
    if nonzero.size == 1:  # scipy needs two values; both sign flips are equally extreme: T = 0, p = 1
        statistic, p_value, message = 0.0, 1.0, "one non-zero pair only: the test cannot detect anything"
    else:
        result = stats.wilcoxon(
            nonzero, zero_method=ZERO_METHOD, method=stats.PermutationMethod() if small else "asymptotic"
        )
        statistic, p_value = float(result.statistic), float(result.pvalue)
    return WilcoxonResult(
        scope=scope,
        n_pairs=values.size,
        n_nonzero=nonzero.size,
        r_plus=signed_rank_sums(nonzero)[0],
        min_rank_sum=statistic,
        p_value=p_value,
        rank_biserial=rank_biserial(nonzero),
        method=method,
        message=message,
    )


def video_differences(df: pd.DataFrame) -> pd.Series:
    """Per video, the mean over its experts of test minus train score (first reads), indexed by video."""
    pairs = score_pairs(first_reads(df))
    return (pairs["test"] - pairs["train"]).groupby(pairs["video_id"]).mean()


def wilcoxon_by_video(df: pd.DataFrame) -> WilcoxonResult:
    """The primary test: one value per video, the mean over its experts of test minus train.

    Videos are the independent units: two experts judging the same pair of CAMs share the video, so
    their differences are correlated and testing every (expert, video) pair as independent would
    overstate the evidence (pseudo-replication). Averaging within a video keeps every expert's
    judgement and counts the video once; ``n_pairs`` is then the number of videos.
    """
    return wilcoxon_test(video_differences(df), scope=PER_VIDEO)


def wilcoxon_pooled(df: pd.DataFrame) -> WilcoxonResult:
    """Every (video, expert) pair of first reads as if independent: secondary, labelled as such.

    Pairs of one video by different experts are not independent, so its p-value is too small; it is
    kept only for comparison with analyses that pooled answers.
    """
    pairs = score_pairs(first_reads(df))
    return wilcoxon_test(pairs["test"] - pairs["train"], scope=POOLED)


def wilcoxon_by_expert(df: pd.DataFrame) -> list[WilcoxonResult]:
    """One test per expert, by expert name, each pairing that expert's train and test score per video."""
    pairs = score_pairs(first_reads(df))
    return [
        wilcoxon_test(group["test"] - group["train"], scope=str(name))
        for name, group in pairs.groupby("expert_name", sort=True)
    ]
