"""Agreement, bootstrap intervals, intra-rater reliability, by hand and against
scikit-learn and krippendorff on the same numbers."""

from __future__ import annotations

import krippendorff
import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score

from reviewer.stats_agreement import (
    POOLED,
    Weights,
    by_cam_type,
    intra_rater_kappa,
    krippendorff_alpha,
    ordinal_alpha,
    pairwise_kappa,
    weighted_kappa,
)
from reviewer.stats_bootstrap import (
    alpha_bootstrap,
    bootstrap_ci,
    kappa_bootstrap,
    ordinal_alpha_of,
    unit_coincidences,
)
from reviewer.stats_data import AnswerRecord, unblind
from tests.code.stock_study import answer

LABELS = list(range(-3, 4))


def two_experts() -> pd.DataFrame:
    """Units (video, CAM) scored (E1, E2): (0, 0), (1, 1), (0, 1), (1, 1)."""
    return unblind(
        [
            answer(1, 10, 1, train=0, test=1),
            answer(2, 11, 1, train=0, test=1),
            answer(3, 10, 2, train=0, test=1, left="test"),
            answer(4, 11, 2, train=1, test=1),
        ]
    )


def random_study(n_videos: int = 15) -> tuple[pd.DataFrame, dict[str, npt.NDArray[np.int64]]]:
    """E1 and E2 read every video, E3 the first five; returns the frame and each expert's scores."""
    rng = np.random.default_rng(7)
    truth = rng.integers(-3, 4, size=(n_videos, 2))
    scores = {
        name: np.clip(truth + rng.integers(-1, 2, size=truth.shape), -3, 3) for name in ("E1", "E2", "E3")
    }
    records: list[AnswerRecord] = []
    for expert, name in enumerate(scores, start=1):
        for video in range(n_videos if expert < 3 else 5):
            train, test = scores[name][video]
            records.append(answer(len(records), video, expert, train=int(train), test=int(test)))
    return unblind(records), scores


def test_weighted_kappa_by_hand() -> None:
    # Perfect disagreement at the scale ends: observed 1, expected 1/2 -> 1 - 1 / (1/2).
    assert weighted_kappa([-3, 3], [3, -3], weights="linear") == pytest.approx(-1.0)
    assert weighted_kappa([-3, 3], [3, -3], weights="quadratic") == pytest.approx(-1.0)
    # Only one-step disagreements: observed 1/4, expected 1/2 (in units of the weight) -> 0.5.
    for weights in ("linear", "quadratic"):
        assert weighted_kappa([0, 1, 0, 1], [0, 1, 1, 1], weights=weights) == pytest.approx(0.5)
    assert weighted_kappa([2, 2], [2, 2], weights="linear") is None


def test_ordinal_alpha_by_hand() -> None:
    # n_0 = 3, n_1 = 5, delta^2(0, 1) = (8 - 4)^2 = 16; D_o = 2 * 16 / 8, D_e = 2 * 3 * 5 * 16 / 56.
    assert ordinal_alpha([[0, 1, 0, 1], [0, 1, 1, 1]]) == pytest.approx(8 / 15)
    assert ordinal_alpha([[1, 1], [1, 1]]) is None


def test_pairwise_kappa_and_alpha_on_the_hand_fixture() -> None:
    (quadratic,) = pairwise_kappa(two_experts(), n_boot=0)
    assert (quadratic.rater_a, quadratic.rater_b, quadratic.n_units, quadratic.kappa) == (
        "E1",
        "E2",
        4,
        pytest.approx(0.5),
    )
    assert (quadratic.ci_low, quadratic.ci_high, quadratic.message) == (None, None, None)
    alpha = krippendorff_alpha(two_experts(), n_boot=0)
    assert (alpha.n_experts, alpha.n_units, alpha.alpha) == (2, 4, pytest.approx(8 / 15))


@pytest.mark.parametrize("weights", ["linear", "quadratic"])
def test_pairwise_kappa_matches_sklearn(weights: Weights) -> None:
    frame, scores = random_study()
    results = pairwise_kappa(frame, weights=weights, n_boot=50)
    assert [(r.rater_a, r.rater_b) for r in results] == [("E1", "E2"), ("E1", "E3"), ("E2", "E3")]
    for result in results:
        a, b = scores[result.rater_a], scores[result.rater_b]
        shared = 5 if "E3" in (result.rater_a, result.rater_b) else 15
        direct = cohen_kappa_score(a[:shared].ravel(), b[:shared].ravel(), labels=LABELS, weights=weights)
        assert result.n_units == 2 * shared and result.kappa == pytest.approx(direct)
        assert result.ci_low is not None and result.ci_high is not None
        assert result.ci_low <= result.kappa <= result.ci_high


def test_alpha_matches_krippendorff_with_missing_ratings() -> None:
    frame, scores = random_study()
    matrix = np.array([scores["E1"].ravel(), scores["E2"].ravel(), scores["E3"].ravel()], dtype=float)
    matrix[2, 10:] = np.nan
    direct = krippendorff.alpha(reliability_data=matrix, value_domain=LABELS, level_of_measurement="ordinal")
    result = krippendorff_alpha(frame, n_boot=100, seed=1)
    assert (result.n_experts, result.n_units, result.alpha) == (3, 30, pytest.approx(direct))
    assert result.ci_low is not None and result.ci_high is not None
    assert result.ci_low <= result.alpha <= result.ci_high
    assert krippendorff_alpha(frame, n_boot=100, seed=1) == result


