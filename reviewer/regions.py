"""Expert-drawn regions as pure geometry: validate, rasterise to masks, test CAM peaks against them.

A region is a rectangle, a polygon or a free-hand stroke in *frame pixels* (the stored, cropped
frames the model and its CAMs see). The rule that turns geometry into a mask is one sentence, so
statistics computed on masks can be explained to a reader: **a pixel belongs to a region when its
centre lies inside the shape** (for a stroke: within half the stroke width of its centre line).
Nothing here touches the database or files; :mod:`reviewer.region_store` stores the results.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
from numpy.typing import NDArray

Mask = NDArray[np.bool_]
Point = tuple[float, float]

MAX_POINTS = 5000  # a free-hand stroke sampled at every mouse move stays far below this
MIN_STROKE_PX = 1.0
MAX_STROKE_PX = 64.0


class Shape(StrEnum):
    """How a region was drawn; the values are the ones the ``regions`` table accepts."""

    RECT = "rect"
    POLYGON = "polygon"
    PATH = "path"


class RegionError(ValueError):
    """Geometry that cannot be stored; the message is safe to show."""


@dataclass(frozen=True, slots=True)
class PeakHits:
    """How many CAM peaks fell inside the expert's regions, over the frames that have a region.

    ``no_peak`` counts the frames with a region whose map has no peak (no positive evidence): they
    are left out of ``frames``, since such a map points nowhere.
    """

    hits: int
    frames: int
    no_peak: int = 0

    @property
    def share(self) -> float | None:
        """Share of frames whose peak lies inside, or None when no frame has a region."""
        return self.hits / self.frames if self.frames else None


def checked_geometry(
    shape: Shape | str, geometry: Mapping[str, Any], width: int, height: int
) -> dict[str, Any]:
    """A clean copy of ``geometry`` (plain floats, inside the frame), so stored JSON is always valid.

    Raises:
        RegionError: for an unknown shape, missing or non-finite numbers, too few or too many points,
            a degenerate shape or one lying wholly outside the ``width`` x ``height`` frame.
    """
    try:
        kind = Shape(shape)
    except ValueError as exc:
        raise RegionError(f"Unknown region shape {str(shape)[:32]!r}.") from exc
    if kind is Shape.RECT:
        x, y, w, h = (_number(geometry, key) for key in ("x", "y", "w", "h"))
        if w <= 0 or h <= 0:
            raise RegionError("A rectangle needs a positive width and height.")
        clean: dict[str, Any] = {"x": x, "y": y, "w": w, "h": h}
    else:
        points = _points(geometry.get("points"), minimum=3 if kind is Shape.POLYGON else 2)
        clean = {"points": [list(p) for p in points]}
        if kind is Shape.PATH:
            stroke = _number(geometry, "width")
            if not MIN_STROKE_PX <= stroke <= MAX_STROKE_PX:
                raise RegionError(f"A stroke is {MIN_STROKE_PX:g} to {MAX_STROKE_PX:g} pixels wide.")
            clean["width"] = stroke
    if not rasterise(kind, clean, width, height).any():
        raise RegionError("The region covers no pixel of the frame; draw it on the image.")
    return clean


def rasterise(shape: Shape | str, geometry: Mapping[str, Any], width: int, height: int) -> Mask:
    """The ``height`` x ``width`` mask of a checked geometry (pixel centres inside the shape)."""
    cols = np.arange(width, dtype=np.float64) + 0.5
    rows = np.arange(height, dtype=np.float64) + 0.5
    kind = Shape(shape)
    if kind is Shape.RECT:
        x, y, w, h = (float(geometry[key]) for key in ("x", "y", "w", "h"))
        inside_x = (cols >= x) & (cols < x + w)
        inside_y = (rows >= y) & (rows < y + h)
        return np.asarray(inside_y[:, None] & inside_x[None, :], dtype=np.bool_)
    points = np.asarray(geometry["points"], dtype=np.float64)
    grid_x, grid_y = np.meshgrid(cols, rows)
    if kind is Shape.POLYGON:
        return _even_odd(points, grid_x, grid_y)
    return _near_polyline(points, float(geometry["width"]) / 2, grid_x, grid_y)


def union(masks: Sequence[Mask], width: int, height: int) -> Mask:
    """All regions of one frame as one mask (empty if there are none)."""
    combined = np.zeros((height, width), dtype=np.bool_)
    for mask in masks:
        combined |= mask
    return combined


def peak_in_regions(peaks: Sequence[Sequence[float]], masks: Mapping[int, Mask]) -> PeakHits:
    """Count the frames whose CAM peak ([x, y], one per frame; [] for none) lies inside the expert's regions.

    Only frames with a mask count, so "the CAM peaks on the B-lines in 7 of 9 marked frames" reads
    right even when the expert marked a few frames only. A peak outside the frame is a miss.
    """
    hits = frames = no_peak = 0
    for index, mask in masks.items():
        if not 0 <= index < len(peaks) or not mask.any():
            continue
        if not peaks[index]:
            no_peak += 1
            continue
        frames += 1
        x, y = (int(math.floor(value)) for value in peaks[index][:2])
        hits += int(0 <= y < mask.shape[0] and 0 <= x < mask.shape[1] and bool(mask[y, x]))
    return PeakHits(hits=hits, frames=frames, no_peak=no_peak)


def _number(geometry: Mapping[str, Any], key: str) -> float:
    value = geometry.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise RegionError(f"The region's {key!r} must be a finite number.")
    return float(value)


def _points(raw: object, *, minimum: int) -> list[Point]:
    if not isinstance(raw, Sequence) or isinstance(raw, str) or not minimum <= len(raw) <= MAX_POINTS:
        raise RegionError(f"A region needs {minimum} to {MAX_POINTS} points.")
    points: list[Point] = []
    for point in raw:
        if not isinstance(point, Sequence) or isinstance(point, str) or len(point) != 2:
            raise RegionError("Every point must be an [x, y] pair.")
        points.append((_number({"x": point[0]}, "x"), _number({"y": point[1]}, "y")))
    return points


def _even_odd(points: NDArray[np.float64], grid_x: NDArray[np.float64], grid_y: NDArray[np.float64]) -> Mask:
    """Crossing-number test of every pixel centre against the closed polygon."""
    inside = np.zeros(grid_x.shape, dtype=np.bool_)
    for (x1, y1), (x2, y2) in zip(points, np.roll(points, -1, axis=0), strict=True):
        if y1 == y2:
            continue  # horizontal edges never cross a horizontal ray
        straddles = (y1 > grid_y) != (y2 > grid_y)
        crossing_x = x1 + (grid_y - y1) * (x2 - x1) / (y2 - y1)
        inside ^= straddles & (grid_x < crossing_x)
    return inside


def _near_polyline(
    points: NDArray[np.float64], radius: float, grid_x: NDArray[np.float64], grid_y: NDArray[np.float64]
) -> Mask:
    """Pixel centres within ``radius`` of any segment of the stroke (round caps and joins)."""
    near = np.zeros(grid_x.shape, dtype=np.bool_)
    for (x1, y1), (x2, y2) in zip(points[:-1], points[1:], strict=True):
        dx, dy = x2 - x1, y2 - y1
        length2 = dx * dx + dy * dy
        t = 0.0 if length2 == 0 else np.clip(((grid_x - x1) * dx + (grid_y - y1) * dy) / length2, 0, 1)
        near |= (grid_x - (x1 + t * dx)) ** 2 + (grid_y - (y1 + t * dy)) ** 2 <= radius * radius
    return near
