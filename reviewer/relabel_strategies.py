"""Relabel strategies: pure functions that say which videos (or frames) deserve a second look first.

Every strategy turns the numbers a model run stored about one unit (a video or a frame) into a
*score*; higher means "look here first". Units that lack what a strategy needs (no fold members, no
confidence, no expert guess, no label) get no score and stay out of that queue, rather than being
ranked on a made-up value. :func:`rank` orders by score, highest first, and breaks ties by the
smaller unit id, so the same numbers always give the same queue.

Natural logarithms throughout (entropy and mutual information in nats).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from reviewer.vocab import UNSURE

Probabilities = Mapping[str, float]


class Strategy(StrEnum):
    """How a relabel queue is ordered; stored in ``RelabelItem.strategy``."""

    EPISTEMIC = "epistemic"
    ALEATORIC = "aleatoric"
    ENTROPY = "entropy"
    BALD = "bald"
    LABEL_DISAGREEMENT = "label_disagreement"
    EXPERT_DISAGREEMENT = "expert_disagreement"
    RANDOM = "random"

    @property
    def label(self) -> str:
        """Name shown to annotators."""
        return STRATEGY_LABELS[self][0]

    @property
    def explanation(self) -> str:
        """One sentence on what the first items of the queue have in common."""
        return STRATEGY_LABELS[self][1]


STRATEGY_LABELS: dict[Strategy, tuple[str, str]] = {
    Strategy.EPISTEMIC: ("Lowest epistemic confidence", "The model is unsure because it lacks similar data."),
    Strategy.ALEATORIC: ("Lowest aleatoric confidence", "Small changes to the image change the prediction."),
    Strategy.ENTROPY: ("Highest predictive entropy", "The ensemble spreads its probability over classes."),
    Strategy.BALD: ("Fold models disagree (BALD)", "The fold models each say something different."),
    Strategy.LABEL_DISAGREEMENT: (
        "Model contradicts the label",
        "The ensemble confidently prefers another class than the stored label.",
    ),
    Strategy.EXPERT_DISAGREEMENT: (
        "Experts contradict the label",
        "Experts' class guesses in studies differ from the stored label.",
    ),
    Strategy.RANDOM: ("Random (baseline)", "A seeded shuffle, to measure what the other strategies add."),
}


@dataclass(frozen=True)
class Evidence:
    """What is known about one unit (video or frame) when a queue is built.

    Attributes:
        unit_id: The video id (or frame index) the score belongs to; also the tie-breaker.
        label: The current stored label, if any.
        probabilities: The ensemble's class probabilities.
        members: Each fold model's class probabilities, in fold order (empty if not stored).
        confidence_epistemic: MC-dropout confidence in [0, 1], if stored.
        confidence_aleatoric: Test-time-augmentation confidence in [0, 1], if stored.
        guesses: Experts' class guesses from studies (``unsure`` is ignored).
    """

    unit_id: int
    label: str | None = None
    probabilities: Probabilities = field(default_factory=dict)
    members: Sequence[Probabilities] = ()
    confidence_epistemic: float | None = None
    confidence_aleatoric: float | None = None
    guesses: Sequence[str] = ()


def entropy(probabilities: Probabilities) -> float:
    """Shannon entropy; 0 for a certain prediction, ln(C) for a uniform one over C classes."""
    return -sum(p * math.log(p) for p in probabilities.values() if p > 0)


def mutual_information(members: Sequence[Probabilities]) -> float:
    """BALD: entropy of the members' mean minus the members' mean entropy.

    High only when each member is sure but they are sure of different classes, which points at
    what the models never learned rather than at an ambiguous image.
    """
    classes = sorted({name for member in members for name in member})
    matrix = np.array([[member.get(name, 0.0) for name in classes] for member in members], np.float64)
    mean = dict(zip(classes, matrix.mean(axis=0), strict=True))
    return max(0.0, entropy(mean) - float(np.mean([entropy(member) for member in members])))


def label_margin(probabilities: Probabilities, label: str) -> float:
    """Best other class' probability minus the label's: > 0 when the ensemble prefers another class.

    A label missing from the run's classes has probability 0, so the margin is the top probability.
    """
    others = [p for name, p in probabilities.items() if name != label]
    return (max(others) if others else 0.0) - probabilities.get(label, 0.0)


def guess_disagreement(guesses: Sequence[str], label: str) -> float:
    """Share of expert guesses that differ from the label, shrunk by one agreeing pseudo-guess.

    The shrinkage makes three of three dissenting experts outrank a single one, who may have erred.
    """
    sure = [guess for guess in guesses if guess != UNSURE]
    return sum(guess != label for guess in sure) / (len(sure) + 1)


def _epistemic(item: Evidence) -> float | None:
    return None if item.confidence_epistemic is None else 1.0 - item.confidence_epistemic


def _aleatoric(item: Evidence) -> float | None:
    return None if item.confidence_aleatoric is None else 1.0 - item.confidence_aleatoric


def _entropy(item: Evidence) -> float | None:
    return entropy(item.probabilities) if item.probabilities else None


def _bald(item: Evidence) -> float | None:
    return mutual_information(item.members) if len(item.members) >= 2 else None


def _label(item: Evidence) -> float | None:
    return label_margin(item.probabilities, item.label) if item.label and item.probabilities else None


def _experts(item: Evidence) -> float | None:
    judged = any(guess != UNSURE for guess in item.guesses)
    return guess_disagreement(item.guesses, item.label) if item.label and judged else None


SCORERS: dict[Strategy, Callable[[Evidence], float | None]] = {
    Strategy.EPISTEMIC: _epistemic,
    Strategy.ALEATORIC: _aleatoric,
    Strategy.ENTROPY: _entropy,
    Strategy.BALD: _bald,
    Strategy.LABEL_DISAGREEMENT: _label,
    Strategy.EXPERT_DISAGREEMENT: _experts,
}


@dataclass(frozen=True)
class Ranked:
    """One unit's place in a queue: ``rank`` 0 is looked at first."""

    unit_id: int
    rank: int
    score: float


def scores(items: Sequence[Evidence], strategy: Strategy, *, seed: int = 0) -> dict[int, float]:
    """Score of every unit the strategy can judge; random draws a seeded uniform number per unit.

    The random baseline draws in unit-id order, so the same seed and units give the same queue
    whatever order the caller passes them in.
    """
    if strategy is Strategy.RANDOM:
        ids = sorted({item.unit_id for item in items})
        draws = np.random.default_rng(seed).random(len(ids))
        return {unit: float(draw) for unit, draw in zip(ids, draws, strict=True)}
    scored = ((item.unit_id, SCORERS[strategy](item)) for item in items)
    return {unit: float(score) for unit, score in scored if score is not None}


def rank(items: Sequence[Evidence], strategy: Strategy, *, seed: int = 0) -> list[Ranked]:
    """Units in queue order: highest score first, ties to the smaller id; unscorable units left out."""
    ordered = sorted(scores(items, strategy, seed=seed).items(), key=lambda pair: (-pair[1], pair[0]))
    return [Ranked(unit_id=unit, rank=i, score=score) for i, (unit, score) in enumerate(ordered)]
