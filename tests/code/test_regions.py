"""Region geometry rasterises to exactly the pixels whose centres lie inside; canvas <-> pixel maths."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from reviewer.annotation_canvas import (
    PATTERN_COLOURS,
    Scale,
    crop_drawing,
    crop_from_drawing,
    pattern_colour,
    regions_drawing,
    regions_from_drawing,
)
from reviewer.frames import Crop, apply_crop_and_resize
from reviewer.regions import PeakHits, RegionError, Shape, checked_geometry, peak_in_regions, rasterise, union
from reviewer.vocab import Pattern


def pixels(mask: np.ndarray) -> set[tuple[int, int]]:
    """The (x, y) positions of the pixels a mask holds."""
    return {(int(x), int(y)) for y, x in zip(*np.nonzero(mask), strict=True)}


def test_rectangle_holds_the_pixels_whose_centres_are_inside() -> None:
    mask = rasterise(Shape.RECT, {"x": 1, "y": 2, "w": 3, "h": 2}, 6, 5)
    assert mask.shape == (5, 6)
    assert pixels(mask) == {(x, y) for x in (1, 2, 3) for y in (2, 3)}
    half = rasterise(Shape.RECT, {"x": 0.6, "y": 0.4, "w": 1.0, "h": 0.2}, 4, 4)
    assert pixels(half) == {(1, 0)}  # centre (1.5, 0.5) is inside, (0.5, 0.5) is not


def test_polygon_triangle_is_exact_and_even_odd() -> None:
    triangle = rasterise(Shape.POLYGON, {"points": [[0, 0], [4, 0], [0, 4]]}, 5, 5)
    assert pixels(triangle) == {(x, y) for x in range(4) for y in range(4) if x + y + 1 < 4}
    square = [[1, 1], [5, 1], [5, 5], [1, 5]]
    assert pixels(rasterise(Shape.POLYGON, {"points": square}, 6, 6)) == {
        (x, y) for x in range(1, 5) for y in range(1, 5)
    }
    bow_tie = rasterise(Shape.POLYGON, {"points": [[0, 0], [4, 4], [4, 0], [0, 4]]}, 4, 4)
    assert (2, 0) not in pixels(bow_tie) and (0, 2) in pixels(bow_tie)


def test_free_hand_stroke_covers_its_width_around_the_line() -> None:
    stroke = rasterise(Shape.PATH, {"points": [[0, 2.5], [6, 2.5]], "width": 2}, 6, 5)
    assert pixels(stroke) == {(x, y) for x in range(6) for y in (1, 2, 3)}  # centres 1 px away count
    thin = rasterise(Shape.PATH, {"points": [[0, 2.5], [6, 2.5]], "width": 1.9}, 6, 5)
    assert pixels(thin) == {(x, 2) for x in range(6)}
    bend = rasterise(Shape.PATH, {"points": [[0.5, 0.5], [4.5, 0.5], [4.5, 4.5]], "width": 1}, 5, 5)
    assert pixels(bend) == {(x, 0) for x in range(5)} | {(4, y) for y in range(5)}


def test_union_and_peaks_inside_regions() -> None:
    left = rasterise(Shape.RECT, {"x": 0, "y": 0, "w": 2, "h": 4}, 4, 4)
    right = rasterise(Shape.RECT, {"x": 3, "y": 0, "w": 1, "h": 4}, 4, 4)
    both = union([left, right], 4, 4)
    assert pixels(both) == pixels(left) | pixels(right)
    hits = peak_in_regions([[1, 1], [2, 2], [3.7, 0.2], [0, 0]], {0: both, 1: both, 2: both, 7: both})
    assert hits == PeakHits(hits=2, frames=3) and hits.share == pytest.approx(2 / 3)
    assert peak_in_regions([[9, 9]], {0: both}) == PeakHits(0, 1)
    assert PeakHits(0, 0).share is None


@pytest.mark.parametrize(
    ("shape", "geometry", "message"),
    [
        ("circle", {}, "Unknown region shape"),
        (Shape.RECT, {"x": 0, "y": 0, "w": 0, "h": 3}, "positive width"),
        (Shape.RECT, {"x": "1", "y": 0, "w": 2, "h": 3}, "'x' must be a finite number"),
        (Shape.RECT, {"x": float("nan"), "y": 0, "w": 2, "h": 3}, "finite"),
        (Shape.RECT, {"x": 50, "y": 50, "w": 2, "h": 3}, "covers no pixel"),
        (Shape.POLYGON, {"points": [[0, 0], [3, 3]]}, "3 to 5000 points"),
        (Shape.POLYGON, {"points": [[0, 0], [3, 3], [1]]}, "[x, y] pair"),
        (Shape.PATH, {"points": [[0, 0], [3, 3]], "width": 0.1}, "pixels wide"),
        (Shape.PATH, {"points": "abc", "width": 2}, "points"),
    ],
)
def test_bad_geometry_is_refused(shape: str, geometry: dict[str, Any], message: str) -> None:
    with pytest.raises(RegionError, match=message.replace("[", r"\[").replace("]", r"\]")):
        checked_geometry(shape, geometry, 10, 10)


def test_checked_geometry_keeps_plain_floats() -> None:
    clean = checked_geometry(Shape.POLYGON, {"points": [(0, 0), (np.float64(4), 0), (0, 4)]}, 10, 10)
    assert clean == {"points": [[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]]}
    assert all(type(c) is float for point in clean["points"] for c in point)


@pytest.mark.parametrize(("width", "height", "box"), [(320, 240, 640), (640, 480, 400), (1000, 333, 512)])
def test_crop_round_trips_through_the_canvas(width: int, height: int, box: int) -> None:
    scale = Scale.fit(width, height, box)
    assert max(scale.canvas_size(width, height)) == box
    crop = Crop(40, 10, 200, 180)
    assert crop_from_drawing(crop_drawing(crop, scale, "#ff0"), scale, width, height) == crop


def test_moved_and_resized_rectangle_gives_the_crop_in_original_pixels() -> None:
    scale = Scale.fit(320, 240, 640)  # the canvas shows the frame twice as large
    moved = crop_drawing(Crop(40, 10, 200, 180), scale, "#ff0")
    rect = moved["objects"][0]
    rect.update(left=rect["left"] + 20, top=rect["top"] - 10, scaleX=1.25, scaleY=0.5)
    assert crop_from_drawing(moved, scale, 320, 240) == Crop(50, 5, 250, 90)
    rect.update(left=500.0)  # dragged past the right edge: clipped to the frame
    assert crop_from_drawing(moved, scale, 320, 240) == Crop(251, 5, 69, 90)
    assert crop_from_drawing({"objects": []}, scale, 320, 240) is None
    assert crop_from_drawing(None, scale, 320, 240) is None


def test_crop_from_the_canvas_is_applied_to_every_frame() -> None:
    frames = [np.full((240, 320, 3), shade, np.uint8) for shade in (10, 20)]
    for frame in frames:
        frame[5:95, 50:300] += 100  # the region the annotator boxed
    scale = Scale.fit(320, 240, 640)
    drawing = crop_drawing(Crop(50, 5, 250, 90), scale, "#ff0")
    crop = crop_from_drawing(drawing, scale, 320, 240)
    assert crop is not None
    cut = [apply_crop_and_resize(frame, crop, 32) for frame in frames]
    assert [int(c.min()) for c in cut] == [110, 120] and [int(c.max()) for c in cut] == [110, 120]


def test_browser_shapes_become_frame_pixel_geometry() -> None:
    """Objects as streamlit-drawable-canvas 0.13 sent them from Chromium (canvas 2x the frame)."""
    drawing = {
        "objects": [
            {"type": "rect", "left": 24, "top": 39, "width": 50, "height": 10, "originX": "left",
             "originY": "top", "scaleX": 1, "scaleY": 1, "strokeWidth": 2, "strokeUniform": True},
            {"type": "Polygon", "left": 50, "top": 45, "width": 60, "height": 50, "originX": "center",
             "originY": "center", "scaleX": 1, "scaleY": 1, "strokeWidth": 3,
             "points": [{"x": 20, "y": 20}, {"x": 80, "y": 20}, {"x": 80, "y": 70}]},
            {"type": "Path", "left": 130, "top": 70, "width": 60, "height": 40, "originX": "center",
             "originY": "center", "scaleX": 1, "scaleY": 1, "strokeWidth": 4,
             "path": [["M", 100, 50], ["Q", 100, 50, 130, 70], ["L", 160, 90]]},
            {"type": "Circle", "left": 0, "top": 0, "radius": 5},
        ]
    }  # fmt: skip
    shapes = regions_from_drawing(drawing, Scale(2.0, 2.0), Pattern.B_LINES)
    assert shapes == [  # no stroke colour of a pattern: the chosen pattern
        (Pattern.B_LINES, Shape.RECT, {"x": 12.5, "y": 20.0, "w": 25.0, "h": 5.0}),
        (Pattern.B_LINES, Shape.POLYGON, {"points": [[10.0, 10.0], [40.0, 10.0], [40.0, 35.0]]}),
        (
            Pattern.B_LINES,
            Shape.PATH,
            {"points": [[50.0, 25.0], [53.75, 27.5], [65.0, 35.0], [80.0, 45.0]], "width": 2.0},
        ),
    ]
    for _, shape, geometry in shapes:
        assert checked_geometry(shape, geometry, 112, 112) == geometry


@pytest.mark.parametrize(
    "junk",
    [
        {"type": "polygon", "points": [{"y": 1}, {"x": 5, "y": 5}, {"x": 9, "y": 1}]},
        {"type": "polygon", "points": [{"x": "a", "y": 1}, {"x": 5, "y": 5}, {"x": 9, "y": 1}]},
        {"type": "polygon", "points": [{"x": True, "y": 1}, {"x": 5, "y": 5}, {"x": 9, "y": 1}]},
        {"type": "path", "path": [["M", 1, 1], ["Q", None, 2, 3, 4]]},
        {"type": "path", "path": [["M", 1, 1], ["L", "NaN", 2]]},
        {"type": "path", "path": [["M", 1, 1], ["L", float("inf"), 2]]},
    ],
)
def test_junk_a_browser_could_send_is_left_out_not_a_crash(junk: dict[str, Any]) -> None:
    rect = {"type": "rect", "left": 0, "top": 0, "width": 10, "height": 10, "originX": "left"}
    shapes = regions_from_drawing({"objects": [junk, rect]}, Scale(1.0, 1.0), Pattern.B_LINES)
    assert [shape for _, shape, _ in shapes] == [Shape.RECT]


STORED: list[tuple[Pattern, Shape, dict[str, Any]]] = [
    (Pattern.B_LINES, Shape.RECT, {"x": 12.25, "y": 3.5, "w": 40.75, "h": 18.0}),
    (Pattern.CONSOLIDATION, Shape.POLYGON, {"points": [[5.5, 40.0], [60.0, 42.25], [30.0, 63.0]]}),
    (Pattern.A_LINES, Shape.PATH, {"points": [[2.0, 30.0], [20.5, 31.0], [40.0, 30.0]], "width": 3.0}),
    (Pattern.PLEURAL_IRREGULAR, Shape.PATH, {"points": [[10.0, 10.0], [10.0, 50.0]], "width": 1.5}),
]


def as_the_browser_sends(drawing: dict[str, Any]) -> dict[str, Any]:
    """Fabric's toObject keeps two decimals of every number; the component sends the result as JSON."""
    sent: dict[str, Any] = json.loads(json.dumps(drawing), parse_float=lambda text: round(float(text), 2))
    return sent


