"""Translate between the drawing canvas (Fabric.js objects in display pixels) and stored pixels.

The canvas shows a frame scaled to fit the page, and Fabric.js reports each object by its origin,
size, scale, rotation and stroke; a crop or region must be stored in the pixels of the original video
(crops) or of the stored frame (regions). Doing this conversion here, as pure functions, keeps the
page thin and lets tests check the round trip canvas -> pixels -> canvas exactly. Where a Fabric
object's points lie on the canvas is worked out by :mod:`reviewer.annotation_fabric`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from reviewer.annotation_fabric import (
    drawing_objects,
    finite_number,
    outline,
    placed,
    raw_points,
    rect_corners,
)
from reviewer.frames import Crop
from reviewer.regions import Point, Shape
from reviewer.vocab import Pattern

_DIGITS = 2  # stored geometry keeps hundredths of a pixel: finer than any hand can draw
CROP_STROKE_PX = 2
OUTLINE_PX = 2  # outline of stored rectangles and polygons on the canvas, in display pixels
FILL_ALPHA = 0.25
# The canvas hands back only Fabric's own properties, so a shape's pattern travels as its stroke colour.
PATTERN_COLOURS: dict[Pattern, str] = {
    Pattern.A_LINES: "#00e5ff",
    Pattern.B_LINES: "#ff3d00",
    Pattern.CONSOLIDATION: "#ffea00",
    Pattern.EFFUSION: "#2979ff",
    Pattern.AIR_BRONCHOGRAM: "#76ff03",
    Pattern.PLEURAL_IRREGULAR: "#d500f9",
    Pattern.SKIN: "#ff80ab",
    Pattern.FAT: "#ffab40",
    Pattern.MUSCLE: "#a1887f",
    Pattern.RIB_SHADOW: "#e0e0e0",
    Pattern.OTHER: "#1de9b6",
}
_COLOUR_PATTERNS = {colour: pattern for pattern, colour in PATTERN_COLOURS.items()}
DrawnRegion = tuple[Pattern, Shape, dict[str, Any]]  # a region's pattern, shape and stored-pixel geometry


@dataclass(frozen=True, slots=True)
class Scale:
    """Display pixels per stored pixel, per axis (the canvas stretches the image to its size)."""

    x: float
    y: float

    @classmethod
    def fit(cls, width: int, height: int, box_px: int) -> Scale:
        """The scale that fits a ``width`` x ``height`` image into a ``box_px`` square, aspect kept."""
        factor = box_px / max(width, height)
        return cls(round(width * factor) / width, round(height * factor) / height)

    def length(self, stored_px: float) -> int:
        """A stored length (e.g. a brush width) in whole display pixels, at least one."""
        return max(1, round(stored_px * (self.x + self.y) / 2))

    def canvas_size(self, width: int, height: int) -> tuple[int, int]:
        """Canvas width and height in display pixels for an image of ``width`` x ``height``."""
        return round(width * self.x), round(height * self.y)


def pattern_colour(pattern: Pattern | str) -> str:
    """The stroke colour that marks a pattern's shapes on the canvas."""
    return PATTERN_COLOURS[Pattern(pattern)]


