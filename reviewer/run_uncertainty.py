"""Per-head probabilities with MC-dropout and test-time-augmentation passes, and their confidences.

Every fold head is scored once deterministically, ``passes`` times with dropout active (on the
one set of trunk features: MC dropout only touches the pooled vector) and ``passes`` times on
augmented frames. Keeping the passes per head lets one computation serve both the ensemble
(mean over heads) and the held-out fold model (the head of each frame's test fold), so storing
both costs one set of head passes, not two.

Confidence is :func:`model.uncertainty.frame_confidence` / ``video_confidence``: ``1 - sd / 0.5`` of
the winning class' probability over passes, where the winner is the deterministic prediction the
user sees.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from reviewer.training import TrainConfig

Progress = Callable[[str, int, int], None]

PASSES = 10
"""Stochastic passes per kind, as the issue asks (10 MC-dropout, 10 augmented)."""

AugmentedFeatures = Callable[[int], np.ndarray]
"""``pass index -> (N, h, w, 512)`` trunk features of one augmented version of the frames."""


@dataclasses.dataclass(frozen=True)
class Passes:
    """One model's (a head's, or the ensemble's) probabilities: deterministic and per pass."""

    probabilities: np.ndarray  # (N, C)
    mc: np.ndarray  # (P, N, C)
    tta: np.ndarray  # (P, N, C)

    def rows(self, rows: np.ndarray) -> Passes:
        """The same model restricted to some frames (e.g. one video)."""
        return Passes(self.probabilities[rows], self.mc[:, rows], self.tta[:, rows])


@dataclasses.dataclass(frozen=True)
class HeadPasses:
    """:class:`Passes` of every fold head, stacked on a leading head axis ``(H, ...)``."""

    probabilities: np.ndarray  # (H, N, C)
    mc: np.ndarray  # (H, P, N, C)
    tta: np.ndarray  # (H, P, N, C)

    def ensemble(self) -> Passes:
        """The ensemble: each pass is the mean over heads, as its deterministic prediction is."""
        return Passes(self.probabilities.mean(0), self.mc.mean(0), self.tta.mean(0))

    def held_out(self, folds: np.ndarray) -> Passes:
        """For every frame, the head of the fold that held its video out (``folds[i]``)."""
        rows = np.arange(len(folds))
        return Passes(
            self.probabilities[folds, rows],
            self.mc[folds, :, rows].swapaxes(0, 1),
            self.tta[folds, :, rows].swapaxes(0, 1),
        )


def head_passes(
    heads: Sequence[Any], plain: np.ndarray, augmented: AugmentedFeatures, passes: int = PASSES, seed: int = 0
) -> HeadPasses:
    """Score the frames with every head: deterministic, MC dropout and test-time augmentation.

    Args:
        heads: Fold heads, in fold order.
        plain: ``(N, h, w, 512)`` trunk features of the unaugmented frames (reused by MC dropout).
        augmented: Features of augmented pass ``p``; training passes cached copies, screening fresh ones.
        passes: Passes per kind.
        seed: Seeds the dropout masks (head ``h`` uses ``seed + h``).
    """
    deterministic, mc = plain_passes(heads, plain, passes, seed)
    return HeadPasses(deterministic, mc, augmented_passes(heads, augmented, passes))


def plain_passes(
    heads: Sequence[Any], plain: np.ndarray, passes: int = PASSES, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """The cheap part of :func:`head_passes`, ready before any augmented trunk pass has run.

    Returns:
        The deterministic ``(H, N, C)`` and MC-dropout ``(H, P, N, C)`` probabilities.
    """
    from model.cams import head_probabilities
    from model.uncertainty import mc_dropout_probabilities

    deterministic = np.stack([head_probabilities(head, plain) for head in heads])
    mc = np.stack([mc_dropout_probabilities([h], plain, passes, seed + i) for i, h in enumerate(heads)])
    return deterministic, mc


def augmented_passes(heads: Sequence[Any], augmented: AugmentedFeatures, passes: int = PASSES) -> np.ndarray:
    """Every head on each augmented version of the frames: ``(H, P, N, C)`` probabilities."""
    from model.cams import head_probabilities

    per_pass = []
    for p in range(passes):
        features = augmented(p)  # one trunk pass (or cache read) for all heads
        per_pass.append(np.stack([head_probabilities(head, features) for head in heads]))
    return np.stack(per_pass, axis=1).astype(np.float32)


@dataclasses.dataclass(frozen=True)
class Confidence:
    """Epistemic (MC dropout) and aleatoric (augmentation) confidence, each in ``[0, 1]``."""

    epistemic: float
    aleatoric: float


def frame_confidences(scored: Passes) -> list[Confidence]:
    """Confidence of every frame in the class it is predicted as."""
    from model.uncertainty import frame_confidence

    winner = scored.probabilities.argmax(axis=1)
    epistemic = frame_confidence(scored.mc, winner)
    aleatoric = frame_confidence(scored.tta, winner)
    return [Confidence(float(e), float(a)) for e, a in zip(epistemic, aleatoric, strict=True)]


def video_confidence(scored: Passes) -> Confidence:
    """Confidence of a video (all of ``scored``'s frames) in its predicted class (mean probability)."""
    from model.uncertainty import video_confidence as spread

    winner = int(scored.probabilities.mean(axis=0).argmax())
    return Confidence(spread(scored.mc, winner), spread(scored.tta, winner))


def score_cached(
    config: TrainConfig, frames: np.ndarray, features: np.ndarray, heads: list[Any], progress: Progress | None
) -> HeadPasses:
    """Score a run's frames ``(N, S, S, 3)`` with every head, reusing its feature cache.

    Augmented passes reuse the cache's augmented copies (the training transforms, already through
    the trunk); only passes beyond ``K - 1`` run the trunk, on further copies drawn the same way.
    """
    from model.augment import apply_transforms, copy_transforms, resize_frames
    from model.trunk import trunk_features

    trunk: list[Any] = []
    images = resize_frames(frames, config.input_size)

    def augmented(p: int) -> np.ndarray:
        if progress is not None:
            progress("uncertainty", p + 1, config.uncertainty_passes)
        copy = p + 1
        if copy < features.shape[1]:
            return features[:, copy]
        if not trunk:
            trunk.append(run_trunk(config))
        return trunk_features(
            trunk[0], apply_transforms(images, copy_transforms(len(images), copy, config.seed))
        )

    return head_passes(heads, features[:, 0], augmented, config.uncertainty_passes, config.seed)


def run_trunk(config: TrainConfig) -> Any:
    """The run's frozen trunk, rebuilt exactly as its feature cache was (random weights seeded too)."""
    import keras

    from model.backbone import build_vgg16
    from model.trunk import build_trunk

    keras.utils.set_random_seed(config.seed)
    return build_trunk(build_vgg16(config.weights, config.input_size))
