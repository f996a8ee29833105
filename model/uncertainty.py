"""Epistemic (MC dropout) and aleatoric (test-time augmentation) confidence of the ensemble.

Both repeat a stochastic prediction ``P`` times (10 by default, as in the issue) and measure the
spread of the winning class' probability: confidence ``c = 1 - sd(p_winning) / 0.5``, clipped to
``[0, 1]``. A probability lies in ``[0, 1]``, so its standard deviation is at most 0.5: ``c = 1``
means every pass agrees, ``c = 0`` the largest possible disagreement. ``sd`` is the population
standard deviation over passes (``ddof=0``).

* Epistemic: dropout stays active in the heads. The only dropout sits after the pooling, so the
  conv runs once per head and each pass is a numpy mask on ``(N, 512)`` pooled features, exactly
  what Keras' ``Dropout(training=True)`` computes (inverted dropout), but seeded and nearly free.
* Aleatoric: each pass augments the frames with the training transforms and needs its own trunk
  pass; the deterministic ensemble then predicts.

Per video, a pass' video probability is the mean of its frames' probabilities (the paper's video
prediction); the video confidence uses the spread of that mean across passes. Averaging frames
cancels independent frame noise, so a video is usually more confident than its frames.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np

from model.augment import augment_batch
from model.cams import activations, ensemble_probabilities
from model.heads import DENSE, DROPOUT
from model.trunk import trunk_features

MAX_SD = 0.5


def mc_dropout_probabilities(
    heads: Sequence[keras.Model], features: np.ndarray, passes: int = 10, seed: int = 0
) -> np.ndarray:
    """Ensemble probabilities with dropout active, ``passes`` times, from one set of trunk features.

    Args:
        heads: The fold heads.
        features: ``(N, h, w, 512)`` trunk features of the unaugmented frames.
        passes: Number of stochastic passes.
        seed: Seeds the dropout masks.

    Returns:
        ``(passes, N, C)`` float32; each pass is the mean over heads.
    """
    rng = np.random.default_rng(seed)
    pooled = [activations(head, features).mean(axis=(1, 2)) for head in heads]
    runs = [
        [_dropout_pass(head, p, rng) for head, p in zip(heads, pooled, strict=True)] for _ in range(passes)
    ]
    mean_over_heads: np.ndarray = np.mean(runs, axis=1)
    return mean_over_heads.astype(np.float32)


def _dropout_pass(head: keras.Model, pooled: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Dropout (inverted, as Keras) on pooled features, then the head's dense softmax layer."""
    rate = float(head.get_layer(DROPOUT).rate)
    dense = head.get_layer(DENSE)
    kept = pooled * (rng.random(pooled.shape) >= rate) / (1.0 - rate)
    logits: np.ndarray = kept @ keras.ops.convert_to_numpy(dense.kernel) + keras.ops.convert_to_numpy(
        dense.bias
    )
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities: np.ndarray = exp / exp.sum(axis=1, keepdims=True)
    return probabilities


def tta_probabilities(
    trunk: keras.Model,
    heads: Sequence[keras.Model],
    frames: np.ndarray,
    passes: int = 10,
    seed: int = 0,
    batch_size: int = 16,
) -> np.ndarray:
    """Ensemble probabilities of ``passes`` randomly augmented versions of the frames.

    Args:
        trunk: The trunk the heads were trained on.
        heads: The fold heads.
        frames: ``(N, S, S, 3)`` uint8 RGB frames.
        passes: Number of augmented passes (each costs one trunk pass).
        seed: Seeds the transforms.
        batch_size: Frames per trunk pass.

    Returns:
        ``(passes, N, C)`` float32.
    """
    rng = np.random.default_rng(seed)
    runs = [
        ensemble_probabilities(heads, trunk_features(trunk, augment_batch(frames, rng), batch_size))
        for _ in range(passes)
    ]
    return np.stack(runs).astype(np.float32)


def confidence(sd: float | np.ndarray) -> np.ndarray:
    """``1 - sd / 0.5`` clipped to ``[0, 1]``: 1 for no spread, 0 for the largest possible spread."""
    return np.clip(1.0 - np.asarray(sd, np.float64) / MAX_SD, 0.0, 1.0).astype(np.float32)


def frame_confidence(pass_probabilities: np.ndarray, winner: np.ndarray | None = None) -> np.ndarray:
    """Confidence of every frame from ``(P, N, C)`` pass probabilities.

    Args:
        pass_probabilities: Output of :func:`mc_dropout_probabilities` or :func:`tta_probabilities`.
        winner: ``(N,)`` class shown to the user (e.g. the deterministic prediction); default the
            argmax of the mean over passes.

    Returns:
        ``(N,)`` float32 in ``[0, 1]``.
    """
    probs = np.asarray(pass_probabilities, np.float64)
    winner = probs.mean(axis=0).argmax(axis=1) if winner is None else np.asarray(winner)
    p_winning = np.take_along_axis(probs, winner[None, :, None], axis=2)[..., 0]
    return confidence(p_winning.std(axis=0))


def video_confidence(pass_probabilities: np.ndarray, winner: int | None = None) -> float:
    """Confidence of a video from its frames' ``(P, N, C)`` pass probabilities.

    Each pass' video probability is the mean over its frames; the spread across passes of the
    winning class' video probability gives the confidence.

    Args:
        pass_probabilities: All passes for the frames of one video.
        winner: Class shown to the user; default the argmax of the mean video probability.
    """
    video = np.asarray(pass_probabilities, np.float64).mean(axis=1)  # (P, C)
    winner = int(video.mean(axis=0).argmax()) if winner is None else winner
    return float(confidence(video[:, winner].std()))
