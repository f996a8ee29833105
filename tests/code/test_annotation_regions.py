"""Regions stored as geometry and pixel-exact mask files, their overlay, and CAM peaks inside them."""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import Engine
from sqlmodel import Session

from db.models import AuditLog, CamAsset, ModelRun, Region
from db.session import session_scope
from reviewer.annotation import AnnotationError
from reviewer.annotation_canvas import Scale, regions_drawing, regions_from_drawing
from reviewer.annotation_history import video_audit
from reviewer.region_lookup import TINT_RGB, cam_peak_hits, frame_overlay, list_regions, region_masks
from reviewer.region_store import delete_region, replace_regions, save_regions
from reviewer.regions import PeakHits, Shape
from reviewer.settings import Settings
from reviewer.storage import resolve
from reviewer.vocab import Pattern
from tests.code import stock_annotation
from tests.code.stock import SIDE
from tests.code.stock_annotation import count_rows as rows

people, video_id = stock_annotation.people, stock_annotation.video_id  # shared fixtures


def draw(
    engine: Engine,
    settings: Settings,
    video_id: int,
    actor: int,
    shapes: Sequence[tuple[Shape, Mapping[str, object]]],
    *,
    frame: int = 0,
    pattern: str = "b_lines",
) -> list[Region]:
    """Save shapes on one frame as one unit of work."""
    with session_scope(engine) as session:
        return save_regions(
            session=session,
            settings=settings,
            video_id=video_id,
            frame_index=frame,
            pattern=pattern,
            shapes=shapes,
            actor_id=actor,
        )


def test_regions_are_stored_as_geometry_and_pixel_exact_masks(
    engine: Engine, settings: Settings, people: dict[str, int], video_id: int
) -> None:
    shapes: list[tuple[Shape, Mapping[str, object]]] = [
        (Shape.RECT, {"x": 2, "y": 3, "w": 4, "h": 2}),
        (Shape.POLYGON, {"points": [[10, 10], [20, 10], [20, 20], [10, 20]]}),
        (Shape.PATH, {"points": [[30.5, 40.5], [39.5, 40.5]], "width": 1}),
    ]
    stored = draw(engine, settings, video_id, people["ann"], shapes, frame=1)
    assert len(stored) == 3
    for region in stored:
        mask = np.asarray(Image.open(resolve(settings, region.mask_path or "")))
        assert mask.shape == (SIDE, SIDE) and set(np.unique(mask)) == {0, 255}
    with Session(engine) as session:
        listed = list_regions(session=session, video_id=video_id)
        masks = region_masks(session=session, settings=settings, video_id=video_id, pattern="b_lines")
        assert region_masks(session=session, settings=settings, video_id=video_id, pattern="a_lines") == {}
    assert [(r.frame_index, r.shape) for r in listed] == [(1, "rect"), (1, "polygon"), (1, "path")]
    assert listed[0].geometry == {"x": 2.0, "y": 3.0, "w": 4.0, "h": 2.0}
    expected = np.zeros((SIDE, SIDE), bool)
    expected[3:5, 2:6] = expected[10:20, 10:20] = expected[40, 30:40] = True
    assert list(masks) == [1] and np.array_equal(masks[1], expected)


def stored_asset(engine: Engine, video_id: int, peaks: list[list[int]]) -> int:
    """A CAM asset row of a finished run with the given per-frame peaks (no files needed here)."""
    with session_scope(engine) as session:
        run = ModelRun(status="done")
        session.add(run)
        session.flush()
        asset = CamAsset(
            run_id=int(run.id or 0),
            video_id=video_id,
            kind="train",
            target_class="covid",
            token=secrets.token_hex(16),
            raw_path="assets/x.npz",
            overlay_path="assets/x.mp4",
            peaks=peaks,
        )
        session.add(asset)
        session.flush()
        return int(asset.id or 0)


def test_cam_peaks_are_counted_inside_the_drawn_regions(
    engine: Engine, settings: Settings, people: dict[str, int], video_id: int
) -> None:
    draw(engine, settings, video_id, people["ann"], [(Shape.RECT, {"x": 0, "y": 0, "w": 8, "h": 8})])
    asset_id = stored_asset(engine, video_id, [[3, 5], [50, 50]])
    with Session(engine) as session:
        assert cam_peak_hits(session=session, settings=settings, asset_id=asset_id) == PeakHits(1, 1)
        assert cam_peak_hits(
            session=session, settings=settings, asset_id=asset_id, pattern="a_lines"
        ) == PeakHits(0, 0)


def test_frames_whose_cam_has_no_peak_are_not_counted_as_hits_or_misses(
    engine: Engine, settings: Settings, people: dict[str, int], video_id: int
) -> None:
    for frame in (0, 1):
        rect = {"x": 0, "y": 0, "w": 8, "h": 8}
        draw(engine, settings, video_id, people["ann"], [(Shape.RECT, rect)], frame=frame)
    # frame 0: no positive evidence, so no made-up (0, 0) inside the region
    asset_id = stored_asset(engine, video_id, [[], [50, 50]])
    with Session(engine) as session:
        hits = cam_peak_hits(session=session, settings=settings, asset_id=asset_id)
    assert (hits, hits.share) == (PeakHits(hits=0, frames=1, no_peak=1), 0.0)


