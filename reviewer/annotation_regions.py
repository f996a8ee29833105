"""Store and read expert-drawn regions: geometry in the database, a mask PNG beside the frames.

Regions are drawn on the stored (cropped, resized) frames, the pixels the model and its CAMs see, so
"does the CAM peak inside the B-lines the expert marked?" is a direct lookup. Saving the shapes of
one frame is one action: every row, mask file and audit entry is written in the caller's
transaction and vanishes with it if any shape is refused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import numpy as np
from PIL import Image
from sqlmodel import Session, col, select

from db.models import CamAsset, Frame, Region, Video
from reviewer.annotation import AnnotationError, video_or_error
from reviewer.audit import record
from reviewer.regions import Mask, PeakHits, RegionError, Shape, checked_geometry, peak_in_regions, rasterise
from reviewer.settings import Settings
from reviewer.storage import frame_path, resolve, write_png
from reviewer.study_base import row_id
from reviewer.video_io import Rgb
from reviewer.vocab import Pattern

MAX_SHAPES = 50  # per save: more is a runaway canvas, not an annotation
SAME_PX = 0.05  # a coordinate that moved less than this came back unchanged from the canvas
TINT_RGB = (0, 229, 255)  # the canvas' region colour, so stored and new regions look alike
TINT_ALPHA = 0.45


@dataclass(frozen=True, slots=True)
class RegionInfo:
    """A stored region as pages list it."""

    id: int
    frame_index: int
    pattern: str
    shape: str
    geometry: dict[str, Any]
    user_id: int | None


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
    video, frame = _frame(session, video_id, frame_index)
    kind = _pattern(pattern)
    if not 0 < len(shapes) <= MAX_SHAPES:
        raise AnnotationError(f"Draw 1 to {MAX_SHAPES} shapes before saving.")
    height, width = _load_frame(settings, frame).shape[:2]
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
) -> list[Region]:
    """Make one's own regions on one frame exactly ``regions``, the edited canvas, in one action.

    A region that came back unchanged keeps its row, id and mask; one that was moved, reshaped or
    deleted is removed with an audit row holding its old geometry, and what is new is added as by
    :func:`save_regions`. Other people's regions on the frame are left alone. Every shape is checked
    before anything is written, so a refusal leaves the stored regions as they were.

    Raises:
        AnnotationError: for an unknown video, frame or pattern, too many shapes, or a shape whose
            geometry is invalid (the message says which one).
    """
    video, frame = _frame(session, video_id, frame_index)
    if len(regions) > MAX_SHAPES:
        raise AnnotationError(f"Keep at most {MAX_SHAPES} shapes on one frame.")
    height, width = _load_frame(settings, frame).shape[:2]
    target = _Target(frame, frame_path(settings, video.checksum, frame_index).parent, width, height)
    wanted = [
        (_pattern(pattern), *_checked(number, shape, geometry, width, height))
        for number, (pattern, shape, geometry) in enumerate(regions, 1)
    ]
    old = list(
        session.exec(
            select(Region)
            .where(Region.frame_id == frame.id, Region.user_id == actor_id)
            .order_by(col(Region.id))
        )
    )
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


def list_regions(*, session: Session, video_id: int) -> list[RegionInfo]:
    """Every region of a video, by frame and in drawing order."""
    rows = session.exec(
        select(Region, Frame.index)
        .join(Frame, col(Frame.id) == col(Region.frame_id))
        .where(Region.video_id == video_id)
        .order_by(col(Frame.index), col(Region.id))
    ).all()
    return [
        RegionInfo(row_id(r), index, r.pattern, r.shape, dict(r.geometry), r.user_id) for r, index in rows
    ]


def region_masks(
    *, session: Session, settings: Settings, video_id: int, pattern: Pattern | str | None = None
) -> dict[int, Mask]:
    """The union of a video's stored region masks per frame index, optionally for one pattern."""
    query = (
        select(Region.mask_path, Frame.index)
        .join(Frame, col(Frame.id) == col(Region.frame_id))
        .where(Region.video_id == video_id)
    )
    if pattern is not None:
        query = query.where(Region.pattern == _pattern(pattern).value)
    masks: dict[int, Mask] = {}
    for path, index in session.exec(query):
        if path is None:
            continue
        mask = np.asarray(Image.open(resolve(settings, path))) > 0
        masks[index] = masks[index] | mask if index in masks else mask
    return masks


def frame_overlay(*, session: Session, settings: Settings, video_id: int, frame_index: int) -> Rgb:
    """The stored frame with every stored region tinted, so annotators see what is already marked.

    Raises:
        AnnotationError: for an unknown video or frame, or a missing frame file.
    """
    _, frame = _frame(session, video_id, frame_index)
    pixels = _load_frame(settings, frame).astype(np.float32)
    mask = region_masks(session=session, settings=settings, video_id=video_id).get(frame_index)
    if mask is not None and mask.shape == pixels.shape[:2]:
        pixels[mask] = pixels[mask] * (1 - TINT_ALPHA) + np.asarray(TINT_RGB, np.float32) * TINT_ALPHA
    return pixels.round().astype(np.uint8)


def cam_peak_hits(
    *, session: Session, settings: Settings, asset_id: int, pattern: Pattern | str | None = None
) -> PeakHits:
    """How often a CAM asset's per-frame peak lies inside the expert-drawn regions of its video.

    Raises:
        AnnotationError: for an unknown CAM asset.
    """
    asset = session.get(CamAsset, asset_id)
    if asset is None:
        raise AnnotationError(f"There is no CAM asset with id {asset_id}.")
    masks = region_masks(session=session, settings=settings, video_id=asset.video_id, pattern=pattern)
    return peak_in_regions(asset.peaks, masks)


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


def _frame(session: Session, video_id: int, frame_index: int) -> tuple[Video, Frame]:
    video = video_or_error(session=session, video_id=video_id)
    frame = session.exec(select(Frame).where(Frame.video_id == video_id, Frame.index == frame_index)).first()
    if frame is None:
        raise AnnotationError(f"Video {video_id} has no stored frame {frame_index}.")
    return video, frame


def _pattern(pattern: Pattern | str) -> Pattern:
    try:
        return Pattern(pattern)
    except ValueError as exc:
        raise AnnotationError(f"Unknown pattern {str(pattern)[:32]!r}.") from exc


def _load_frame(settings: Settings, frame: Frame) -> Rgb:
    """The stored frame as RGB pixels; a missing file is a clear refusal, not a crash."""
    try:
        with Image.open(resolve(settings, frame.image_path)) as image:
            return np.asarray(image.convert("RGB"), dtype=np.uint8)
    except (OSError, ValueError) as exc:
        raise AnnotationError("The frame image is missing from the data folder.") from exc
