"""Preference between the CAMs and disagreement between experts, by hand and against scipy."""

from __future__ import annotations

import pytest
from scipy import stats

from reviewer.stats_data import unblind
from reviewer.stats_preference import (
    POOLED,
    preference_by_expert,
    preference_by_video,
    preference_disagreement,
    preference_test,
)
from tests.code.stock_study import answer


def test_preference_by_hand() -> None:
    prefs = ["test"] * 5 + ["train"] * 3 + ["equal"] * 2
    frame = unblind(
        [answer(i, 100 + i, prefer=p, left="test" if i % 2 else "train") for i, p in enumerate(prefs)]
    )
    result = preference_test(frame)
    assert result.scope == POOLED and result.scope.endswith("pairs not independent")
    assert (result.n_answers, result.n_test, result.n_train, result.n_equal) == (10, 5, 3, 2)
    assert (result.share_test, result.share_equal, result.share_test_decided) == (0.5, 0.2, 5 / 8)
    # Two-sided exact binomial, n = 8: 2 * (1 + 8 + 28 + 56) / 256.
    assert result.p_value == pytest.approx(186 / 256)
    interval = stats.binomtest(5, 8).proportion_ci(method="exact")
    assert (result.ci_low, result.ci_high) == (pytest.approx(interval.low), pytest.approx(interval.high))


def test_preference_degenerate() -> None:
    nothing = preference_test(unblind([]))
    assert (nothing.n_answers, nothing.share_test, nothing.message) == (0, None, "no answers")
    equal = preference_test(unblind([answer(1, 10), answer(2, 11)]))
    assert (equal.share_equal, equal.share_test, equal.p_value) == (1.0, 0.0, None)
    assert equal.message == "every answer rated the CAMs equal: no binomial test"


def test_preference_disagreement_between_experts() -> None:
    frame = unblind(
        [
            answer(1, 10, 1, prefer="test"),
            answer(2, 10, 2, prefer="test"),
            answer(3, 11, 1, prefer="test"),
            answer(4, 11, 2, prefer="equal"),
            answer(5, 12, 1, prefer="train"),
            answer(6, 12, 2, prefer="train", left="test"),
            answer(7, 13, 1, prefer="test"),
            answer(8, 11, 2, prefer="test", reread_of=4),
        ]
    )
    result = preference_disagreement(frame)
    # Video 10 agrees, 11 differs only by 'equal' (broad), 12 agrees; 13 had one reader.
    assert (result.n_videos, result.n_opposite, result.share_opposite, result.message) == (3, 0, 0.0, None)
    assert (result.n_any_difference, result.share_any_difference) == (1, 1 / 3)


def test_strict_disagreement_needs_one_train_and_one_test_answer() -> None:
    frame = unblind(
        [
            answer(1, 10, 1, prefer="test"),
            answer(2, 10, 2, prefer="train"),
            answer(3, 10, 3, prefer="equal"),
            answer(4, 11, 1, prefer="equal"),
            answer(5, 11, 2, prefer="test"),
        ]
    )
    result = preference_disagreement(frame)
    assert (result.n_videos, result.n_opposite, result.n_any_difference) == (2, 1, 2)
    assert (result.share_opposite, result.share_any_difference) == (0.5, 1.0)


def test_preference_disagreement_with_one_expert() -> None:
    result = preference_disagreement(unblind([answer(1, 10), answer(2, 11)]))
    assert (result.n_videos, result.share_opposite, result.share_any_difference, result.message) == (
        0,
        None,
        None,
        "no video was read by two or more experts",
    )


def test_preference_per_video_counts_each_video_once() -> None:
    # Two experts prefer the test-CAM of nine videos: 18 answers, 9 videos. Pooled, the binomial
    # test treats 18 answers as independent (p = 2 / 2**18); per video it is 2 / 2**9.
    frame = unblind(
        [
            answer(2 * v + e, v, e, prefer="test", left="test" if v % 2 else "train")
            for v in range(9)
            for e in (1, 2)
        ]
    )
    primary = preference_by_video(frame)
    assert (primary.n_videos, primary.n_test, primary.n_train, primary.n_tied) == (9, 9, 0, 0)
    assert primary.p_value == pytest.approx(stats.binomtest(9, 9).pvalue) == pytest.approx(2 / 2**9)
    assert preference_test(frame).p_value == pytest.approx(2 / 2**18)


def test_preference_per_video_follows_the_net_preference_of_its_experts() -> None:
    frame = unblind(
        [
            answer(1, 10, 1, prefer="test"),
            answer(2, 10, 2, prefer="equal"),  # net +1: leans test
            answer(3, 11, 1, prefer="test"),
            answer(4, 11, 2, prefer="train"),  # net 0: tied
            answer(5, 12, 1, prefer="train"),
            answer(6, 12, 2, prefer="train"),
            answer(7, 12, 3, prefer="test"),  # net -1: leans train
            answer(8, 13, 1, prefer="equal"),  # only 'equal': tied
            answer(9, 12, 3, prefer="train", reread_of=7),  # re-reads never count
        ]
    )
    result = preference_by_video(frame)
    assert (result.n_videos, result.n_test, result.n_train, result.n_tied) == (4, 1, 1, 2)
    assert (result.share_test_decided, result.p_value, result.message) == (0.5, 1.0, None)
    tied = preference_by_video(unblind([answer(1, 10, 1), answer(2, 10, 2)]))
    assert (tied.n_tied, tied.p_value, tied.message) == (
        1,
        None,
        "no video leans to either CAM: no sign test",
    )
    assert preference_by_video(unblind([])).message == "no answers"


def test_preference_per_expert_tests_each_experts_answers() -> None:
    frame = unblind(
        [answer(1, 10, 1, prefer="test"), answer(2, 11, 1, prefer="test"), answer(3, 10, 2, prefer="train")]
    )
    e1, e2 = preference_by_expert(frame)
    assert (e1.scope, e1.n_answers, e1.n_test, e1.p_value) == ("E1", 2, 2, pytest.approx(0.5))
    assert (e2.scope, e2.n_answers, e2.n_train, e2.share_test) == ("E2", 1, 1, 0.0)
