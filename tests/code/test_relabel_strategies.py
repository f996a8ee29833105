"""Relabel strategies on fixed numbers whose order was worked out by hand."""

from __future__ import annotations

import math

import pytest

from reviewer.relabel_strategies import (
    Evidence,
    Strategy,
    entropy,
    guess_disagreement,
    label_margin,
    mutual_information,
    rank,
)

SURE_A = {"covid": 1.0, "healthy": 0.0}
SURE_B = {"covid": 0.0, "healthy": 1.0}
HALF = {"covid": 0.5, "healthy": 0.5}


def _order(items: list[Evidence], strategy: Strategy, seed: int = 0) -> list[int]:
    return [entry.unit_id for entry in rank(items, strategy, seed=seed)]


def test_entropy_and_mutual_information_match_hand_computed_values() -> None:
    assert entropy(HALF) == pytest.approx(math.log(2))
    assert entropy({"covid": 0.9, "healthy": 0.1}) == pytest.approx(
        -(0.9 * math.log(0.9) + 0.1 * math.log(0.1))
    )
    assert entropy(SURE_A) == 0.0
    assert mutual_information([SURE_A, SURE_B]) == pytest.approx(math.log(2))  # sure, yet differ
    assert mutual_information([HALF, HALF]) == pytest.approx(0.0)  # equally unsure: ambiguity, not ignorance


def test_label_margin_is_positive_only_when_another_class_wins() -> None:
    probs = {"covid": 0.7, "healthy": 0.2, "pneumonia": 0.1}
    assert label_margin(probs, "healthy") == pytest.approx(0.5)
    assert label_margin(probs, "covid") == pytest.approx(-0.5)
    assert label_margin(probs, "viral") == pytest.approx(0.7)  # a class the run never learned


def test_guess_disagreement_shrinks_single_dissenters_and_ignores_unsure() -> None:
    assert guess_disagreement(["pneumonia"] * 3, "covid") == pytest.approx(3 / 4)
    assert guess_disagreement(["pneumonia"], "covid") == pytest.approx(1 / 2)
    assert guess_disagreement(["covid", "pneumonia"], "covid") == pytest.approx(1 / 3)
    assert guess_disagreement(["unsure", "pneumonia"], "covid") == pytest.approx(1 / 2)


def test_lowest_confidences_come_first_and_missing_values_stay_out() -> None:
    items = [
        Evidence(1, confidence_epistemic=0.9, confidence_aleatoric=0.2),
        Evidence(2, confidence_epistemic=0.1, confidence_aleatoric=0.5),
        Evidence(3, confidence_epistemic=0.5),
        Evidence(4, confidence_aleatoric=0.05),
    ]
    assert _order(items, Strategy.EPISTEMIC) == [2, 3, 1]
    assert _order(items, Strategy.ALEATORIC) == [4, 1, 2]
    assert rank(items, Strategy.EPISTEMIC)[0].score == pytest.approx(0.9)


def test_entropy_ranks_the_most_spread_prediction_first() -> None:
    items = [
        Evidence(1, probabilities={"covid": 0.9, "healthy": 0.1}),
        Evidence(2, probabilities=HALF),
        Evidence(3, probabilities=SURE_A),
        Evidence(4, probabilities={"covid": 0.6, "healthy": 0.4}),
        Evidence(5),
    ]
    assert _order(items, Strategy.ENTROPY) == [2, 4, 1, 3]


def test_bald_ranks_confident_disagreement_above_shared_doubt() -> None:
    items = [
        Evidence(1, members=[HALF, HALF, HALF]),
        Evidence(2, members=[SURE_A, SURE_B, SURE_A]),
        Evidence(3, members=[{"covid": 0.9, "healthy": 0.1}, {"covid": 0.6, "healthy": 0.4}]),
        Evidence(4, members=[SURE_A]),  # one member cannot disagree with itself
    ]
    assert _order(items, Strategy.BALD) == [2, 3, 1]


def test_label_disagreement_puts_confident_contradictions_first() -> None:
    items = [
        Evidence(1, label="covid", probabilities={"covid": 0.8, "healthy": 0.2}),
        Evidence(2, label="covid", probabilities={"covid": 0.1, "healthy": 0.9}),
        Evidence(3, label="healthy", probabilities={"covid": 0.6, "healthy": 0.4}),
        Evidence(4, label=None, probabilities=SURE_A),
    ]
    assert _order(items, Strategy.LABEL_DISAGREEMENT) == [2, 3, 1]


def test_expert_disagreement_needs_a_label_and_a_sure_guess() -> None:
    items = [
        Evidence(1, label="covid", guesses=["pneumonia"]),
        Evidence(2, label="covid", guesses=["pneumonia", "pneumonia", "healthy"]),
        Evidence(3, label="covid", guesses=["covid", "covid"]),
        Evidence(4, label="covid", guesses=["unsure"]),
        Evidence(5, label=None, guesses=["covid"]),
        Evidence(6, label="healthy", guesses=[]),
    ]
    assert _order(items, Strategy.EXPERT_DISAGREEMENT) == [2, 1, 3]


def test_ties_go_to_the_smaller_id_whatever_the_input_order() -> None:
    items = [Evidence(unit, probabilities=HALF) for unit in (9, 3, 7)]
    assert _order(items, Strategy.ENTROPY) == [3, 7, 9]
    assert [entry.rank for entry in rank(items, Strategy.ENTROPY)] == [0, 1, 2]


def test_random_is_seeded_covers_everyone_and_ignores_input_order() -> None:
    items = [Evidence(unit) for unit in range(20)]
    first = _order(items, Strategy.RANDOM, seed=3)
    assert first == _order(list(reversed(items)), Strategy.RANDOM, seed=3)
    assert sorted(first) == list(range(20))
    assert first != _order(items, Strategy.RANDOM, seed=4)
    assert first != list(range(20))
