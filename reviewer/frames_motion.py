"""What motion over a clip tells about its pixels: the ultrasound speckle changes, overlays stay still.

Shared by the crop search (:mod:`reviewer.frames_crop`) and overlay removal
(:mod:`reviewer.frames_overlays`), which must agree on what "still" and "moving" mean.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
from numpy.typing import NDArray

from reviewer.frames import Rgb

DARK = 8  # grey level below which a pixel counts as black background
STILL_RANGE = 12  # a pixel whose grey level varies less than this over the clip is not ultrasound
MOVING_SHARE = 0.1  # a blob is ultrasound if at least this share of its pixels changes over time
_MIN_MOTION_FRAMES = 5  # fewer sampled frames than this carry no reliable motion information


def channels(combine: np.ufunc, image: Rgb) -> NDArray[np.uint8]:
    """Combine R, G and B pixel by pixel (ten times faster than reducing over the last axis)."""
    return np.asarray(combine(combine(image[..., 0], image[..., 1]), image[..., 2]))


def grey_stack(frames: Sequence[Rgb], scale: float) -> NDArray[np.uint8]:
    """Brightest channel of every frame (so coloured marks count as bright), optionally shrunk."""
    stack = np.stack([channels(np.maximum, f) for f in frames])
    if scale >= 1.0:
        return stack
    shrunk = [cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) for grey in stack]
    return np.stack(shrunk).astype(np.uint8, copy=False)


def moves(ptp: NDArray[np.uint8], peak: NDArray[np.uint8], frames: int) -> bool:
    """Whether a clip carries motion at all: enough frames, and a share of its content changing."""
    visible = peak > DARK
    if frames < _MIN_MOTION_FRAMES or not visible.any():
        return False
    return bool((ptp[visible] >= STILL_RANGE).mean() >= MOVING_SHARE)
