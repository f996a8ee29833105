"""Store expert-drawn regions: geometry in the database, a mask PNG beside the frames.

Regions are drawn on the stored (cropped, resized) frames, the pixels the model and its CAMs see;
:mod:`reviewer.region_lookup` reads them back. Saving the shapes of one frame is one action: every
row, mask file and audit entry is written in the caller's transaction and vanishes with it if any
shape is refused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import numpy as np
from sqlmodel import Session, col, select

from db.models import Frame, Region
from reviewer.annotation import AnnotationError
from reviewer.audit import record
from reviewer.region_lookup import frame_or_error, frame_pixels, pattern_or_error
from reviewer.regions import RegionError, Shape, checked_geometry, rasterise
from reviewer.settings import Settings
from reviewer.storage import frame_path, write_png
from reviewer.study_base import row_id
from reviewer.vocab import Pattern

MAX_SHAPES = 50  # per save: more is a runaway canvas, not an annotation
STALE_REGIONS = (
    "Your regions on this frame were changed elsewhere (another tab?) since this canvas opened, so nothing "
    "was saved. Reload the stored regions, then draw your changes again."
)
SAME_PX = 0.05  # a coordinate that moved less than this came back unchanged from the canvas


def save_regions(
    *,
    session: Session,
    settings: Settings,
    video_id: int,
    frame_index: int,
    pattern: Pattern | str,
    shapes: Sequence[tuple[Shape | str, Mapping[str, Any]]],
    actor_id: int | None,
) -> list[Region]:
    """Store shapes drawn on one frame for one pattern, each with its rasterised mask.

    Raises:
        AnnotationError: for an unknown video, frame or pattern, no or too many shapes, or a shape
            whose geometry is invalid (the message says which one).
    """
    video, frame = frame_or_error(session=session, video_id=video_id, frame_index=frame_index)
    kind = pattern_or_error(pattern)
    if not 0 < len(shapes) <= MAX_SHAPES:
        raise AnnotationError(f"Draw 1 to {MAX_SHAPES} shapes before saving.")
    height, width = frame_pixels(settings, frame).shape[:2]
    target = _Target(frame, frame_path(settings, video.checksum, frame_index).parent, width, height)
    checked = [
        _checked(number, shape, geometry, width, height) for number, (shape, geometry) in enumerate(shapes, 1)
    ]
    stored = [
        _store(session, settings, target, kind, shape, geometry, actor_id) for shape, geometry in checked
    ]
    session.flush()
    return stored


def replace_regions(
    *,
    session: Session,
    settings: Settings,
    video_id: int,
    frame_index: int,
    regions: Sequence[tuple[Pattern | str, Shape | str, Mapping[str, Any]]],
    actor_id: int,
    expected_ids: Sequence[int] | None = None,
) -> list[Region]:
    """Make one's own regions on one frame exactly ``regions``, the edited canvas, in one action.

    A region that came back unchanged keeps its row, id and mask; one that was moved, reshaped or
    deleted is removed with an audit row holding its old geometry, and what is new is added as by
    :func:`save_regions`. Other people's regions on the frame are left alone. Every shape is checked
    before anything is written, so a refusal leaves the stored regions as they were.

    ``expected_ids`` are the ids of one's regions on the frame when the canvas opened with them. If the
    stored ones differ (saved from another tab since), the save is refused: the canvas never showed
    them, and replacing would delete them unseen.

    Raises:
        AnnotationError: for an unknown video, frame or pattern, too many shapes, a shape whose
            geometry is invalid (the message says which one), or regions changed since the canvas opened.
    """
    video, frame = frame_or_error(session=session, video_id=video_id, frame_index=frame_index)
    if len(regions) > MAX_SHAPES:
        raise AnnotationError(f"Keep at most {MAX_SHAPES} shapes on one frame.")
    height, width = frame_pixels(settings, frame).shape[:2]
    target = _Target(frame, frame_path(settings, video.checksum, frame_index).parent, width, height)
    wanted = [
        (pattern_or_error(pattern), *_checked(number, shape, geometry, width, height))
        for number, (pattern, shape, geometry) in enumerate(regions, 1)
    ]
    old = list(
        session.exec(
            select(Region)
            .where(Region.frame_id == frame.id, Region.user_id == actor_id)
            .order_by(col(Region.id))
        )
    )
    if expected_ids is not None and sorted(row_id(r) for r in old) != sorted(expected_ids):
        raise AnnotationError(STALE_REGIONS)
    result: list[Region] = []
    for kind, shape, geometry in wanted:
        same = next((r for r in old if _unchanged(r, kind, shape, geometry)), None)
        if same is not None:
            old.remove(same)
        result.append(same or _store(session, settings, target, kind, shape, geometry, actor_id))
    for gone in old:
        _audit(session, gone, "region.delete", frame_index, actor_id)
        session.delete(gone)
    session.flush()
    return result


def delete_region(*, session: Session, region_id: int, actor_id: int) -> None:
    """Remove one's own region; the audit row keeps its geometry, so nothing drawn is lost.

    Raises:
        AnnotationError: for an unknown region or one drawn by someone else.
    """
    region = session.get(Region, region_id)
    if region is None or region.user_id != actor_id:
        raise AnnotationError("Only regions you drew yourself can be removed.")
    _audit(session, region, "region.delete", None, actor_id)
    session.delete(region)
    session.flush()


@dataclass(frozen=True, slots=True)
class _Target:
    """The frame regions are drawn on: its row, the folder of its files and its size in pixels."""

    frame: Frame
    folder: PurePosixPath
    width: int
    height: int


def _store(
    session: Session,
    settings: Settings,
    target: _Target,
    kind: Pattern,
    shape: Shape,
    geometry: dict[str, Any],
    actor_id: int | None,
) -> Region:
    """Write one checked shape: its row first (the mask file is named by its id), then mask and audit."""
    region = Region(
        video_id=target.frame.video_id,
        frame_id=target.frame.id,
        pattern=kind.value,
        shape=shape.value,
        geometry=geometry,
        user_id=actor_id,
    )
    session.add(region)
    session.flush()
    mask = rasterise(shape, geometry, target.width, target.height).astype(np.uint8) * 255
    relative = target.folder / f"region_{row_id(region):06d}.png"
    region.mask_path = write_png(session=session, settings=settings, relative=relative, image=mask)
    session.add(region)
    _audit(session, region, "region.add", target.frame.index, actor_id)
    return region


def _checked(
    number: int, shape: Shape | str, geometry: Mapping[str, Any], width: int, height: int
) -> tuple[Shape, dict[str, Any]]:
    """Check one shape before anything is written, naming it in the message."""
    try:
        clean = checked_geometry(shape, geometry, width, height)
    except RegionError as exc:
        raise AnnotationError(f"Shape {number}: {exc}") from exc
    return Shape(shape), clean


def _unchanged(region: Region, kind: Pattern, shape: Shape, geometry: Mapping[str, Any]) -> bool:
    """The stored region is this shape: same pattern and kind, every coordinate within ``SAME_PX``."""
    return (region.pattern, region.shape) == (kind.value, shape.value) and _close(region.geometry, geometry)


def _close(stored: object, drawn: object) -> bool:
    if isinstance(stored, Mapping) and isinstance(drawn, Mapping):
        return stored.keys() == drawn.keys() and all(_close(stored[k], drawn[k]) for k in stored)
    if isinstance(stored, list) and isinstance(drawn, list):
        return len(stored) == len(drawn) and all(_close(a, b) for a, b in zip(stored, drawn, strict=True))
    return (
        isinstance(stored, int | float) and isinstance(drawn, int | float) and abs(stored - drawn) < SAME_PX
    )


def _audit(
    session: Session, region: Region, action: str, frame_index: int | None, actor_id: int | None
) -> None:
    """Audit a region with its full geometry, so even a removed region can be reconstructed."""
    record(
        session=session,
        action=action,
        entity="video",
        entity_id=region.video_id,
        user_id=actor_id,
        region_id=region.id,
        frame_index=frame_index,
        pattern=region.pattern,
        shape=region.shape,
        geometry=region.geometry,
    )