def test_agreement_with_one_expert_only() -> None:
    alone = unblind([answer(1, 10, train=1, test=2), answer(2, 11, train=0, test=3)])
    (kappa,) = pairwise_kappa(alone, n_boot=10)
    assert (kappa.kappa, kappa.message) == (None, "fewer than two experts: no agreement between experts")
    alpha = krippendorff_alpha(alone, n_boot=10)
    assert (alpha.n_experts, alpha.alpha) == (1, None)
    assert alpha.message == "fewer than two experts scored the same CAM: no agreement between experts"


def test_agreement_without_shared_videos_or_spread() -> None:
    apart = unblind([answer(1, 10, 1), answer(2, 11, 2)])
    (kappa,) = pairwise_kappa(apart, n_boot=10)
    assert (kappa.n_units, kappa.message) == (0, "no CAM was scored in both readings")
    assert krippendorff_alpha(apart).alpha is None
    same = unblind([answer(1, 10, 1, train=2, test=2), answer(2, 10, 2, train=2, test=2)])
    assert pairwise_kappa(same, n_boot=10)[0].message == (
        "kappa undefined: both readings gave every CAM one and the same score"
    )
    assert (
        krippendorff_alpha(same).message
        == "alpha undefined: every expert gave every CAM one and the same score"
    )


def test_bootstrap_resamples_whole_videos_reproducibly() -> None:
    videos = np.array([1, 1, 2, 2, 3])
    values = np.array([0.0, 0.0, 1.0, 1.0, 5.0])

    def mean_of_whole_videos(units: npt.NDArray[np.intp]) -> float:
        counts = np.bincount(units, minlength=5)
        assert counts[0] == counts[1] and counts[2] == counts[3]
        return float(values[units].mean())

    interval = bootstrap_ci(videos, mean_of_whole_videos, n_boot=200, seed=4)
    assert interval == bootstrap_ci(videos, mean_of_whole_videos, n_boot=200, seed=4)
    assert interval.n_valid == 200 and interval.message is None
    assert interval.low is not None and interval.high is not None
    assert 0.0 <= interval.low < interval.high <= 5.0
    assert bootstrap_ci([7, 7], mean_of_whole_videos, n_boot=20) == bootstrap_ci(
        [7, 7], lambda _: 0.0, n_boot=20
    )


@pytest.mark.parametrize("weights", ["linear", "quadratic"])
def test_vectorised_kappa_bootstrap_equals_sklearn_per_resample(weights: Weights) -> None:
    rng = np.random.default_rng(11)
    first, second = rng.integers(-3, 4, size=40), rng.integers(-3, 4, size=40)
    first[:4] = second[:4] = 1  # video 0 alone would give an undefined kappa
    videos = np.repeat(np.arange(20), 2)
    fast = kappa_bootstrap(first, second, videos, weights=weights, n_boot=300, seed=5)
    slow = bootstrap_ci(
        videos,
        lambda units: weighted_kappa(first[units], second[units], weights=weights),
        n_boot=300,
        seed=5,
    )
    assert (fast.low, fast.high) == (pytest.approx(slow.low), pytest.approx(slow.high))
    assert fast.n_valid == slow.n_valid == 300
    single = kappa_bootstrap([1, 1], [1, 1], [0, 0], weights=weights, n_boot=10, seed=0)
    assert (single.low, single.n_valid) == (None, 0)


def test_bootstrap_reports_undefined_resamples() -> None:
    interval = bootstrap_ci([1, 2, 3], lambda units: None if 0 in units else 1.0, n_boot=100, seed=0)
    assert interval.message is not None and interval.message.endswith(
        "resamples undefined; interval from the rest"
    )
    assert (interval.low, interval.high) == (1.0, 1.0)
    never = bootstrap_ci([1, 2], lambda units: None, n_boot=10)
    assert (never.low, never.n_valid) == (None, 0) and never.message is not None
    assert bootstrap_ci([1, 2], lambda units: 1.0, n_boot=0).low is None


def test_intra_rater_kappa_pairs_rereads_with_originals() -> None:
    frame = unblind(
        [
            answer(1, 10, 1, train=0, test=2),
            answer(2, 11, 1, train=-1, test=3),
            answer(3, 12, 1, train=1, test=1),
            answer(4, 10, 2, train=0, test=1),
            answer(5, 10, 1, train=0, test=1, reread_of=1, left="test"),
            answer(6, 11, 1, train=-1, test=3, reread_of=2),
        ]
    )
    e1, e2 = intra_rater_kappa(frame, weights="linear", n_boot=0)
    direct = cohen_kappa_score([0, 2, -1, 3], [0, 1, -1, 3], labels=LABELS, weights="linear")
    assert (e1.rater_a, e1.rater_b, e1.n_units, e1.kappa) == ("E1", "E1 (re-read)", 4, pytest.approx(direct))
    assert (e2.rater_a, e2.n_units, e2.kappa, e2.message) == (
        "E2",
        0,
        None,
        "no CAM was scored in both readings",
    )


