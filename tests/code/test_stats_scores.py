"""Scores and the Wilcoxon signed-rank test on hand-computed fixtures, cross-checked with scipy."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from reviewer.stats_data import unblind
from reviewer.stats_scores import (
    POOLED,
    class_table,
    rank_biserial,
    score_pairs,
    signed_rank_sums,
    summarize_scores,
    video_differences,
    wilcoxon_by_expert,
    wilcoxon_by_video,
    wilcoxon_pooled,
    wilcoxon_test,
)
from tests.code.stock_study import answer
from tests.code.test_stats_data import two_answers


def small_study() -> pd.DataFrame:
    """E1 reads covid videos 10, 11 and pneumonia 12; E2 reads 10 and 12; E1 re-reads 10 (ignored)."""
    return unblind(
        [
            answer(1, 10, 1, train=1, test=-1, prefer="train", left="test"),
            answer(2, 11, 1, train=2, test=0, prefer="train"),
            answer(3, 12, 1, train=0, test=3, prefer="test", label="pneumonia", left="test"),
            answer(4, 10, 2, train=1, test=2, prefer="test"),
            answer(5, 12, 2, train=0, test=3, prefer="test", label="pneumonia"),
            answer(6, 10, 1, train=-3, test=3, prefer="equal", reread_of=1),
        ]
    )


def test_overall_summary_by_hand() -> None:
    train, test = summarize_scores(small_study())
    assert (train.group, train.cam_type, train.n) == ("all", "train", 5)
    assert train.mean == pytest.approx(4 / 5) and train.median == 1.0
    assert train.sd == pytest.approx(math.sqrt(((0.2**2) * 2 + 1.2**2 + 0.8**2 * 2) / 4))
    assert (test.n, test.mean, test.median) == (5, pytest.approx(7 / 5), 2.0)


def test_per_class_and_per_expert_summaries() -> None:
    by_class = summarize_scores(small_study(), by="label", groups=["covid", "pneumonia", "healthy"])
    assert [(s.group, s.cam_type) for s in by_class][:2] == [("covid", "train"), ("covid", "test")]
    covid_test, pneumonia_test = by_class[1], by_class[3]
    assert covid_test.mean == pytest.approx(1 / 3) and pneumonia_test.mean == 3.0 and pneumonia_test.sd == 0.0
    healthy = by_class[4]
    assert (healthy.n, healthy.mean, healthy.sd, healthy.message) == (
        0,
        None,
        None,
        "no train-CAM scores for healthy",
    )
    by_expert = summarize_scores(small_study(), by="expert")
    assert [s.group for s in by_expert] == ["E1", "E1", "E2", "E2"]
    assert by_expert[3].mean == 2.5


def test_single_score_has_no_sd() -> None:
    only = summarize_scores(unblind([answer(1, 10, train=2, test=1)]))[0]
    assert (only.n, only.mean, only.sd, only.message) == (
        1,
        2.0,
        None,
        "one score only: no standard deviation",
    )


def test_class_table_is_the_paper_like_pivot() -> None:
    rows = class_table(small_study(), classes=["covid", "pneumonia", "healthy"])
    covid, pneumonia, healthy = rows
    assert (covid.name, covid.n_videos, covid.n_answers) == ("COVID-19", 2, 3)
    assert covid.train_mean == pytest.approx(4 / 3) and covid.test_mean == pytest.approx(1 / 3)
    assert covid.difference == pytest.approx(-1.0)
    assert (pneumonia.test_mean, pneumonia.train_mean, pneumonia.difference) == (3.0, 0.0, 3.0)
    assert (healthy.n_videos, healthy.test_mean, healthy.difference) == (0, None, None)
    assert healthy.message == "no videos of class healthy"


def test_signed_ranks_and_rank_biserial_by_hand() -> None:
    # Non-zero |d| = 1, 2, 3, 2 -> ranks 1, 2.5, 4, 2.5; R+ = 1 + 4 + 2.5, R- = 2.5.
    differences = [1, -2, 3, 0, 2]
    assert signed_rank_sums(differences) == (7.5, 2.5)
    assert rank_biserial(differences) == pytest.approx(0.5)
    assert rank_biserial([0, 0]) is None
    assert rank_biserial([1, 2]) == 1.0 and rank_biserial([-1]) == -1.0


def test_rank_biserial_matches_scipys_one_sided_statistic() -> None:
    differences = np.random.default_rng(3).integers(-6, 7, size=40)
    nonzero = differences[differences != 0]
    r_plus = stats.wilcoxon(nonzero, alternative="greater", method="asymptotic").statistic
    total = nonzero.size * (nonzero.size + 1) / 2
    assert rank_biserial(differences) == pytest.approx(2 * r_plus / total - 1)


def test_wilcoxon_exact_by_hand() -> None:
    # Five positive differences: P(R+ = 15) = 1/32 under H0, two-sided p = 2/32.
    result = wilcoxon_test([1, 2, 3, 4, 5, 0, 0])
    assert (result.n_pairs, result.n_nonzero, result.min_rank_sum, result.r_plus) == (7, 5, 0.0, 15.0)
    assert result.p_value == pytest.approx(0.0625)
    assert (result.rank_biserial, result.zero_method, result.message) == (1.0, "wilcox", None)
    assert (result.method, result.alternative) == ("exact (all sign flips)", "two-sided")


@pytest.mark.parametrize("size", [9, 60])
def test_wilcoxon_matches_scipy_on_the_same_numbers(size: int) -> None:
    differences = np.random.default_rng(size).integers(-3, 5, size=size)
    result = wilcoxon_test(differences)
    nonzero = differences[differences != 0]
    method = stats.PermutationMethod() if nonzero.size <= 13 else "asymptotic"
    direct = stats.wilcoxon(nonzero, method=method)
    assert result.n_nonzero == nonzero.size
    assert result.min_rank_sum == pytest.approx(direct.statistic)
    assert result.p_value == pytest.approx(direct.pvalue)
    default = stats.wilcoxon(differences, zero_method="wilcox")
    assert result.min_rank_sum == pytest.approx(default.statistic)
    greater = stats.wilcoxon(nonzero, alternative="greater", method="asymptotic")
    assert result.r_plus == pytest.approx(greater.statistic)  # R+, the one-sided statistic


@pytest.mark.parametrize(
    ("differences", "message"),
    [([0, 0, 0], "all differences are zero: the Wilcoxon test is undefined"), ([], "no paired scores")],
)
def test_wilcoxon_degenerate(differences: list[int], message: str) -> None:
    result = wilcoxon_test(differences)
    assert result.message is not None and result.message.startswith(message)
    assert (result.min_rank_sum, result.r_plus, result.p_value, result.rank_biserial) == (None,) * 4


def test_wilcoxon_pooled_and_per_expert_pair_by_video_and_expert() -> None:
    pooled = wilcoxon_pooled(small_study())
    # test - train of first reads: -2, -2, 3 (E1) and 1, 3 (E2); the re-read is left out.
    direct = stats.wilcoxon([-2, -2, 3, 1, 3], method=stats.PermutationMethod())
    assert (pooled.scope, pooled.n_pairs, pooled.p_value) == (POOLED, 5, pytest.approx(direct.pvalue))
    assert pooled.scope.endswith("pairs not independent")
    e1, e2 = wilcoxon_by_expert(small_study())
    assert (e1.scope, e1.n_pairs, e2.scope, e2.n_pairs) == ("E1", 3, "E2", 2)
    assert e2.rank_biserial == 1.0 and e1.rank_biserial == pytest.approx((3 - 3) / 6)


def test_wilcoxon_when_every_expert_scored_both_cams_equally() -> None:
    flat = unblind([answer(1, 10, train=1, test=1), answer(2, 11, train=-2, test=-2)])
    assert wilcoxon_by_video(flat).message == "all differences are zero: the Wilcoxon test is undefined"


def test_score_pairs_put_train_and_test_side_by_side() -> None:
    frame = two_answers()
    pairs = score_pairs(frame).set_index("study_item_id")
    assert pairs.loc[1, "train"] == -1 and pairs.loc[1, "test"] == 2
    assert pairs.loc[2, "train"] == 3 and pairs.loc[2, "test"] == 0
    assert score_pairs(frame[frame["cam_type"] == "train"]).empty


def test_wilcoxon_with_one_non_zero_pair_is_defined_but_powerless() -> None:
    result = wilcoxon_test([0, 2, 0])
    assert (result.n_pairs, result.n_nonzero, result.min_rank_sum, result.p_value) == (3, 1, 0.0, 1.0)
    assert result.r_plus == 1.0
    assert result.rank_biserial == 1.0
    assert result.message == "one non-zero pair only: the test cannot detect anything"
    # Cross-check: the exact two-sided p-value of two non-zero pairs of one sign is 2 * 1/4.
    assert wilcoxon_test([2, 1]).p_value == pytest.approx(0.5)


def two_experts_on_nine_videos() -> pd.DataFrame:
    """Both experts score every test-CAM above its train-CAM, by 1..3 points: 18 pairs, 9 videos."""
    return unblind(
        [
            answer(2 * video + expert, video, expert, train=-1, test=(video + expert) % 3)
            for video in range(9)
            for expert in (1, 2)
        ]
    )


def test_wilcoxon_per_video_tests_one_mean_per_video() -> None:
    frame = two_experts_on_nine_videos()
    means = video_differences(frame)
    assert list(means.index) == list(range(9)) and len(means) == 9
    assert means.iloc[0] == 2.5  # video 0: E1 scores 1 - (-1) = 2, E2 2 - (-1) = 3
    primary = wilcoxon_by_video(frame)
    exact = stats.wilcoxon(means.to_numpy(), method="exact")
    assert (primary.n_pairs, primary.n_nonzero, primary.p_value) == (9, 9, pytest.approx(exact.pvalue))
    assert primary.p_value == pytest.approx(2 / 2**9)  # all nine videos favour the test-CAM
    pooled = wilcoxon_pooled(frame)
    assert pooled.n_pairs == 18 and pooled.p_value is not None
    assert pooled.p_value < primary.p_value / 10  # pseudo-replication: 18 "independent" pairs


def test_wilcoxon_per_video_averages_the_experts_who_read_the_video() -> None:
    # Video 10: E1 +2, E2 -1 -> +0.5; video 11: E1 only, -2; video 12: E1 +3, E2 +3 -> +3.
    frame = unblind(
        [
            answer(1, 10, 1, train=0, test=2),
            answer(2, 10, 2, train=1, test=0),
            answer(3, 11, 1, train=2, test=0),
            answer(4, 12, 1, train=0, test=3),
            answer(5, 12, 2, train=-1, test=2),
            answer(6, 10, 2, train=-3, test=3, reread_of=2),
        ]
    )
    assert video_differences(frame).to_dict() == {10: 0.5, 11: -2.0, 12: 3.0}
    result = wilcoxon_by_video(frame)
    assert (result.r_plus, result.min_rank_sum) == (1 + 3, 2.0)
