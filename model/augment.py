"""The paper's training augmentation on uint8 frames, applied before the trunk.

Born et al. augment with horizontal and vertical flips, rotations up to 10 degrees and shifts up to
10 % of the frame. A transform is five numbers per frame (see :data:`PARAMS`), drawn from a seeded
``numpy.random.Generator``, so every augmented copy can be rebuilt exactly from ``(seed, copy)``.

Pixels that rotations and shifts uncover are filled with black (``cv2.BORDER_CONSTANT``, 0): the
area around an ultrasound sector is black anyway, whereas reflecting would mirror pleura, A-lines or
B-lines into the corners and create fake structures a CAM could learn to point at.
"""

from __future__ import annotations

import cv2
import numpy as np

PARAMS = ("flip_horizontal", "flip_vertical", "angle_degrees", "shift_x", "shift_y")
"""Columns of a transform array: flips are 0/1, shifts are fractions of the width and height."""

MAX_ANGLE = 10.0
MAX_SHIFT = 0.1


def draw_transforms(n: int, rng: np.random.Generator) -> np.ndarray:
    """Draw ``n`` random transforms of the paper's augmentation.

    Args:
        n: Number of frames.
        rng: Source of randomness; the same generator state gives the same transforms.

    Returns:
        ``(n, 5)`` float64 array with the columns of :data:`PARAMS`: each flip with probability 1/2,
        angle uniform in [-10, 10] degrees, shifts uniform in [-0.1, 0.1].
    """
    flips = rng.integers(0, 2, size=(n, 2)).astype(np.float64)
    angles = rng.uniform(-MAX_ANGLE, MAX_ANGLE, size=(n, 1))
    shifts = rng.uniform(-MAX_SHIFT, MAX_SHIFT, size=(n, 2))
    return np.concatenate([flips, angles, shifts], axis=1)


def apply_transforms(frames: np.ndarray, transforms: np.ndarray) -> np.ndarray:
    """Apply one transform per frame: flips first, then rotation about the centre, then the shift.

    Args:
        frames: ``(N, H, W, C)`` uint8 frames.
        transforms: ``(N, 5)`` rows as returned by :func:`draw_transforms`.

    Returns:
        ``(N, H, W, C)`` uint8 augmented frames (a new array; the input is not modified).
    """
    if len(frames) != len(transforms):
        raise ValueError(f"{len(frames)} frames but {len(transforms)} transforms")
    out = np.empty_like(frames)
    height, width = frames.shape[1:3]
    for i, (flip_h, flip_v, angle, shift_x, shift_y) in enumerate(transforms):
        frame = frames[i, :, ::-1] if flip_h else frames[i]
        frame = frame[::-1] if flip_v else frame
        if angle == 0 and shift_x == 0 and shift_y == 0:
            out[i] = frame
            continue
        matrix = cv2.getRotationMatrix2D(((width - 1) / 2, (height - 1) / 2), angle, 1.0)
        matrix[:, 2] += (shift_x * width, shift_y * height)
        warped = cv2.warpAffine(
            np.ascontiguousarray(frame),
            matrix,
            (width, height),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0,
        )
        out[i] = warped.reshape(frame.shape)
    return out


def augment_batch(frames: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Augment every frame with a fresh random transform (test-time augmentation, one-off batches)."""
    return apply_transforms(frames, draw_transforms(len(frames), rng))


def copy_transforms(n: int, copy: int, seed: int) -> np.ndarray:
    """The transforms of augmented copy ``copy`` of ``n`` frames; copy 0 is the unaugmented frame.

    Each copy has its own generator seeded by ``(seed, copy)``, so a copy can be rebuilt on its
    own (by the feature cache in chunks, by the naive benchmark per batch) without replaying others.

    Returns:
        ``(n, 5)`` transforms; all zeros (identity) for ``copy == 0``.
    """
    if copy == 0:
        return np.zeros((n, len(PARAMS)))
    return draw_transforms(n, np.random.default_rng([seed, copy]))


def augmented_copies(frames: np.ndarray, copies: int, seed: int) -> np.ndarray:
    """Make ``copies`` versions of every frame: index 0 unaugmented, 1..K-1 augmented.

    Returns:
        ``(N, K, H, W, C)`` uint8, the layout of the feature cache.
    """
    stacked = [apply_transforms(frames, copy_transforms(len(frames), k, seed)) for k in range(copies)]
    return np.stack(stacked, axis=1)


def resize_frames(frames: np.ndarray, size: int) -> np.ndarray:
    """Resize ``(N, H, W, C)`` uint8 frames to ``size`` x ``size`` (area filter when shrinking).

    Stored frames are 224 px; smaller model inputs (``--input-size``) need them resized first.
    """
    if frames.shape[1:3] == (size, size):
        return frames
    shrink = size < min(frames.shape[1:3])
    interpolation = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    resized = [cv2.resize(np.ascontiguousarray(f), (size, size), interpolation=interpolation) for f in frames]
    return np.stack(resized).reshape(len(frames), size, size, *frames.shape[3:])