def test_vectorised_alpha_equals_krippendorff_on_each_table_and_per_resample() -> None:
    rng = np.random.default_rng(8)
    reliability = rng.integers(-3, 4, size=(3, 40)).astype(float)
    reliability[rng.random(reliability.shape) < 0.25] = np.nan  # raters skip units; some become unpairable
    one_table = unit_coincidences(reliability).sum(axis=0)[np.newaxis]
    direct = krippendorff.alpha(
        reliability_data=reliability, value_domain=list(range(-3, 4)), level_of_measurement="ordinal"
    )
    assert ordinal_alpha_of(one_table)[0] == pytest.approx(direct)
    videos = np.arange(40) // 2  # two CAMs per video
    fast = alpha_bootstrap(reliability, videos, n_boot=200, seed=3)
    slow = bootstrap_ci(videos, lambda units: ordinal_alpha(reliability[:, units]), n_boot=200, seed=3)
    assert (fast.low, fast.high, fast.n_valid) == (
        pytest.approx(slow.low),
        pytest.approx(slow.high),
        slow.n_valid,
    )
    flat = alpha_bootstrap(np.ones((2, 4)), [0, 0, 1, 1], n_boot=10, seed=0)
    assert (flat.low, flat.n_valid) == (None, 0)  # one value everywhere: alpha undefined in every resample


def agree_only_that_train_is_lower() -> pd.DataFrame:
    """Two experts whose scores within each CAM type are independent (every combination once), but
    who both score every train-CAM (-3 or -1) below every test-CAM (1 or 3): the finding's probe."""
    combos = [(a, b) for a in (0, 2) for b in (0, 2)]
    records: list[AnswerRecord] = []
    for video, ((tr1, tr2), (te1, te2)) in enumerate(zip(combos, combos[1:] + combos[:1], strict=True)):
        records.append(answer(len(records), video, 1, train=tr1 - 3, test=te1 + 1))
        records.append(answer(len(records), video, 2, train=tr2 - 3, test=te2 + 1))
    return unblind(records)


def test_agreement_within_cam_types_is_not_inflated_by_train_below_test() -> None:
    frame = agree_only_that_train_is_lower()
    kappas = by_cam_type(lambda kind: pairwise_kappa(frame, cam_type=kind, n_boot=50))
    alphas = by_cam_type(lambda kind: [krippendorff_alpha(frame, cam_type=kind, n_boot=50)])
    assert [k.cam_type for k in kappas] == [a.cam_type for a in alphas] == ["train", "test", POOLED]
    train, test, pooled = kappas
    assert (train.n_units, test.n_units, pooled.n_units) == (4, 4, 8)
    assert train.kappa == pytest.approx(0.0) and test.kappa == pytest.approx(0.0)
    assert pooled.kappa is not None and pooled.kappa > 0.7  # looks like strong agreement
    # Observed equals expected disagreement, so alpha is only its small-sample term 1/n (n = 8 values).
    assert [a.alpha for a in alphas[:2]] == [pytest.approx(1 / 8)] * 2
    assert alphas[2].alpha is not None and alphas[2].alpha > 0.5
    trains = frame[frame["cam_type"] == "train"]
    direct = cohen_kappa_score(
        trains[trains["expert_name"] == "E1"]["score"],
        trains[trains["expert_name"] == "E2"]["score"],
        labels=LABELS,
        weights="quadratic",
    )
    assert train.kappa == pytest.approx(direct)


def test_by_cam_type_pools_only_when_two_types_are_shown() -> None:
    frame, _ = random_study()
    (only_test,) = by_cam_type(lambda kind: [krippendorff_alpha(frame, cam_type=kind, n_boot=0)], ["test"])
    assert (only_test.cam_type, only_test.n_units) == ("test", 15)
    pooled = krippendorff_alpha(frame, n_boot=0)
    assert (pooled.cam_type, pooled.n_units) == (POOLED, 30)


def test_intra_rater_kappa_within_each_cam_type() -> None:
    frame = unblind(
        [
            answer(1, 10, 1, train=-2, test=2),
            answer(2, 11, 1, train=-1, test=3),
            answer(3, 10, 1, train=-1, test=2, reread_of=1),
            answer(4, 11, 1, train=-2, test=3, reread_of=2),
        ]
    )
    train, test, pooled = by_cam_type(lambda kind: intra_rater_kappa(frame, cam_type=kind, n_boot=0))
    assert (train.cam_type, train.n_units, train.kappa) == ("train", 2, pytest.approx(-1.0))
    assert (test.cam_type, test.n_units, test.kappa) == ("test", 2, pytest.approx(1.0))
    assert (pooled.n_units, pooled.kappa) == (
        4,
        pytest.approx(cohen_kappa_score([-2, -1, 2, 3], [-1, -2, 2, 3], labels=LABELS, weights="quadratic")),
    )
