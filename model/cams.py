"""Class activation maps (Zhou et al. 2016) of the fold heads, and ensemble predictions.

For a head with ``block5_conv3`` activations ``A`` (``h x w x 512``) and dense weights ``w``, the CAM
of class ``c`` is ``sum_k w[k, c] * A_k`` plus the class bias spread evenly over the map, so its
spatial mean is exactly the class logit and the map shows where the evidence for ``c`` lies. The bias
matters because heads are trained on standardised pooled activations (:mod:`model.heads`) and the
standardisation's centring is folded into the bias: with it the map is the same whether the head is
written folded or not (``sum_k w[k, c] (A_k - mean_k) / scale_k + b_c``), i.e. evidence relative to
an average training frame; without it every map of a class would carry a constant offset. A uniform
offset never moves a peak. Heads run on cached or freshly computed trunk
features, so the CAMs of all 5 fold models cost one trunk pass plus 5 small convs.

Compute (this module, raw or normalised arrays) is kept apart from display (upsampling here, colour
maps and videos elsewhere). Raw CAMs are logit contributions; :func:`normalise` turns them into the
float32 ``[0, 1]`` maps everything downstream stores and shows.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import keras
import numpy as np

from model.fitting import run_batched
from model.heads import CONV, DENSE


def activations(head: keras.Model, features: np.ndarray) -> np.ndarray:
    """The head's ``block5_conv3`` activations ``A``: ``(N, h, w, 512)`` float32."""
    return run_batched(head.get_layer(CONV), features)


def cams(head: keras.Model, features: np.ndarray, class_index: int | np.ndarray) -> np.ndarray:
    """Raw CAMs ``sum_k w[k, c] * A_k + b_c`` of one head (see the module docstring for the bias).

    Args:
        head: A fold head from :mod:`model.heads`.
        features: ``(N, h, w, 512)`` trunk features (copy 0 of the cache, or fresh).
        class_index: The target class, for all frames (int) or per frame (``(N,)`` ints, e.g. the
            predicted class of each frame).

    Returns:
        ``(N, h, w)`` float32 raw CAMs, in logit units (may be negative).
    """
    kernel, bias = (np.asarray(v, np.float32) for v in head.get_layer(DENSE).get_weights())
    classes = np.broadcast_to(class_index, (len(features),))
    maps: np.ndarray = np.einsum("nhwk,nk->nhw", activations(head, features), kernel[:, classes].T)
    with_bias: np.ndarray = (maps + bias[classes][:, None, None]).astype(np.float32)
    return with_bias


def normalise(maps: np.ndarray) -> np.ndarray:
    """Scale each map to ``[0, 1]`` relative to its positive maximum; negative evidence becomes 0.

    Min-max scaling would stretch even a flat, evidence-free map to a full-range hot spot and move
    "no evidence" (0) to an arbitrary colour; dividing the positive part by its maximum keeps 0 as
    "no evidence for this class". A map with no positive value becomes all zeros.

    Args:
        maps: ``(N, h, w)`` raw CAMs.

    Returns:
        ``(N, h, w)`` float32 in ``[0, 1]``; every map with positive evidence peaks at exactly 1.
    """
    positive = np.maximum(np.asarray(maps, np.float32), 0.0)
    peaks = positive.max(axis=(1, 2), keepdims=True)
    scaled: np.ndarray = np.divide(positive, peaks, out=np.zeros_like(positive), where=peaks > 0)
    return scaled


def train_cam(
    heads: Sequence[keras.Model], features: np.ndarray, class_index: int | np.ndarray
) -> np.ndarray:
    """The train-CAM: the mean of all fold heads' raw CAMs, normalised.

    Averaging raw maps (not normalised ones) gives the CAM of the ensemble's mean logit, and the
    final normalisation makes its peak 1 like a test-CAM's, so the two cannot be told apart by scale
    when shown blinded.

    Returns:
        ``(N, h, w)`` float32 in ``[0, 1]``.
    """
    return normalise(np.mean([cams(head, features, class_index) for head in heads], axis=0))


def test_cam(head: keras.Model, features: np.ndarray, class_index: int | np.ndarray) -> np.ndarray:
    """The test-CAM: the normalised CAM of the one fold head that never saw the video.

    Pass ``heads[fold_of_video]``; the caller knows the fold assignment from the run.

    Returns:
        ``(N, h, w)`` float32 in ``[0, 1]``.
    """
    return normalise(cams(head, features, class_index))


def upsample(maps: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """Resize ``(N, h, w)`` maps bilinearly to the frame size, for overlays and peak locations.

    Args:
        maps: Normalised maps (bilinear interpolation keeps them in ``[0, 1]``).
        size: Frame side, or ``(height, width)``.

    Returns:
        ``(N, height, width)`` float32.
    """
    height, width = (size, size) if isinstance(size, int) else size
    resized = [
        cv2.resize(np.asarray(m, np.float32), (width, height), interpolation=cv2.INTER_LINEAR) for m in maps
    ]
    return np.stack(resized).reshape(len(maps), height, width)


def peak(cam: np.ndarray) -> tuple[int, int] | None:
    """Location ``(x, y)`` of the maximum of one map, in that map's pixels (column, row); None if none.

    Upsample to the frame first to get frame pixel coordinates; ties go to the first pixel in
    row-major order. A map without positive evidence (all zeros after :func:`normalise`) has no peak:
    argmax would name its first pixel, (0, 0), a location the map never pointed at.
    """
    if not np.max(cam) > 0:
        return None
    y, x = np.unravel_index(int(np.argmax(cam)), cam.shape)
    return int(x), int(y)


def head_probabilities(head: keras.Model, features: np.ndarray) -> np.ndarray:
    """Deterministic (dropout off) class probabilities of one head: ``(N, C)`` float32."""
    return run_batched(lambda x: head(x, training=False), features)


def ensemble_probabilities(heads: Sequence[keras.Model], features: np.ndarray) -> np.ndarray:
    """Mean of the fold heads' frame probabilities: ``(N, C)`` float32, rows sum to 1."""
    mean: np.ndarray = np.mean([head_probabilities(head, features) for head in heads], axis=0)
    return mean.astype(np.float32)


def video_probabilities(frame_probabilities: np.ndarray) -> np.ndarray:
    """A video's prediction as in the paper: the mean of its frames' probabilities, ``(C,)``."""
    mean: np.ndarray = np.asarray(frame_probabilities, np.float32).mean(axis=0)
    return mean
