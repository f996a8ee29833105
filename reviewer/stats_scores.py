"""Scores of train- versus test-CAMs, their Wilcoxon signed-rank test, and the experts' preference.

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

from reviewer.stats_data import CAM_TYPES, CLASSES, EQUAL, answer_rows, first_reads, score_pairs
from reviewer.vocab import CamKind, LusClass

ALL = "all"
POOLED = "all experts"
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
    """Wilcoxon signed-rank test of test-minus-train score differences."""

    scope: str
    n_pairs: int
    n_nonzero: int
    statistic: float | None
    p_value: float | None
    rank_biserial: float | None
    method: str | None
    zero_method: str = ZERO_METHOD
    message: str | None = None


@dataclass(frozen=True)
class PreferenceResult:
    """Counts and shares of preferred CAM types with an exact binomial test of test against train."""

    n_answers: int
    n_test: int
    n_train: int
    n_equal: int
    share_test: float | None
    share_equal: float | None
    share_test_decided: float | None
    p_value: float | None
    ci_low: float | None
    ci_high: float | None
    message: str | None = None


@dataclass(frozen=True)
class DisagreementResult:
    """How often experts who read the same video preferred different CAM types."""

    n_videos: int
    n_disagree: int
    share: float | None
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
        message = f"{reason}: the Wilcoxon test is undefined"
        return WilcoxonResult(scope, values.size, 0, None, None, None, None, message=message)
    small = nonzero.size <= EXACT_MAX_PAIRS
    method = "exact (all sign flips)" if small else "normal approximation (tie-corrected)"
    result = stats.wilcoxon(
        nonzero, zero_method=ZERO_METHOD, method=stats.PermutationMethod() if small else "asymptotic"
    )
    return WilcoxonResult(
        scope=scope,
        n_pairs=values.size,
        n_nonzero=nonzero.size,
        statistic=float(result.statistic),
        p_value=float(result.pvalue),
        rank_biserial=rank_biserial(nonzero),
        method=method,
    )


def wilcoxon_scores(df: pd.DataFrame) -> WilcoxonResult:
    """Pooled test over all (video, expert) pairs of first reads.

    Pairs of one video by different experts are not independent, so read it next to the per-expert tests.
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


def preference_test(df: pd.DataFrame) -> PreferenceResult:
    """Share of answers preferring the test-CAM (paper: 56%) and an exact two-sided binomial test.

    'Equal' answers carry no direction, so the test (H0: p = 0.5) and its Clopper-Pearson 95% interval
    use test versus train only (``share_test_decided``); ``share_test`` and ``share_equal`` are shares of
    all answers, so the reader sees both conventions.
    """
    counts = answer_rows(first_reads(df))["preferred_type"].value_counts()
    n_test, n_train, n_equal = (int(counts.get(kind, 0)) for kind in (CamKind.TEST, CamKind.TRAIN, EQUAL))
    n_answers, decided = n_test + n_train + n_equal, n_test + n_train
    if n_answers == 0:
        return PreferenceResult(0, 0, 0, 0, None, None, None, None, None, None, "no answers")
    share_test, share_equal = n_test / n_answers, n_equal / n_answers
    if decided == 0:
        message = "every answer rated the CAMs equal: no binomial test"
        return PreferenceResult(
            n_answers, 0, 0, n_equal, share_test, share_equal, None, None, None, None, message
        )
    result = stats.binomtest(n_test, decided, p=0.5)
    interval = result.proportion_ci(confidence_level=0.95, method="exact")
    return PreferenceResult(
        n_answers,
        n_test,
        n_train,
        n_equal,
        share_test,
        share_equal,
        share_test_decided=n_test / decided,
        p_value=float(result.pvalue),
        ci_low=float(interval.low),
        ci_high=float(interval.high),
    )


def preference_disagreement(df: pd.DataFrame) -> DisagreementResult:
    """Share of videos read by two or more experts whose preferred CAM types differ (paper: 8%).

    'Equal' counts as a preference of its own; a video counts as disagreement when not all its experts
    gave the same answer.
    """
    per_video = answer_rows(first_reads(df)).groupby("video_id")["preferred_type"].agg(["size", "nunique"])
    shared = per_video[per_video["size"] >= 2]
    n_disagree = int((shared["nunique"] > 1).sum())
    if shared.empty:
        return DisagreementResult(0, 0, None, "no video was read by two or more experts")
    return DisagreementResult(len(shared), n_disagree, n_disagree / len(shared))
