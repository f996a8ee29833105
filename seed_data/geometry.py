"""Convex-probe geometry: the phantom is drawn along beams (depth x beam), then fanned out.

Drawing in beam coordinates makes the physics come out right for free: reverberations (A-lines)
become arcs at constant depth, and B-lines and rib shadows, which follow the beam, become radial
streaks that widen with depth, exactly as on a curvilinear probe.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]
#: Grey images (uint8) and packed label images (uint16), the two kinds of picture that get fanned out.
LabelImage = npt.NDArray[np.unsignedinteger[Any]]

#: Probe-face radius over deepest radius: small values give a wide fan with a narrow top.
NEAR_FAR_RATIO = (0.26, 0.40)
#: Half opening angle of the fan in radians (about 19-24 degrees, a cropped convex view).
HALF_ANGLE = (0.33, 0.42)
#: Black border around the fan, as a fraction of the image side.
MARGIN = (0.01, 0.04)
#: Coordinate given to pixels outside the fan, so that ``cv2.remap`` fills them with black.
OUTSIDE = -16.0
#: Beam-coordinate samples per output pixel: coarser than the image, as real beams and pulses are.
POLAR_SCALE = 0.75


@dataclass(frozen=True)
class ConvexGeometry:
    """Where the fan of one phantom lies in its square image (pixels; y grows downwards)."""

    size: int
    n_depth: int
    n_beams: int
    apex_x: float
    apex_y: float
    r_near: float
    r_far: float
    half_angle: float

    def bounding_box(self) -> tuple[int, int, int, int]:
        """Smallest ``(x, y, w, h)`` box around the fan: the corners of the far arc set the width."""
        half_width = self.r_far * math.sin(self.half_angle)
        top = self.apex_y + self.r_near * math.cos(self.half_angle)
        x0 = max(0, math.floor(self.apex_x - half_width))
        y0 = max(0, math.floor(top))
        x1 = min(self.size, math.ceil(self.apex_x + half_width))
        y1 = min(self.size, math.ceil(self.apex_y + self.r_far))
        return x0, y0, x1 - x0, y1 - y0

    def bounding_square(self) -> tuple[int, int, int, int]:
        """The square crop an expert would draw around the fan, kept inside the image."""
        x, y, w, h = self.bounding_box()
        side = min(max(w, h), self.size)
        x0 = min(max(0, x + (w - side) // 2), self.size - side)
        y0 = min(max(0, y + (h - side) // 2), self.size - side)
        return x0, y0, side, side


def sample_geometry(rng: np.random.Generator, size: int) -> ConvexGeometry:
    """Draw a plausible convex fan that fills ``size`` x ``size`` up to a small black margin.

    Probes and presets differ, so the fan's opening and curvature vary by seed; a model must not
    learn the class from the fan's shape.
    """
    ratio = float(rng.uniform(*NEAR_FAR_RATIO))
    half = float(rng.uniform(*HALF_ANGLE))
    margin = float(rng.uniform(*MARGIN)) * size
    width_per_radius = 2.0 * math.sin(half)
    height_per_radius = 1.0 - ratio * math.cos(half)
    r_far = (size - 2.0 * margin) / max(width_per_radius, height_per_radius)
    r_near = ratio * r_far
    apex_y = (size - r_far * height_per_radius) / 2.0 - r_near * math.cos(half)
    polar = round(POLAR_SCALE * size)
    return ConvexGeometry(
        size=size,
        n_depth=polar,
        n_beams=polar,
        apex_x=size / 2.0,
        apex_y=apex_y,
        r_near=r_near,
        r_far=r_far,
        half_angle=half,
    )


def scan_maps(geometry: ConvexGeometry) -> tuple[FloatArray, FloatArray]:
    """For every output pixel, the (beam, depth) position it shows, as ``cv2.remap`` maps.

    Pixels outside the fan get a far-away coordinate so the remap paints them black.
    """
    grid = np.arange(geometry.size, dtype=np.float64)
    dx = grid[None, :] - geometry.apex_x
    dy = grid[:, None] - geometry.apex_y
    radius = np.hypot(dx, dy)
    angle = np.arctan2(dx, dy)
    depth = (radius - geometry.r_near) / (geometry.r_far - geometry.r_near) * (geometry.n_depth - 1)
    beam = (angle + geometry.half_angle) / (2.0 * geometry.half_angle) * (geometry.n_beams - 1)
    inside = (depth >= 0) & (depth <= geometry.n_depth - 1) & (beam >= 0) & (beam <= geometry.n_beams - 1)
    map_x = np.where(inside, beam, OUTSIDE).astype(np.float32)
    map_y = np.where(inside, depth, OUTSIDE).astype(np.float32)
    return map_x, map_y


def fan_out(polar: LabelImage, maps: tuple[FloatArray, FloatArray], *, nearest: bool) -> LabelImage:
    """Scan-convert one beam-coordinate image; ``nearest`` keeps label images exact."""
    interpolation = cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR
    fanned = cv2.remap(polar, maps[0], maps[1], interpolation, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return np.asarray(fanned, dtype=polar.dtype)


def sector_mask(maps: tuple[FloatArray, FloatArray]) -> BoolArray:
    """Pixels that lie inside the fan."""
    return np.asarray(maps[0] >= 0, dtype=np.bool_)
