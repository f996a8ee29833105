"""The media of one blinded review item, ready to be embedded in the expert's page.

The page embeds every clip as hexadecimal text instead of serving files: no URL, file name or token
reaches the browser, and hex digits (0-9, a-f) cannot spell "train" or "test", so the whole page
can be checked for such words. Panels A and B pair their heatmap overlay with a clip of the same
sampled, cropped frames, so that an opacity slider can fade the heatmap in and out; the original
video is shown as stored when a browser can play it, else as the sampled frames.

The frame clips are a cache under home: reading a clip refreshes its modification time, and the cache
is pruned (clips unread for ``review_clip_keep_days``, then the least recently read above
``review_clip_cache_mb``) whenever a clip is written, and otherwise at most every few minutes.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import secrets
import time
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
PRUNE_EVERY_SECONDS = 10 * 60
"""Serving a cached clip prunes the cache at most this often per process: a scan of one folder."""
_CLIP_NAME = re.compile(r"[0-9a-f]{64}(?P<partial>\.[0-9a-f]{8})?\.mp4")
_last_prune: dict[Path, float] = {}
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
class PrunedClip:
    """One deleted cache file and why: ``unused`` (older than the keep days) or ``over size``."""

    name: str
    bytes: int
    reason: str


@dataclass(frozen=True, slots=True)
class _Cached:
    path: Path
    bytes: int
    mtime: float
    partial: bool


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
        frames = Clip(MP4, _frames_clip(settings, images, settings.sample_hz).hex())
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


def _frames_clip(settings: Settings, images: list[str], fps: float) -> bytes:
    """An H.264 clip of the sampled frames, encoded once and then kept under a content-derived name.

    Written to a temporary name and renamed, so two experts opening the same video at once never
    read a half-written clip and pruning never sees one. A clip pruned while being served is encoded
    again rather than shown as unavailable.
    """
    key = hashlib.sha256("\n".join([str(fps), *images]).encode("utf-8")).hexdigest()
    path = resolve(settings, f"{CLIP_CACHE}/{key}.mp4")
    try:
        os.utime(path)  # "used" means read: pruning goes by this time
        data = path.read_bytes()
    except FileNotFoundError:
        pass
    else:
        _prune_now_and_then(settings, due=False)
        return data
    rgb = np.stack([_rgb(resolve(settings, image)) for image in images])
    partial = path.with_name(f"{key}.{secrets.token_hex(4)}.mp4")
    try:
        data = write_h264(rgb, fps, partial).read_bytes()
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    _prune_now_and_then(settings, due=True)
    return data


def prune_clip_cache(settings: Settings) -> list[PrunedClip]:
    """Delete clips unread for ``review_clip_keep_days``, then the least recently read above the cap.

    Clips are only a cache (each is encoded again when next needed), but nothing else ever deletes
    them. Half-written clips (temporary names) count neither towards the cap nor as least recently
    read; only one left behind by a crashed writer, untouched for the keep days, is deleted.
    """
    folder = resolve(settings, CLIP_CACHE)
    cutoff = time.time() - settings.review_clip_keep_days * 86_400
    cached = sorted(_scan(folder), key=lambda c: c.mtime)  # least recently read first
    doomed = [(c, "unused") for c in cached if c.mtime < cutoff]
    kept = [c for c in cached if c.mtime >= cutoff and not c.partial]
    excess = sum(c.bytes for c in kept) - settings.review_clip_cache_mb * 1024 * 1024
    for clip in kept:
        if excess <= 0:
            break
        doomed.append((clip, "over size"))
        excess -= clip.bytes
    _last_prune[folder] = time.monotonic()
    for clip, _ in doomed:
        clip.path.unlink(missing_ok=True)
    return [PrunedClip(c.path.name, c.bytes, reason) for c, reason in doomed]


def _prune_now_and_then(settings: Settings, *, due: bool) -> None:
    """Prune after a write, or when this process has not pruned for a while; never fail the page."""
    last = _last_prune.get(resolve(settings, CLIP_CACHE))
    if not due and last is not None and time.monotonic() - last < PRUNE_EVERY_SECONDS:
        return
    try:
        prune_clip_cache(settings)
    except OSError:
        log.warning("could not prune the review-clip cache", exc_info=True)


def _scan(folder: Path) -> list[_Cached]:
    """The cache's clips and half-written clips; other files and vanished entries are left alone."""
    if not folder.is_dir():
        return []
    with os.scandir(folder) as entries:
        files = [entry for entry in entries if entry.is_file(follow_symlinks=False)]
    found: list[_Cached] = []
    for entry in files:
        if (match := _CLIP_NAME.fullmatch(entry.name)) is None:
            continue
        try:
            stat = entry.stat(follow_symlinks=False)
        except FileNotFoundError:  # renamed or pruned by another process meanwhile
            continue
        found.append(_Cached(Path(entry.path), stat.st_size, stat.st_mtime, partial=bool(match["partial"])))
    return found


def _rgb(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise OSError(f"unreadable frame {path.name}")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
