"""The experts' preference between the two CAMs of a video, and how often experts disagree on it.

First reads only; 'equal' is an answer of its own, never silently dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from scipy import stats

from reviewer.stats_data import EQUAL, answer_rows, first_reads
from reviewer.vocab import CamKind


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
