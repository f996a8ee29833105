"""Preference between the CAMs and disagreement between experts, by hand and against scipy."""

from __future__ import annotations

import pytest
from scipy import stats

from reviewer.stats_data import unblind
from reviewer.stats_preference import preference_disagreement, preference_test
from tests.code.stock_study import answer


def test_preference_by_hand() -> None:
    prefs = ["test"] * 5 + ["train"] * 3 + ["equal"] * 2
    frame = unblind(
        [answer(i, 100 + i, prefer=p, left="test" if i % 2 else "train") for i, p in enumerate(prefs)]
    )
    result = preference_test(frame)
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
    assert (result.n_videos, result.n_disagree, result.share, result.message) == (3, 1, 1 / 3, None)


def test_preference_disagreement_with_one_expert() -> None:
    result = preference_disagreement(unblind([answer(1, 10), answer(2, 11)]))
    assert (result.n_videos, result.share, result.message) == (
        0,
        None,
        "no video was read by two or more experts",
    )
