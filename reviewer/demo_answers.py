"""Simulated expert answers for the demo's closed study, grounded in the phantoms' pixel ground truth.

The statistics page needs a closed study with answers before anyone has read a video. Rather than
random numbers, each simulated expert judges a heatmap by where its peak falls: a panel whose
per-frame peaks lie on the video's lung patterns scores high, one that points at skin or rib
shadows scores low, and the patterns "highlighted" are those under the peak. Experts differ by a
small personal bias and noise, miss a pattern now and then, and sometimes guess the class wrong,
so agreement, preference and score statistics come out plausible rather than perfect. Every answer
says in its comment that it is simulated, so nobody mistakes it for a person's judgement.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from reviewer.review_form import GUESS_CHOICES, AnswerForm
from reviewer.vocab import LUNG_PATTERNS, SCORE_MAX, SCORE_MIN, Pattern, Preference

SIMULATED_COMMENT = (
    "Simulated answer (demo): generated from the phantom's ground truth by a seeded generator, "
    "not given by a person."
)
HIT_SHARE = 1 / 3
"""A pattern counts as highlighted when the CAM peak lies on it in at least this share of frames."""
SCORE_NOISE = 0.8
"""Standard deviation (score points) of one simulated expert's judgement of one panel."""
MISS_RATE = 0.15
"""Chance that a non-reference expert overlooks a visible or highlighted pattern."""
RIGHT_GUESS = 0.8
"""Chance that a simulated expert guesses the video's class right."""
SECONDS = (15.0, 90.0)
"""Range of the simulated time spent on one video, in seconds."""
NEUTRAL = 0.5
"""Share of on-pattern peaks assumed for a video without pixel ground truth (uploads)."""

_LUNG = frozenset(p.value for p in LUNG_PATTERNS)


@dataclass(frozen=True, slots=True)
class PanelTruth:
    """What the ground truth says about one heatmap panel of a video."""

    on_lung: float
    """Share of frames whose CAM peak lies on one of the video's lung patterns."""
    hit: tuple[str, ...]
    """Patterns (lung or off-target) under the peak in at least :data:`HIT_SHARE` of frames."""


@dataclass(frozen=True, slots=True)
class ItemTruth:
    """A study item as the ground truth sees it: class, tagged patterns and both panels."""

    label: str
    visible: tuple[str, ...]
    panel_a: PanelTruth
    panel_b: PanelTruth


def panel_truth(peaks: Sequence[Sequence[int]], masks: Mapping[Pattern, np.ndarray]) -> PanelTruth:
    """Where a CAM's per-frame peaks ``(x, y)`` fall among a video's per-frame pattern masks.

    Peaks and masks are both in stored-frame pixels and frame order; without masks the panel is
    neutral, so uploads in a demo study still get middling scores.
    """
    frames = min([len(peaks), *(len(m) for m in masks.values())])
    if not masks or frames == 0:
        return PanelTruth(on_lung=NEUTRAL, hit=())
    shown = peaks[:frames]  # a frame whose map has no peak ([]) lies on nothing
    under = {
        p: np.array([bool(at) and bool(mask[i, at[1], at[0]]) for i, at in enumerate(shown)])
        for p, mask in masks.items()
    }
    on_lung = np.zeros(frames, np.bool_)
    for pattern, frames_hit in under.items():
        if pattern.value in _LUNG:
            on_lung |= frames_hit
    hit = tuple(p.value for p in Pattern if p in under and under[p].mean() >= HIT_SHARE)
    return PanelTruth(on_lung=float(on_lung.mean()), hit=hit)


def simulate_answer(
    truth: ItemTruth, *, rng: np.random.Generator, bias: float, reference: bool
) -> AnswerForm:
    """One simulated expert's complete answer to one item.

    Args:
        truth: The item's ground truth.
        rng: The expert's own seeded generator (same seed, same answers).
        bias: The expert's personal offset in score points (some experts are stricter).
        reference: The reference expert sees every tagged pattern; the others miss some.
    """
    score_a = _score(truth.panel_a.on_lung, bias, rng)
    score_b = _score(truth.panel_b.on_lung, bias, rng)
    preferred = Preference.A if score_a > score_b else Preference.B if score_b > score_a else Preference.EQUAL
    return AnswerForm(
        score_a=score_a,
        score_b=score_b,
        preferred=preferred.value,
        class_guess=_guess(truth.label, rng),
        patterns_visible=truth.visible if reference else _notice(truth.visible, rng),
        patterns_a=_notice(truth.panel_a.hit, rng),
        patterns_b=_notice(truth.panel_b.hit, rng),
        comment=SIMULATED_COMMENT,
        seconds_spent=round(float(rng.uniform(*SECONDS)), 1),
    )


def _score(on_lung: float, bias: float, rng: np.random.Generator) -> int:
    """From "only distracting" (peaks never on a lung pattern) to "very helpful" (always on one)."""
    value = SCORE_MIN + (SCORE_MAX - SCORE_MIN) * on_lung + bias + rng.normal(0.0, SCORE_NOISE)
    return int(np.clip(round(value), SCORE_MIN, SCORE_MAX))


def _guess(label: str, rng: np.random.Generator) -> str:
    if label in GUESS_CHOICES and rng.random() < RIGHT_GUESS:
        return label
    return str(rng.choice([g for g in GUESS_CHOICES if g != label]))


def _notice(patterns: tuple[str, ...], rng: np.random.Generator) -> tuple[str, ...]:
    return tuple(p for p in patterns if rng.random() >= MISS_RATE)
