"""From a drawn scene to frames: speckle, lung sliding, depth attenuation and display compression.

Speckle is the magnitude of correlated complex Gaussian noise, i.e. Rayleigh distributed like the
envelope of real radio-frequency echoes, and it multiplies the echo map. The chest wall holds still,
so its speckle barely changes; the lung canvas and its speckle slide sideways with breathing and
decorrelate more, which is what gives real lung sliding its shimmer.
"""

from __future__ import annotations

import math
from typing import TypeVar

import cv2
import numpy as np
import numpy.typing as npt

from reviewer.vocab import Pattern
from seed_data.anatomy import PAD, Scene
from seed_data.geometry import BoolArray, FloatArray

#: Speckle correlation in (rows, beams): beams are wider than the axial resolution.
SPECKLE_SIGMA = (0.9, 1.8)
#: Scanner post-processing blur of the speckle amplitude in (rows, beams): fills the deepest nulls.
SMOOTHING_SIGMA = (0.8, 1.2)
#: Share of changing speckle in the still chest wall and in the sliding lung.
DECORRELATION = (0.15, 0.5)
#: Phase step per frame between the two changing speckle fields (radians).
SHIMMER_STEP = 0.8
#: Displayed dynamic range in dB: echoes this far below 0 dB are black.
DYNAMIC_RANGE_DB = (45.0, 55.0)
#: Electronic noise floor, so that log compression never sees zero.
NOISE_FLOOR = 1e-4
#: Largest lateral lung slide in beams; must stay below the lung canvas padding.
MAX_SLIDE = PAD - 2.0
#: Decibels per natural-log unit of amplitude.
DB_PER_NEPER = 20.0 / math.log(10.0)
#: Label bit of the pleural line, after one bit per :class:`Pattern`.
PLEURA_BIT = len(Pattern)
LabelArray = npt.NDArray[np.uint16]
ComplexArray = npt.NDArray[np.complex64]
Scalar = TypeVar("Scalar", np.float32, np.complex64)


def complex_speckle(rng: np.random.Generator, shape: tuple[int, int]) -> ComplexArray:
    """Correlated complex Gaussian noise of unit power: its magnitude is Rayleigh distributed."""
    noise = rng.standard_normal((*shape, 2), dtype=np.float32)
    blurred = cv2.GaussianBlur(noise, (0, 0), sigmaX=SPECKLE_SIGMA[1], sigmaY=SPECKLE_SIGMA[0])
    field = np.ascontiguousarray(blurred, dtype=np.float32).view(np.complex64)[..., 0]
    power = float(np.mean(np.abs(field) ** 2))
    return np.asarray(field / math.sqrt(power), dtype=np.complex64)


def pack(
    masks: dict[Pattern, BoolArray], shape: tuple[int, int], pleura: BoolArray | None = None
) -> LabelArray:
    """All masks of a canvas as bits of one label image, so one nearest-neighbour remap moves them all.

    Bit ``i`` is the ``i``-th :class:`Pattern`; bit :data:`PLEURA_BIT` is the pleural line.
    """
    bits = np.zeros(shape, dtype=np.uint16)
    for bit, pattern in enumerate(Pattern):
        if pattern in masks:
            bits |= masks[pattern].astype(np.uint16) << bit
    if pleura is not None:
        bits |= pleura.astype(np.uint16) << PLEURA_BIT
    return bits


def unpack(labels: LabelArray, bit: int) -> BoolArray:
    """One mask back out of packed label images (any leading shape)."""
    return np.bitwise_and(labels, np.uint16(1 << bit)).astype(np.bool_)


def shift(canvas: npt.NDArray[Scalar], offset: float, width: int) -> npt.NDArray[Scalar]:
    """The ``width`` beams of a padded canvas seen after the lung moved ``offset`` beams (linear)."""
    start = PAD - offset
    left = math.floor(start)
    frac = np.float32(start - left)
    moved = (1 - frac) * canvas[:, left : left + width] + frac * canvas[:, left + 1 : left + 1 + width]
    return np.asarray(moved, dtype=canvas.dtype)


class Renderer:
    """Turns one scene into frames; static parts are prepared once, per frame only sliding and noise."""

    def __init__(self, scene: Scene, rng: np.random.Generator, *, fps: float) -> None:
        """Fix the per-video display settings (gain, attenuation, breathing) and the speckle fields."""
        self._scene, self._fps = scene, fps
        shape = (scene.n_depth, scene.n_beams)
        attenuation = np.exp(-float(rng.uniform(0.5, 1.2)) * scene.rows / scene.n_depth)
        self._region = scene.lung_region()
        self._tissue = scene.tissue * scene.shadow * attenuation
        self._lung_gain = self._region * scene.shadow * attenuation * ~scene.fluid
        self._visible = ((scene.shadow >= 0.5) & ~scene.fluid).astype(np.uint16)
        self._static_bits = pack(scene.masks, shape)
        self._lung_bits = pack(scene.lung_masks, scene.lung.shape, pleura=scene.pleura_mask())
        self._still = complex_speckle(rng, shape)
        self._sliding = complex_speckle(rng, scene.lung.shape)
        self._changing = (complex_speckle(rng, shape), complex_speckle(rng, shape))
        fresh = np.where(self._region, DECORRELATION[1], DECORRELATION[0]).astype(np.float32)
        self._fresh, self._keep = fresh, np.sqrt(1 - fresh**2)
        self._gain_db = float(rng.uniform(-3, 3))
        self._range_db = float(rng.uniform(*DYNAMIC_RANGE_DB))
        self._slide = (
            float(rng.uniform(2.5, MAX_SLIDE)),
            float(rng.uniform(0.25, 0.5)),
            float(rng.uniform(0, 2 * math.pi)),
        )

    def offset(self, index: int) -> float:
        """Lateral lung position at frame ``index``: a slow sinusoid, as in quiet breathing."""
        amplitude, rate_hz, phase = self._slide
        return amplitude * math.sin(2 * math.pi * rate_hz * index / self._fps + phase)

    def speckle(self, index: int, offset: float) -> FloatArray:
        """Rayleigh amplitude at frame ``index``: the sliding or still field plus a rotating changing part.

        Rotating between two independent fields keeps unit power and changes smoothly in time.
        """
        width = self._scene.n_beams
        cos, sin = math.cos(SHIMMER_STEP * index), math.sin(SHIMMER_STEP * index)
        base = np.where(self._region, shift(self._sliding, offset, width), self._still)
        changing = cos * self._changing[0] + sin * self._changing[1]
        magnitude = np.abs(self._keep * base + self._fresh * changing).astype(np.float32)
        smoothed = cv2.GaussianBlur(magnitude, (0, 0), sigmaX=SMOOTHING_SIGMA[1], sigmaY=SMOOTHING_SIGMA[0])
        return np.asarray(smoothed, dtype=np.float32)

    def frame(self, index: int) -> tuple[npt.NDArray[np.uint8], LabelArray]:
        """One frame in beam coordinates: the log-compressed grey image and the packed label image."""
        scene, offset = self._scene, self.offset(index)
        width = scene.n_beams
        echo = self._tissue + self._lung_gain * shift(scene.lung, offset, width)
        amplitude = echo * self.speckle(index, offset) + NOISE_FLOOR
        decibels = DB_PER_NEPER * cv2.log(amplitude) + self._gain_db
        image = np.clip(255.0 * (1.0 + decibels / self._range_db), 0, 255).astype(np.uint8)
        start = PAD - round(offset)
        labels = self._static_bits | (self._lung_bits[:, start : start + width] * self._visible)
        return image, labels
