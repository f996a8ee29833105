"""The media of one blinded review item, ready to be embedded in the expert's page.

The page embeds every clip as hexadecimal text instead of serving files: no URL, file name or token
reaches the browser, and hex digits (0-9, a-f) cannot spell "train" or "test", so the whole page
can be checked for such words. Panels A and B pair their heatmap overlay with a clip of the same
sampled, cropped frames, so that an opacity slider can fade the heatmap in and out. The original
is never shown as uploaded (its burnt-in text and tags could unblind the expert): the "Video" panel is
its cleaned frames from the first sample to the last, in step with the samples
(:mod:`reviewer.review_original`), or the sampled frames if the original cannot be decoded.

Both clips are encoded once and then read from :mod:`reviewer.review_clip_cache`.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from sqlmodel import Session, col, select

from db.models import Frame, Video
from reviewer.frames import Crop
from reviewer.review_clip_cache import cached_clip
from reviewer.review_form import ReviewError, ReviewItem
from reviewer.review_original import CLEANING_VERSION, UndecodableOriginal, cleaned_original
from reviewer.settings import Settings
from reviewer.storage import resolve

MP4 = "video/mp4"
log = logging.getLogger(__name__)
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


@dataclass(frozen=True, slots=True)
class VideoSamples:
    """What the two clips of a video are made from: its row and its sampled frames, in order."""

    video: Video
    images: list[str]
    sources: list[int]


def player_media(*, session: Session, settings: Settings, item: ReviewItem) -> PlayerMedia:
    """Read (and on first use encode) the clips of an item the caller obtained from ``review_item``.

    Raises:
        ReviewError: when a file is missing, so the expert gets a message instead of a broken player.
    """
    samples = video_samples(session=session, video_id=item.video_id)
    if samples is None:
        raise ReviewError(UNAVAILABLE)
    try:
        frames_mp4, original_mp4 = video_clips(settings, samples)
        heat_a = _clip(settings, item.panel_a.overlay_path)
        heat_b = _clip(settings, item.panel_b.overlay_path)
    except (OSError, ValueError) as error:
        raise ReviewError(UNAVAILABLE) from error
    frames = Clip(MP4, frames_mp4.hex())
    return PlayerMedia(
        original=frames if original_mp4 is None else Clip(MP4, original_mp4.hex()),
        original_is_sampled=original_mp4 is None,
        frames=frames,
        heat_a=heat_a,
        heat_b=heat_b,
        frame_count=len(samples.images),
    )


def video_samples(*, session: Session, video_id: int) -> VideoSamples | None:
    """The video's row and sampled frames; None when it has none, so its clips cannot be made."""
    query = select(Frame.image_path, Frame.source_index).where(Frame.video_id == video_id)
    rows = list(session.exec(query.order_by(col(Frame.index))))
    video = session.get(Video, video_id)
    if not rows or video is None:
        return None
    return VideoSamples(video, [image for image, _ in rows], [source for _, source in rows])


def video_clips(settings: Settings, samples: VideoSamples) -> tuple[bytes, bytes | None]:
    """The sampled-frames clip and the cleaned original (None if undecodable), each encoded only once.

    The one way to both clips, for the player and for warming the cache when a study opens
    (:mod:`reviewer.review_warm`), so a warmed clip is exactly the one the player looks for.

    Raises:
        OSError, ValueError: when a file is missing or unreadable.
    """
    return _frames_clip(settings, samples.images, settings.sample_hz), _original(settings, samples)


def _clip(settings: Settings, relative: str) -> Clip:
    return Clip(MP4, resolve(settings, relative).read_bytes().hex())


def _original(settings: Settings, samples: VideoSamples) -> bytes | None:
    """The cleaned original, named after the cleaning, source bytes (SHA-256), crop, samples and settings.

    None when the original cannot be decoded: the panel then shows the sampled frames, with a note.
    """
    video, sources = samples.video, samples.sources
    crop = Crop(video.crop_x, video.crop_y, video.crop_w, video.crop_h)
    parts = [f"cleaning {CLEANING_VERSION}", video.checksum, repr(crop), repr(sources)]
    parts.append(str(video.overlay_removal))
    parts += [str(settings.sample_hz), str(settings.review_original_max_side)]
    parts.append(str(settings.review_original_max_fps))
    key = hashlib.sha256("\n".join(["original", *parts]).encode("utf-8")).hexdigest()
    path = resolve(settings, video.file_path)
    try:
        return cached_clip(
            settings,
            key,
            lambda: cleaned_original(path, crop, sources, settings, remove_overlays=video.overlay_removal),
        )
    except UndecodableOriginal as error:
        log.warning("video %s: showing the sampled frames as its original: %s", video.id, error)
        return None


def _frames_clip(settings: Settings, images: list[str], fps: float) -> bytes:
    """An H.264 clip of the sampled frames, encoded once and then kept under a content-derived name."""
    key = hashlib.sha256("\n".join([str(fps), *images]).encode("utf-8")).hexdigest()
    return cached_clip(
        settings, key, lambda: (np.stack([_rgb(resolve(settings, image)) for image in images]), fps)
    )


def _rgb(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise OSError(f"unreadable frame {path.name}")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
