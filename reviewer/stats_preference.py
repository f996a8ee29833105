"""The experts' preference between the two CAMs of a video, and how often experts disagree on it.

First reads only; 'equal' is an answer of its own, never silently dropped. Videos are the independent
units: the primary test (:func:`preference_by_video`) counts each video once; tests on answers (per
expert, or pooled over experts with the caveat in its scope) come second.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from scipy import stats

from reviewer.stats_data import EQUAL, answer_rows, first_reads
from reviewer.vocab import CamKind

POOLED = "all answers pooled: pairs not independent"
TEST, TRAIN = CamKind.TEST.value, CamKind.TRAIN.value
LEANING = {TEST: 1, TRAIN: -1, EQUAL: 0}


@dataclass(frozen=True)
class Binomial:
    """Exact two-sided binomial test of test against train (H0: p = 0.5), Clopper-Pearson 95% interval."""

    share_test_decided: float | None
    p_value: float | None
    ci_low: float | None
    ci_high: float | None


@dataclass(frozen=True)
class PreferenceResult:
    """Counts and shares of the answers' preferred CAM types, with a binomial test of test against train."""

    scope: str
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
class VideoPreferenceResult:
    """Videos by their experts' net preference, with a sign test of test- against train-leaning videos."""

    n_videos: int
    n_test: int
    n_train: int
    n_tied: int
    share_test_decided: float | None
    p_value: float | None
    ci_low: float | None
    ci_high: float | None
    message: str | None = None


@dataclass(frozen=True)
class DisagreementResult:
    """How often experts who read the same video preferred different CAM types.

    ``opposite``: one expert preferred the train-CAM and another the test-CAM (strict disagreement).
    ``any_difference``: not all gave the same answer, 'equal' versus a CAM type included (broad).
    """

    n_videos: int
    n_opposite: int
    share_opposite: float | None
    n_any_difference: int
    share_any_difference: float | None
    message: str | None = None


def binomial(n_test: int, n_train: int) -> Binomial:
    """The exact binomial test of ``n_test`` successes in ``n_test + n_train`` trials; None without trials."""
    decided = n_test + n_train
    if decided == 0:
        return Binomial(None, None, None, None)
    result = stats.binomtest(n_test, decided, p=0.5)
    interval = result.proportion_ci(confidence_level=0.95, method="exact")
    return Binomial(n_test / decided, float(result.pvalue), float(interval.low), float(interval.high))


def preference_test(df: pd.DataFrame, *, scope: str = POOLED) -> PreferenceResult:
    """Share of answers preferring the test-CAM (paper: 56%) and an exact two-sided binomial test.

    'Equal' answers carry no direction, so the test (H0: p = 0.5) and its Clopper-Pearson 95% interval
    use test versus train only (``share_test_decided``); ``share_test`` and ``share_equal`` are shares of
    all answers, so the reader sees both conventions. Answers are independent only within one expert
    (``scope`` names the expert); over several experts the default scope says they are not.
    """
    counts = answer_rows(first_reads(df))["preferred_type"].value_counts()
    n_test, n_train, n_equal = (int(counts.get(kind, 0)) for kind in (TEST, TRAIN, EQUAL))
    n_answers = n_test + n_train + n_equal
    if n_answers == 0:
        return PreferenceResult(scope, 0, 0, 0, 0, None, None, None, None, None, None, "no answers")
    test = binomial(n_test, n_train)
    message = None if n_test + n_train else "every answer rated the CAMs equal: no binomial test"
    return PreferenceResult(
        scope,
        n_answers,
        n_test,
        n_train,
        n_equal,
        n_test / n_answers,
        n_equal / n_answers,
        test.share_test_decided,
        test.p_value,
        test.ci_low,
        test.ci_high,
        message,
    )


def preference_by_expert(df: pd.DataFrame) -> list[PreferenceResult]:
    """One binomial test per expert, by name: one expert's answers to different videos are independent."""
    answers = first_reads(df)
    return [preference_test(group, scope=str(name)) for name, group in answers.groupby("expert_name")]


def preference_by_video(df: pd.DataFrame) -> VideoPreferenceResult:
    """The primary test: a sign test over videos, each video counted once by its experts' net preference.

    A video leans test when more of its experts preferred the test-CAM than the train-CAM, train in
    the opposite case, and is tied otherwise (all 'equal', or sides balanced). This is the majority of
    the experts who chose a side, so no expert is dropped and no video counts twice; tied videos carry
    no direction and leave the test as 'equal' answers leave the answer-level one. The sign test is the
    exact binomial test (H0: a video leans either way with probability 0.5) on independent units, and it
    asks the answer-level question, so the two read side by side. A test on mean preference codes
    (Wilcoxon) would weigh how many experts agree, which with two or three experts per video adds ties
    rather than information.
    """
    answers = answer_rows(first_reads(df))
    net = answers["preferred_type"].map(LEANING).groupby(answers["video_id"]).sum()
    n_test, n_train = int((net > 0).sum()), int((net < 0).sum())
    n_tied = len(net) - n_test - n_train
    if net.empty:
        return VideoPreferenceResult(0, 0, 0, 0, None, None, None, None, "no answers")
    test = binomial(n_test, n_train)
    message = None if n_test + n_train else "no video leans to either CAM: no sign test"
    return VideoPreferenceResult(
        len(net),
        n_test,
        n_train,
        n_tied,
        test.share_test_decided,
        test.p_value,
        test.ci_low,
        test.ci_high,
        message,
    )


def preference_disagreement(df: pd.DataFrame) -> DisagreementResult:
    """Share of videos read by two or more experts whose preferred CAM types differ (paper: 8%).

    Two conventions, both reported because they answer different questions: strict (``opposite``),
    one expert preferred the train-CAM and another the test-CAM, a real conflict of judgement; broad
    (``any_difference``), not all answers were the same, so 'equal' against a CAM type counts too.
    """
    answers = answer_rows(first_reads(df))
    counts = pd.crosstab(answers["video_id"], answers["preferred_type"])
    shared = counts[counts.sum(axis=1) >= 2].reindex(columns=[TEST, TRAIN, EQUAL], fill_value=0)
    if shared.empty:
        return DisagreementResult(0, 0, None, 0, None, "no video was read by two or more experts")
    opposite = int(((shared[TEST] > 0) & (shared[TRAIN] > 0)).sum())
    different = int(((shared > 0).sum(axis=1) > 1).sum())
    return DisagreementResult(
        len(shared), opposite, opposite / len(shared), different, different / len(shared)
    )