def test_one_bad_shape_stores_no_region_and_no_file(
    engine: Engine, settings: Settings, people: dict[str, int], video_id: int
) -> None:
    files_before = sorted(p for p in Path(settings.home).rglob("*.png"))
    shapes: list[tuple[Shape, Mapping[str, object]]] = [
        (Shape.RECT, {"x": 2, "y": 3, "w": 4, "h": 2}),
        (Shape.POLYGON, {"points": [[0, 0], [1, 1]]}),
    ]
    with pytest.raises(AnnotationError, match="Shape 2: A region needs 3"):
        draw(engine, settings, video_id, people["ann"], shapes)
    assert rows(engine, Region) == 0 and rows(engine, AuditLog) == 0
    assert sorted(p for p in Path(settings.home).rglob("*.png")) == files_before
    for frame, message in [(7, "has no stored frame 7"), (0, "Unknown pattern")]:
        with pytest.raises(AnnotationError, match=message):
            draw(
                engine,
                settings,
                video_id,
                people["ann"],
                shapes[:1],
                frame=frame,
                pattern="b_lines" if frame else "x",
            )


def test_only_the_author_deletes_a_region_and_the_audit_keeps_it(
    engine: Engine, settings: Settings, people: dict[str, int], video_id: int
) -> None:
    rect: tuple[Shape, Mapping[str, object]] = (Shape.RECT, {"x": 1, "y": 1, "w": 5, "h": 5})
    (region,) = draw(engine, settings, video_id, people["ann"], [rect], pattern="consolidation")
    with session_scope(engine) as session, pytest.raises(AnnotationError, match="regions you drew yourself"):
        delete_region(session=session, region_id=int(region.id or 0), actor_id=people["bob"])
    with session_scope(engine) as session:
        delete_region(session=session, region_id=int(region.id or 0), actor_id=people["ann"])
    with Session(engine) as session:
        audit = video_audit(session=session, video_id=video_id)
    assert rows(engine, Region) == 0
    assert [(a.action, a.detail["geometry"]) for a in audit][-1] == (
        "region.delete",
        {"x": 1.0, "y": 1.0, "w": 5.0, "h": 5.0},
    )


def test_frame_overlay_tints_exactly_the_stored_regions(
    engine: Engine, settings: Settings, people: dict[str, int], video_id: int
) -> None:
    draw(engine, settings, video_id, people["ann"], [(Shape.RECT, {"x": 4, "y": 2, "w": 3, "h": 5})], frame=1)
    with Session(engine) as session:
        tinted = frame_overlay(session=session, settings=settings, video_id=video_id, frame_index=1)
        plain = frame_overlay(session=session, settings=settings, video_id=video_id, frame_index=0)
    grey = 40 + 60  # stock frame 1 is a flat grey of 100
    assert plain.shape == (SIDE, SIDE, 3) and set(np.unique(plain)) == {40}
    changed = np.any(tinted != grey, axis=2)
    expected = np.zeros((SIDE, SIDE), bool)
    expected[2:7, 4:7] = True
    assert np.array_equal(changed, expected)
    assert tuple(tinted[3, 5]) == tuple(round(grey * 0.55 + c * 0.45) for c in TINT_RGB)


def replace(
    engine: Engine,
    settings: Settings,
    video_id: int,
    actor: int,
    regions: Sequence[tuple[str, Shape, Mapping[str, Any]]],
    expected_ids: Sequence[int] | None = None,
) -> list[Region]:
    """Replace one's regions on frame 0 as one unit of work."""
    with session_scope(engine) as session:
        return replace_regions(
            session=session,
            settings=settings,
            video_id=video_id,
            frame_index=0,
            regions=regions,
            actor_id=actor,
            expected_ids=expected_ids,
        )


def test_replace_refuses_when_ones_regions_changed_since_the_canvas_opened(
    engine: Engine, settings: Settings, people: dict[str, int], video_id: int
) -> None:
    rect = {"x": 2.0, "y": 3.0, "w": 4.0, "h": 2.0}
    (seen,) = draw(engine, settings, video_id, people["ann"], [(Shape.RECT, rect)])
    (unseen,) = draw(engine, settings, video_id, people["ann"], [(Shape.RECT, rect)], pattern="a_lines")
    draw(engine, settings, video_id, people["bob"], [(Shape.RECT, rect)])  # others' regions do not count
    before = (stored(engine, video_id), rows(engine, AuditLog))
    with pytest.raises(AnnotationError, match="changed elsewhere"):
        replace(engine, settings, video_id, people["ann"], [], expected_ids=[int(seen.id or 0)])
    assert (stored(engine, video_id), rows(engine, AuditLog)) == before
    ids = [int(unseen.id or 0), int(seen.id or 0)]
    assert replace(engine, settings, video_id, people["ann"], [], expected_ids=ids) == []


