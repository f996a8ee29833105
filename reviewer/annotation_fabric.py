"""Read and build Fabric.js objects: where an object's points lie on the canvas, in display pixels.

Fabric.js reports each object by its origin, size, scale, rotation and stroke, not by where its
points are. Placing points by Fabric's own rules here keeps :mod:`reviewer.annotation_canvas` about
the conversion between display and stored pixels only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from reviewer.regions import Point

_ORIGIN = {"left": 0.0, "top": 0.0, "center": 0.5, "right": 1.0, "bottom": 1.0}


def outline(
    obj: dict[str, Any], points: list[Point], colour: str, fill: str | None, stroke: float
) -> dict[str, Any]:
    """Place a Fabric object by the top-left of its points' box, as :func:`placed` reads it back."""
    xs, ys = zip(*points, strict=True)
    return {
        **obj,
        "left": min(xs) - stroke / 2,
        "top": min(ys) - stroke / 2,
        "width": max(xs) - min(xs),
        "height": max(ys) - min(ys),
        "originX": "left",
        "originY": "top",
        "scaleX": 1,
        "scaleY": 1,
        "angle": 0,
        "fill": fill,
        "stroke": colour,
        "strokeWidth": stroke,
    }


def drawing_objects(drawing: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    """The objects of a canvas drawing; the browser may send none or junk, which reads as no objects."""
    objects = (drawing or {}).get("objects")
    return [obj for obj in objects if isinstance(obj, Mapping)] if isinstance(objects, list) else []


def finite_number(obj: Mapping[str, Any], key: str, default: float) -> float:
    """A numeric property, or ``default`` when it is missing, not a number or not finite."""
    value = obj.get(key, default)
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else default


def rect_corners(obj: Mapping[str, Any]) -> list[Point]:
    """A rectangle's four corners on the canvas, so a rotated one can become a polygon."""
    w, h = finite_number(obj, "width", 0.0) / 2, finite_number(obj, "height", 0.0) / 2
    return placed(obj, [(-w, -h), (w, -h), (w, h), (-w, h)], centred=True)


def raw_points(obj: Mapping[str, Any], kind: str) -> list[Point]:
    """Polygon vertices, or the on-curve points of a path (quadratic segments sampled at t = 0.5).

    A point that is not a pair of finite numbers makes the whole object junk (no points): the browser
    sends what it likes, and a shape with a vertex dropped would be another shape.
    """
    try:
        return _polygon_points(obj) if kind == "polygon" else _path_points(obj)
    except (KeyError, TypeError, ValueError):
        return []


def _polygon_points(obj: Mapping[str, Any]) -> list[Point]:
    raw = obj.get("points") or []
    return [(_finite(p["x"]), _finite(p["y"])) for p in raw if isinstance(p, Mapping)]


def _path_points(obj: Mapping[str, Any]) -> list[Point]:
    points: list[Point] = []
    for command in obj.get("path") or []:
        if not isinstance(command, Sequence) or len(command) < 3:
            continue
        if command[0] == "Q" and len(command) == 5 and points:
            (x0, y0), cx, cy, x1, y1 = points[-1], *map(_finite, command[1:5])
            points += [(0.25 * x0 + 0.5 * cx + 0.25 * x1, 0.25 * y0 + 0.5 * cy + 0.25 * y1), (x1, y1)]
        else:
            points.append((_finite(command[-2]), _finite(command[-1])))
    return points


def _finite(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"not a finite coordinate: {str(value)[:32]!r}")
    return float(value)


def placed(obj: Mapping[str, Any], points: list[Point], *, centred: bool = False) -> list[Point]:
    """Apply the object's scale, rotation and position (Fabric's origin and stroke rules) to points."""
    if not points:
        return []
    sx, sy = finite_number(obj, "scaleX", 1.0), finite_number(obj, "scaleY", 1.0)
    stroke = finite_number(obj, "strokeWidth", 0.0)
    w, h = finite_number(obj, "width", 0.0), finite_number(obj, "height", 0.0)
    outer = (
        (w * sx + stroke, h * sy + stroke)
        if obj.get("strokeUniform")
        else ((w + stroke) * sx, (h + stroke) * sy)
    )
    angle = math.radians(finite_number(obj, "angle", 0.0))
    cos, sin = math.cos(angle), math.sin(angle)
    ox = 0.5 - _ORIGIN.get(str(obj.get("originX", "center")), 0.5)
    oy = 0.5 - _ORIGIN.get(str(obj.get("originY", "center")), 0.5)
    dx, dy = ox * outer[0], oy * outer[1]
    cx = finite_number(obj, "left", 0.0) + dx * cos - dy * sin
    cy = finite_number(obj, "top", 0.0) + dx * sin + dy * cos
    if centred:
        mx = my = 0.0
    else:
        xs, ys = zip(*points, strict=True)
        mx, my = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2
    result = []
    for x, y in points:
        px, py = (x - mx) * sx, (y - my) * sy
        result.append((cx + px * cos - py * sin, cy + px * sin + py * cos))
    return result
