"""The media of one blinded review item, ready to be embedded in the expert's page.

The page embeds every clip as hexadecimal text instead of serving files: no URL, file name or token
reaches the browser, and hex digits (0-9, a-f) cannot spell "train" or "test", so the whole page
can be checked for such words. Panels A and B pair their heatmap overlay with a clip of the same
sampled, cropped frames, so that an opacity slider can fade the heatmap in and out; the original
video is shown as stored when a browser can play it, else as the sampled frames.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import cv2
import numpy as np
from sqlmodel import Session, col, select

from db.models import Frame
from reviewer.catalog_files import VIDEO_MIME
from reviewer.encode import write_h264
from reviewer.review_form import ReviewError, ReviewItem
from reviewer.settings import Settings
from reviewer.storage import resolve

MP4 = "video/mp4"
MAX_ORIGINAL_BYTES = 16 * 1024 * 1024
"""Larger originals are shown as their sampled frames: hex doubles the bytes the browser receives."""
CLIP_CACHE = "cache/review-clips"
UNAVAILABLE = "This video's files are unavailable; please tell the study administrator."


@dataclass(frozen=True, slots=True)
class Clip:
    """One playable video as its MIME type and its bytes in hexadecimal."""

    mime: str
    hex: str


@dataclass(frozen=True, slots=True)
class PlayerMedia:
    """The three panels of an item; ``frame_count`` sampled frames span every clip but the original."""

    original: Clip
    original_is_sampled: bool
    frames: Clip
    heat_a: Clip
    heat_b: Clip
    frame_count: int


def player_media(*, session: Session, settings: Settings, item: ReviewItem) -> PlayerMedia:
    """Read (and on first use encode) the clips of an item the caller obtained from ``review_item``.

    Raises:
        ReviewError: when a file is missing, so the expert gets a message instead of a broken player.
    """
    query = select(Frame.image_path).where(Frame.video_id == item.video_id).order_by(col(Frame.index))
    images = list(session.exec(query))
    if not images:
        raise ReviewError(UNAVAILABLE)
    try:
        frames = Clip(MP4, _frames_clip(settings, images, settings.sample_hz).read_bytes().hex())
        heat_a = _clip(settings, item.panel_a.overlay_path)
        heat_b = _clip(settings, item.panel_b.overlay_path)
        original = _original(settings, item.video_path)
    except (OSError, ValueError) as error:
        raise ReviewError(UNAVAILABLE) from error
    return PlayerMedia(
        original=original or frames,
        original_is_sampled=original is None,
        frames=frames,
        heat_a=heat_a,
        heat_b=heat_b,
        frame_count=len(images),
    )


def _clip(settings: Settings, relative: str) -> Clip:
    return Clip(MP4, resolve(settings, relative).read_bytes().hex())


def _original(settings: Settings, relative: str) -> Clip | None:
    """The stored original if browsers play its format and it is small enough to embed."""
    mime = VIDEO_MIME.get(PurePosixPath(relative).suffix.lower())
    path = resolve(settings, relative)
    if mime is None or path.stat().st_size > MAX_ORIGINAL_BYTES:
        return None
    return Clip(mime, path.read_bytes().hex())


def _frames_clip(settings: Settings, images: list[str], fps: float) -> Path:
    """An H.264 clip of the sampled frames, encoded once and then kept under a content-derived name.

    Written to a temporary name and renamed, so two experts opening the same video at once never
    read a half-written clip.
    """
    key = hashlib.sha256("\n".join([str(fps), *images]).encode("utf-8")).hexdigest()
    path = resolve(settings, f"{CLIP_CACHE}/{key}.mp4")
    if path.exists():
        return path
    rgb = np.stack([_rgb(resolve(settings, image)) for image in images])
    partial = path.with_name(f"{key}.{secrets.token_hex(4)}.mp4")
    try:
        write_h264(rgb, fps, partial)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def _rgb(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise OSError(f"unreadable frame {path.name}")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