def pattern_fill(pattern: Pattern | str) -> str:
    """The translucent fill of a pattern's rectangles and polygons, so the frame stays visible."""
    red, green, blue = (int(pattern_colour(pattern)[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red}, {green}, {blue}, {FILL_ALPHA})"


def crop_drawing(crop: Crop, scale: Scale, colour: str) -> dict[str, Any]:
    """An initial drawing holding the crop as one movable, resizable rectangle."""
    box = {"x": crop.x, "y": crop.y, "w": crop.w, "h": crop.h}
    rect = _rect_object(box, scale, colour, "rgba(0, 0, 0, 0)", CROP_STROKE_PX)
    return {"objects": [{**rect, "lockRotation": True}]}


def regions_drawing(
    regions: Iterable[tuple[Pattern | str, Shape | str, Mapping[str, Any]]], scale: Scale
) -> dict[str, Any]:
    """An initial drawing holding stored regions as editable shapes, each in its pattern's colour.

    Loading what is stored onto the canvas is what lets an annotator move, reshape or delete a region;
    :func:`regions_from_drawing` reads the edited canvas back with the same geometry and patterns.
    """
    objects = []
    for pattern, shape, geometry in regions:
        colour, fill = pattern_colour(pattern), pattern_fill(pattern)
        if Shape(shape) is Shape.RECT:
            objects.append(_rect_object(geometry, scale, colour, fill, OUTLINE_PX))
            continue
        points = [(float(x) * scale.x, float(y) * scale.y) for x, y in geometry["points"]]
        if Shape(shape) is Shape.POLYGON:
            polygon = {
                "type": "polygon",
                "strokeUniform": True,
                "points": [{"x": x, "y": y} for x, y in points],
            }
            objects.append(outline(polygon, points, colour, fill, OUTLINE_PX))
        else:
            path = {
                "type": "path",
                "path": [["M" if i == 0 else "L", x, y] for i, (x, y) in enumerate(points)],
            }
            stroke = float(geometry["width"]) * (scale.x + scale.y) / 2
            shaped = {**path, "strokeLineCap": "round", "strokeLineJoin": "round", "strokeUniform": False}
            objects.append(outline(shaped, points, colour, None, stroke))
    return {"objects": objects}


def crop_from_drawing(
    drawing: Mapping[str, Any] | None, scale: Scale, width: int, height: int
) -> Crop | None:
    """The crop in original pixels from the last rectangle on the canvas, clipped to the frame.

    Returns None when the canvas holds no usable rectangle (the user deleted it), so the page can
    keep the previous crop and say so instead of guessing.
    """
    rects = [obj for obj in drawing_objects(drawing) if str(obj.get("type", "")).lower() == "rect"]
    if not rects:
        return None
    xs, ys = zip(*(_to_stored(p, scale) for p in rect_corners(rects[-1])), strict=True)
    left, top = max(0, _whole(min(xs))), max(0, _whole(min(ys)))
    right, bottom = min(width, _whole(max(xs))), min(height, _whole(max(ys)))
    if right <= left or bottom <= top:
        return None
    return Crop(left, top, right - left, bottom - top)


def regions_from_drawing(
    drawing: Mapping[str, Any] | None, scale: Scale, default: Pattern
) -> list[DrawnRegion]:
    """Rectangles, polygons and free-hand strokes in stored-frame pixels, in drawing order, with patterns.

    A shape's pattern is the one its stroke colour stands for; a shape in a colour no pattern uses
    takes ``default``, the pattern the annotator has chosen. Rotated rectangles become polygons; other
    Fabric objects (text, circles) are not regions and are left out. The geometry still has to pass
    :func:`reviewer.regions.checked_geometry`.
    """
    regions: list[DrawnRegion] = []
    for obj in drawing_objects(drawing):
        found = _shape(obj, scale)
        if found is not None:
            regions.append((_COLOUR_PATTERNS.get(str(obj.get("stroke", "")).lower(), default), *found))
    return regions


def _shape(obj: Mapping[str, Any], scale: Scale) -> tuple[Shape, dict[str, Any]] | None:
    kind = str(obj.get("type", "")).lower()
    if kind == "rect" and not finite_number(obj, "angle", 0.0) % 360:
        xs, ys = zip(*(_to_stored(p, scale) for p in rect_corners(obj)), strict=True)
        box = {"x": min(xs), "y": min(ys), "w": max(xs) - min(xs), "h": max(ys) - min(ys)}
        return Shape.RECT, {k: round(v, _DIGITS) for k, v in box.items()}
    if kind not in ("rect", "polygon", "path"):
        return None
    corners = rect_corners(obj) if kind == "rect" else placed(obj, raw_points(obj, kind))
    if not corners:  # junk points: no shape at all
        return None
    points = [[round(c, _DIGITS) for c in _to_stored(p, scale)] for p in corners]
    if kind == "path":
        stroke = finite_number(obj, "strokeWidth", 1.0) / ((scale.x + scale.y) / 2)
        return Shape.PATH, {"points": points, "width": round(stroke, _DIGITS)}
    return Shape.POLYGON, {"points": points}


def _rect_object(
    box: Mapping[str, Any], scale: Scale, colour: str, fill: str, stroke: float
) -> dict[str, Any]:
    """A Fabric rectangle over a stored ``x, y, w, h`` box (its outline drawn outside the box)."""
    x, y = float(box["x"]) * scale.x, float(box["y"]) * scale.y
    corners = [(x, y), (x + float(box["w"]) * scale.x, y + float(box["h"]) * scale.y)]
    return outline({"type": "rect", "strokeUniform": True}, corners, colour, fill, stroke)


def _whole(value: float) -> int:
    """Nearest whole pixel, halves up (Python's round() would send 250.5 and 251.5 the same way)."""
    return math.floor(value + 0.5)


def _to_stored(point: Point, scale: Scale) -> Point:
    return point[0] / scale.x, point[1] / scale.y
