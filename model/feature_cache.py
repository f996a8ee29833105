"""On-disk cache of trunk features per frame and augmented copy, memory-mapped, self-checking.

Filling the cache is the only place the expensive trunk runs during training: ``K`` augmented copies
of every frame (copy 0 unaugmented) go through it once, and all fold heads and epochs read from disk.

Layout: ``<key>.npy`` holds a float16 array ``(N, K, h, w, 512)`` (frame-major, so each frame's copies
are contiguous and a fold's frames are a row subset) and ``<key>.json`` a small header with the shape
and a BLAKE2b checksum of the array bytes. The key hashes the trunk's exact weights
(:func:`model.trunk.weights_fingerprint`, which includes the input size), the frames (given ids or
their content), ``K``, the augmentation seed and ranges, and a format version. The header is written
last, after the data file is complete and atomically renamed, so an interrupted fill is never
trusted; a file that is truncated, reshaped or altered fails the size, shape or checksum test and is
rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import keras
import numpy as np

from model.augment import MAX_ANGLE, MAX_SHIFT, apply_transforms, copy_transforms
from model.trunk import trunk_features, weights_fingerprint

Progress = Callable[[str, int, int], None]
"""Progress callback: ``(stage, done, total)``; the cache reports stage ``"features"``."""

FORMAT_VERSION = 1
_CHUNK_FRAMES = 32
log = logging.getLogger(__name__)


def cache_key(
    trunk: keras.Model, frames: np.ndarray, *, copies: int, seed: int, frame_ids: Sequence[str] | None = None
) -> str:
    """Name the cache entry for these frames under this trunk, ``K`` and seed.

    Args:
        trunk: The trunk that computes the features.
        frames: ``(N, S, S, 3)`` uint8 frames; hashed only when ``frame_ids`` is not given.
        copies: ``K``, the number of copies per frame.
        seed: Augmentation seed.
        frame_ids: Stable ids (e.g. database frame ids) in frame order; cheaper than hashing pixels,
            but then the caller promises that an id always names the same pixels.

    Returns:
        A 32-character hex key, also used as the file name.
    """
    if frame_ids is not None and len(frame_ids) != len(frames):
        raise ValueError(f"{len(frame_ids)} frame ids for {len(frames)} frames")
    frames_hash = hashlib.sha256()
    if frame_ids is None:
        frames_hash.update(repr(frames.shape).encode())
        frames_hash.update(np.ascontiguousarray(frames).data)
    else:
        frames_hash.update(json.dumps(list(frame_ids)).encode())
    augmentation = [MAX_ANGLE, MAX_SHIFT, copies, seed]
    parts = [FORMAT_VERSION, weights_fingerprint(trunk), frames_hash.hexdigest(), augmentation]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:32]


def cached_features(
    trunk: keras.Model,
    frames: np.ndarray,
    *,
    cache_dir: Path,
    copies: int = 8,
    seed: int = 0,
    frame_ids: Sequence[str] | None = None,
    batch_size: int = 16,
    verify: bool = True,
    progress: Progress | None = None,
) -> np.ndarray:
    """Return the trunk features of every frame and augmented copy, computing them only when needed.

    Args:
        trunk: A frozen trunk from :func:`model.trunk.build_trunk`.
        frames: ``(N, S, S, 3)`` uint8 RGB frames at the trunk's input size.
        cache_dir: Folder for the cache files (created if missing).
        copies: ``K`` >= 1 copies per frame; copy 0 is unaugmented (used for validation and inference).
        seed: Augmentation seed; copy ``k`` uses :func:`model.augment.copy_transforms` ``(N, k, seed)``.
        frame_ids: Optional stable frame ids, see :func:`cache_key`.
        batch_size: Frames per trunk pass.
        verify: Check the checksum of an existing file (one sequential read) before trusting it.
        progress: Called with ``("features", done, total)`` while computing, counted in frame copies.

    Returns:
        Read-only memory-mapped float16 array ``(N, K, h, w, 512)``.
    """
    if copies < 1:
        raise ValueError("copies must be at least 1 (copy 0 is the unaugmented frame)")
    key = cache_key(trunk, frames, copies=copies, seed=seed, frame_ids=frame_ids)
    data, header = cache_dir / f"{key}.npy", cache_dir / f"{key}.json"
    shape = (len(frames), copies, *trunk.output_shape[1:])
    cached = _load_valid(data, header, shape, verify=verify)
    if cached is not None:
        return cached
    cache_dir.mkdir(parents=True, exist_ok=True)
    header.unlink(missing_ok=True)  # a stale header must never vouch for a half-written file
    checksum = _fill(trunk, frames, data, shape, seed=seed, batch_size=batch_size, progress=progress)
    meta = {"version": FORMAT_VERSION, "shape": list(shape), "dtype": "float16", "checksum": checksum}
    _write_json(header, {**meta, "copies": copies, "seed": seed})
    features: np.ndarray = np.load(data, mmap_mode="r")
    return features


def _fill(
    trunk: keras.Model,
    frames: np.ndarray,
    path: Path,
    shape: tuple[int, ...],
    *,
    seed: int,
    batch_size: int,
    progress: Progress | None,
) -> str:
    """Compute all copies chunk by chunk into a temporary file, then rename it; return its checksum.

    Chunks are rows of frames, contiguous in the frame-major layout, so the checksum is computed
    while writing without reading the file back.
    """
    n, copies = shape[:2]
    transforms = [copy_transforms(n, k, seed) for k in range(copies)]
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npy")
    out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float16, shape=shape)
    digest = hashlib.blake2b()
    for start in range(0, n, _CHUNK_FRAMES):
        rows = slice(start, min(start + _CHUNK_FRAMES, n))
        for k in range(copies):
            augmented = apply_transforms(frames[rows], transforms[k][rows])
            out[rows, k] = trunk_features(trunk, augmented, batch_size)
            if progress is not None:
                progress("features", rows.start * copies + (rows.stop - rows.start) * (k + 1), n * copies)
        digest.update(np.ascontiguousarray(out[rows]).data)
    out.flush()
    del out
    os.replace(tmp, path)
    return digest.hexdigest()


def _load_valid(data: Path, header: Path, shape: tuple[int, ...], *, verify: bool) -> np.ndarray | None:
    """Open an existing cache entry, or return None (and log why) when it is missing or damaged."""
    if not (data.exists() and header.exists()):
        return None
    try:
        meta = json.loads(header.read_text())
        array: np.ndarray = np.load(data, mmap_mode="r")
        offset = getattr(array, "offset", 0)
        problem = None
        if tuple(meta["shape"]) != shape or array.shape != shape or array.dtype != np.float16:
            problem = f"shape {array.shape} / header {meta['shape']}, expected {shape}"
        elif data.stat().st_size != offset + array.nbytes:
            problem = f"size {data.stat().st_size}, expected {offset + array.nbytes}"
        elif verify and _checksum(array) != meta["checksum"]:
            problem = "checksum mismatch"
    except (OSError, ValueError, KeyError, TypeError) as exc:  # truncated header, bad JSON, short file
        problem = f"unreadable ({exc})"
    if problem is None:
        return array
    log.warning("feature cache %s is damaged (%s); rebuilding it", data.name, problem)
    return None


def _checksum(array: np.ndarray) -> str:
    """BLAKE2b of the array bytes in chunks, so a multi-gigabyte memmap is never loaded at once."""
    digest = hashlib.blake2b()
    for start in range(0, len(array), _CHUNK_FRAMES):
        digest.update(np.ascontiguousarray(array[start : start + _CHUNK_FRAMES]).data)
    return digest.hexdigest()


def _write_json(path: Path, payload: dict[str, object]) -> None:
    """Write JSON atomically: readers see the old file or the complete new one, never a prefix."""
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.json")
    tmp.write_text(json.dumps(payload, indent=2))
    os.replace(tmp, path)
