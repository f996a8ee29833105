"""Read expert-drawn regions back: the list pages show, mask unions, the tinted frame and CAM peak hits.

Regions are drawn on the stored (cropped, resized) frames, the pixels the model and its CAMs see, so
"does the CAM peak inside the B-lines the expert marked?" is a direct lookup of the masks
:mod:`reviewer.region_store` wrote. The frame and pattern checks here are shared with that module, so
reading and writing refuse an unknown frame or pattern with the same message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image
from sqlmodel import Session, col, select

from db.models import CamAsset, Frame, Region, Video
from reviewer.annotation import AnnotationError, video_or_error
from reviewer.regions import Mask, PeakHits, peak_in_regions
from reviewer.settings import Settings
from reviewer.storage import resolve
from reviewer.study_base import row_id
from reviewer.video_io import Rgb
from reviewer.vocab import Pattern

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
        query = query.where(Region.pattern == pattern_or_error(pattern).value)
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
    _, frame = frame_or_error(session=session, video_id=video_id, frame_index=frame_index)
    pixels = frame_pixels(settings, frame).astype(np.float32)
    mask = region_masks(session=session, settings=settings, video_id=video_id).get(frame_index)
    if mask is not None and mask.shape == pixels.shape[:2]:
        pixels[mask] = pixels[mask] * (1 - TINT_ALPHA) + np.asarray(TINT_RGB, np.float32) * TINT_ALPHA
    return pixels.round().astype(np.uint8)


def cam_peak_hits(
    *, session: Session, settings: Settings, asset_id: int, pattern: Pattern | str | None = None
) -> PeakHits:
    """How often a CAM asset's per-frame peak lies inside the expert-drawn regions of its video.

    Frames whose map has no peak (stored as ``[]``) are counted apart in ``no_peak``, not as misses.

    Raises:
        AnnotationError: for an unknown CAM asset.
    """
    asset = session.get(CamAsset, asset_id)
    if asset is None:
        raise AnnotationError(f"There is no CAM asset with id {asset_id}.")
    masks = region_masks(session=session, settings=settings, video_id=asset.video_id, pattern=pattern)
    return peak_in_regions(asset.peaks, masks)


def frame_or_error(*, session: Session, video_id: int, frame_index: int) -> tuple[Video, Frame]:
    """The video and its stored frame, so regions are only ever drawn on or read from a real frame.

    Raises:
        AnnotationError: for an unknown video, or a frame index the video has not stored.
    """
    video = video_or_error(session=session, video_id=video_id)
    frame = session.exec(select(Frame).where(Frame.video_id == video_id, Frame.index == frame_index)).first()
    if frame is None:
        raise AnnotationError(f"Video {video_id} has no stored frame {frame_index}.")
    return video, frame


def pattern_or_error(pattern: Pattern | str) -> Pattern:
    """The pattern a page or canvas names, refused in a short message rather than a bare ValueError.

    Raises:
        AnnotationError: for a name that is not a pattern of the vocabulary.
    """
    try:
        return Pattern(pattern)
    except ValueError as exc:
        raise AnnotationError(f"Unknown pattern {str(pattern)[:32]!r}.") from exc


def frame_pixels(settings: Settings, frame: Frame) -> Rgb:
    """The stored frame as RGB pixels; a missing file is a clear refusal, not a crash.

    Raises:
        AnnotationError: when the frame file is missing or unreadable.
    """
    try:
        with Image.open(resolve(settings, frame.image_path)) as image:
            return np.asarray(image.convert("RGB"), dtype=np.uint8)
    except (OSError, ValueError) as exc:
        raise AnnotationError("The frame image is missing from the data folder.") from exc