@pytest.mark.parametrize(("width", "height", "box"), [(64, 64, 448), (224, 224, 448), (70, 50, 448)])
def test_stored_regions_round_trip_through_the_canvas(width: int, height: int, box: int) -> None:
    scale = Scale.fit(width, height, box)
    drawing = as_the_browser_sends(regions_drawing(STORED, scale))
    back = regions_from_drawing(drawing, scale, Pattern.OTHER)
    assert [(p, s) for p, s, _ in back] == [(p, s) for p, s, _ in STORED]
    for (_, shape, stored), (_, _, drawn) in zip(STORED, back, strict=True):
        assert np.allclose(np.hstack(_numbers(drawn)), np.hstack(_numbers(stored)), atol=0.01)
        assert np.array_equal(rasterise(shape, drawn, width, height), rasterise(shape, stored, width, height))
    strokes = [obj["stroke"] for obj in drawing["objects"]]
    assert strokes == [PATTERN_COLOURS[p] for p, _, _ in STORED]


def test_moved_and_deleted_stored_shapes_come_back_moved_and_gone() -> None:
    scale = Scale.fit(64, 64, 448)  # 7 display pixels per frame pixel
    drawing = regions_drawing(STORED, scale)
    rect, polygon, *_ = drawing["objects"]
    rect["left"] += 14  # dragged 2 frame pixels right
    polygon.update(scaleX=2.0)  # stretched to twice its width around its left edge
    del drawing["objects"][2]  # the A-lines stroke deleted
    back = regions_from_drawing(drawing, scale, Pattern.OTHER)
    assert [p for p, _, _ in back] == [Pattern.B_LINES, Pattern.CONSOLIDATION, Pattern.PLEURAL_IRREGULAR]
    assert back[0][2] == {"x": 14.25, "y": 3.5, "w": 40.75, "h": 18.0}
    xs = [x for x, _ in back[1][2]["points"]]
    assert xs == pytest.approx([5.5, 114.5, 54.5], abs=0.01)  # the outline keeps its width: no drift


