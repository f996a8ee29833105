"""Pure image logic of the ingest's frames step: the crop rectangle and the cut-and-resize of a frame.

Finding a crop is :mod:`reviewer.frames_crop`; removing burnt-in overlays is
:mod:`reviewer.frames_overlays`; what both learn from motion over a clip is :mod:`reviewer.frames_motion`.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

Rgb = NDArray[np.uint8]
Mask = NDArray[np.bool_]


class CropError(ValueError):
    """A crop that cannot be used; the message is safe to show to the user."""


@dataclass(frozen=True)
class Crop:
    """An axis-aligned rectangle in pixel coordinates of the original frames.

    Raises:
        CropError: if a coordinate is not an integer, the origin is negative or a side is not positive.
    """

    x: int
    y: int
    w: int
    h: int

    def __post_init__(self) -> None:
        for name in ("x", "y", "w", "h"):
            value = getattr(self, name)
            if not isinstance(value, int | np.integer) or isinstance(value, bool):
                raise CropError("Crop coordinates must be whole numbers of pixels.")
            object.__setattr__(self, name, int(value))  # NumPy integers would not reach the database
        if self.x < 0 or self.y < 0 or self.w <= 0 or self.h <= 0:
            raise CropError("A crop needs a non-negative origin and a positive width and height.")

    def check_within(self, width: int, height: int) -> Crop:
        """Return the crop if it lies inside a ``width`` x ``height`` frame, so user crops are safe.

        Raises:
            CropError: if any part of the crop falls outside the frame.
        """
        if self.x + self.w > width or self.y + self.h > height:
            raise CropError(
                f"The crop ({self.x}, {self.y}, {self.w} x {self.h}) reaches outside the "
                f"{width} x {height} frame."
            )
        return self


def apply_crop_and_resize(frame: Rgb, crop: Crop, size: int) -> Rgb:
    """Cut ``crop`` out of an RGB frame and resize it to ``size`` x ``size``, as the model expects.

    Non-square crops (linear probes) are stretched, as Born et al. did, rather than padded.
    """
    crop.check_within(frame.shape[1], frame.shape[0])
    patch = frame[crop.y : crop.y + crop.h, crop.x : crop.x + crop.w]
    shrinking = crop.w >= size and crop.h >= size
    resized = cv2.resize(patch, (size, size), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)
    return np.ascontiguousarray(resized, dtype=np.uint8)
