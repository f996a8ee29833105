"""The review-clip cache: encode a clip once under a content-derived name, read it after, prune it.

Clips (the sampled frames and the cleaned original of every reviewed video) live under home in
``cache/review-clips``. Reading a clip refreshes its modification time, and the cache is pruned
(clips unread for ``review_clip_keep_days``, then the least recently read above
``review_clip_cache_mb``) whenever a clip is written, and otherwise at most every few minutes.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reviewer.encode import write_h264
from reviewer.settings import Settings
from reviewer.storage import resolve

CLIP_CACHE = "cache/review-clips"
PRUNE_EVERY_SECONDS = 10 * 60
"""Serving a cached clip prunes the cache at most this often per process: a scan of one folder."""
_CLIP_NAME = re.compile(r"[0-9a-f]{64}(?P<partial>\.[0-9a-f]{8})?\.mp4")
_last_prune: dict[Path, float] = {}
log = logging.getLogger(__name__)


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


def cached_clip(settings: Settings, key: str, frames: Callable[[], tuple[np.ndarray, float]]) -> bytes:
    """The cached clip named ``key``, else the ``(frames, fps)`` that ``frames`` builds, encoded and kept.

    Written to a temporary name and renamed, so two experts opening the same video at once never
    read a half-written clip and pruning never sees one. A clip pruned while being served is encoded
    again rather than shown as unavailable.
    """
    path = resolve(settings, f"{CLIP_CACHE}/{key}.mp4")
    try:
        os.utime(path)  # "used" means read: pruning goes by this time
        data = path.read_bytes()
    except FileNotFoundError:
        pass
    else:
        _prune_now_and_then(settings, due=False)
        return data
    rgb, fps = frames()
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