def test_every_pattern_has_its_own_colour() -> None:
    assert set(PATTERN_COLOURS) == set(Pattern)
    assert len({c.lower() for c in PATTERN_COLOURS.values()}) == len(Pattern)
    assert pattern_colour("b_lines") == PATTERN_COLOURS[Pattern.B_LINES]


def _numbers(geometry: dict[str, Any]) -> list[Any]:
    if "points" in geometry:
        return [np.ravel(geometry["points"]), [geometry.get("width", 0.0)]]
    return [[geometry[k] for k in ("x", "y", "w", "h")]]


def test_moved_scaled_and_rotated_shapes_follow_fabric_transforms() -> None:
    polygon = {"type": "polygon", "left": 100, "top": 100, "width": 20, "height": 20, "originX": "center",
               "originY": "center", "scaleX": 2, "scaleY": 1, "strokeWidth": 0,
               "points": [{"x": 0, "y": 0}, {"x": 20, "y": 0}, {"x": 20, "y": 20}]}  # fmt: skip
    ((_, _, moved),) = regions_from_drawing({"objects": [polygon]}, Scale(1.0, 1.0), Pattern.OTHER)
    assert moved == {"points": [[80.0, 90.0], [120.0, 90.0], [120.0, 110.0]]}
    rotated = {"type": "rect", "left": 10, "top": 10, "width": 4, "height": 2, "originX": "center",
               "originY": "center", "angle": 90, "strokeWidth": 0}  # fmt: skip
    ((_, shape, turned),) = regions_from_drawing({"objects": [rotated]}, Scale(1.0, 1.0), Pattern.OTHER)
    assert shape is Shape.POLYGON
    assert sorted(map(tuple, turned["points"])) == [(9.0, 8.0), (9.0, 12.0), (11.0, 8.0), (11.0, 12.0)]