def stored(engine: Engine, video_id: int) -> list[tuple[int, str, str, dict[str, object], int | None]]:
    with Session(engine) as session:
        return [
            (r.id, r.pattern, r.shape, r.geometry, r.user_id)
            for r in list_regions(session=session, video_id=video_id)
        ]


def test_replace_keeps_unchanged_regions_and_swaps_moved_or_deleted_ones(
    engine: Engine, settings: Settings, people: dict[str, int], video_id: int
) -> None:
    rect = {"x": 2.0, "y": 3.0, "w": 4.0, "h": 2.0}
    square = {"points": [[10.0, 10.0], [20.0, 10.0], [20.0, 20.0], [10.0, 20.0]]}
    (kept,) = draw(engine, settings, video_id, people["ann"], [(Shape.RECT, rect)])
    (moved,) = draw(
        engine, settings, video_id, people["ann"], [(Shape.POLYGON, square)], pattern="consolidation"
    )
    (others,) = draw(engine, settings, video_id, people["bob"], [(Shape.RECT, rect)], pattern="a_lines")
    audit_before = rows(engine, AuditLog)
    shifted = {"points": [[x + 5, y] for x, y in square["points"]]}
    stroke = {"points": [[30.0, 40.0], [40.0, 40.0]], "width": 2.0}
    result = replace(
        engine,
        settings,
        video_id,
        people["ann"],
        [
            (
                "b_lines",
                Shape.RECT,
                {**rect, "x": 2.004},
            ),  # what the canvas gives back for an untouched shape
            ("consolidation", Shape.POLYGON, shifted),
            ("a_lines", Shape.PATH, stroke),
        ],
    )
    assert result[0].id == kept.id and moved.id not in {r.id for r in result}
    after = stored(engine, video_id)
    assert [(p, s, g, u) for _, p, s, g, u in after] == [
        ("b_lines", "rect", rect, people["ann"]),
        ("a_lines", "rect", rect, people["bob"]),
        ("consolidation", "polygon", shifted, people["ann"]),
        ("a_lines", "path", stroke, people["ann"]),
    ]
    assert others.id in {i for i, *_ in after}
    with Session(engine) as session:
        audit = video_audit(session=session, video_id=video_id)[audit_before:]
        masks = region_masks(session=session, settings=settings, video_id=video_id, pattern="consolidation")
    assert [(a.action, a.detail["geometry"], a.detail["frame_index"]) for a in audit] == [
        ("region.add", shifted, 0),
        ("region.add", stroke, 0),
        ("region.delete", square, 0),
    ]
    expected = np.zeros((SIDE, SIDE), bool)
    expected[10:20, 15:25] = True
    assert np.array_equal(masks[0], expected)


def test_a_bad_shape_refuses_the_replace_and_leaves_the_old_regions(
    engine: Engine, settings: Settings, people: dict[str, int], video_id: int
) -> None:
    draw(engine, settings, video_id, people["ann"], [(Shape.RECT, {"x": 2, "y": 3, "w": 4, "h": 2})])
    before, audit_before = stored(engine, video_id), rows(engine, AuditLog)
    files_before = sorted(Path(settings.home).rglob("*.png"))
    new = ("b_lines", Shape.RECT, {"x": 9, "y": 9, "w": 3, "h": 3})
    cases: list[tuple[tuple[str, Shape, Mapping[str, Any]], str]] = [
        (("b_lines", Shape.POLYGON, {"points": [[0, 0]]}), "Shape 2: A region needs 3"),
        (("nodules", Shape.RECT, {"x": 1, "y": 1, "w": 3, "h": 3}), "Unknown pattern"),
    ]
    for bad, message in cases:
        with pytest.raises(AnnotationError, match=message):
            replace(engine, settings, video_id, people["ann"], [new, bad])
    assert stored(engine, video_id) == before and rows(engine, AuditLog) == audit_before
    assert sorted(Path(settings.home).rglob("*.png")) == files_before
    replace(engine, settings, video_id, people["ann"], [])  # an emptied canvas removes one's regions
    assert stored(engine, video_id) == [] and rows(engine, AuditLog) == audit_before + 1


def test_stored_regions_loaded_onto_the_canvas_and_saved_unchanged_stay_as_they_are(
    engine: Engine, settings: Settings, people: dict[str, int], video_id: int
) -> None:
    draw(engine, settings, video_id, people["ann"], [(Shape.RECT, {"x": 2.5, "y": 3.25, "w": 4, "h": 2})])
    stroke = (Shape.PATH, {"points": [[30.33, 40.5], [39.5, 41.17]], "width": 3})
    draw(engine, settings, video_id, people["ann"], [stroke], pattern="pleural_effusion")
    before, audit_before = stored(engine, video_id), rows(engine, AuditLog)
    scale = Scale.fit(SIDE, SIDE, 448)
    drawing = regions_drawing([(p, s, g) for _, p, s, g, _ in before], scale)
    back = regions_from_drawing(drawing, scale, Pattern.OTHER)
    assert [p for p, _, _ in back] == [Pattern.B_LINES, Pattern.EFFUSION]
    replace(engine, settings, video_id, people["ann"], back)
    assert stored(engine, video_id) == before and rows(engine, AuditLog) == audit_before
