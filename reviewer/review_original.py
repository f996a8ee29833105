"""The review's "Video" panel: the original's frames from the first sample to the last, cleaned and in step.

The upload as stored would show the expert what the ingest removes for blinding: burnt-in captions,
source names (sometimes a diagnosis), arrows, and the file's own tags. So the panel is rebuilt from
decoded pixels only: cut with the video's stored crop, cleaned by the ingest's own overlay removal
(:func:`reviewer.frames_overlays.clean_frames`, run on the frames shown, so text that stays put and
coloured marks are inpainted in every one of them), then re-encoded by the caller without metadata.

The player follows the clip of the sampled frames, which shows kept frame ``i`` at ``i / sample_hz``.
Each sample therefore gets ``per_sample`` slots of the rebuilt clip, filled evenly with the source
frames up to the next sample (repeated when there are fewer, thinned when there are more), so slot
``i * per_sample`` is always sample ``i``'s own source frame, whatever the source's frame rate.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path

import cv2
import numpy as np

from reviewer.frames import Crop, CropError, Rgb
from reviewer.frames_overlays import clean_frames
from reviewer.settings import Settings


class UndecodableOriginal(Exception):
    """The stored original cannot give the frames the ingest sampled; the panel shows the samples."""


def per_sample(source_indices: Sequence[int], settings: Settings) -> int:
    """Slots per sample: the most source frames between two samples, within ``review_original_max_fps``."""
    gaps = [b - a for a, b in pairwise(source_indices)]
    most = math.floor(settings.review_original_max_fps / settings.sample_hz)
    return max(1, min(max(gaps, default=1), most))


def slot_sources(source_indices: Sequence[int], slots: int) -> list[int]:
    """The source frame of every slot; the last sample is held for its ``slots`` like the others."""
    ends = [*source_indices[1:], source_indices[-1] + 1]
    return [
        start + (j * (end - start)) // slots
        for start, end in zip(source_indices, ends, strict=True)
        for j in range(slots)
    ]


def cleaned_original(
    path: Path, crop: Crop, source_indices: Sequence[int], settings: Settings, *, remove_overlays: bool
) -> tuple[np.ndarray, float]:
    """The ``(T, H, W, 3)`` RGB frames of the panel and their frame rate, in step with the samples.

    Raises:
        FileNotFoundError: if the original is missing (the item's files are unavailable).
        UndecodableOriginal: if its frames cannot be decoded, cut or cleaned as the ingest did.
    """
    path.stat()  # a missing file is the administrator's problem, not a reason to degrade quietly
    slots = per_sample(source_indices, settings)
    sources = slot_sources(source_indices, slots)
    wanted = sorted(set(sources))
    scale = min(1.0, settings.review_original_max_side / max(crop.w, crop.h))
    size = (max(2, round(crop.w * scale)), max(2, round(crop.h * scale)))
    patches = _read(path, wanted, crop, size)
    shown = _clean(patches, size) if remove_overlays else patches
    position = {source: k for k, source in enumerate(wanted)}
    return np.stack([shown[position[source]] for source in sources]), settings.sample_hz * slots


def _read(path: Path, wanted: list[int], crop: Crop, size: tuple[int, int]) -> list[Rgb]:
    """Walk the stream as the ingest counted it, cutting and shrinking only the wanted frames."""
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    patches: list[Rgb] = []
    try:
        count, pending = 0, iter(wanted)
        target = next(pending, None)
        while target is not None and capture.grab():
            if count == target:
                ok, bgr = capture.retrieve()
                if not ok or bgr is None:
                    break
                crop.check_within(bgr.shape[1], bgr.shape[0])
                patch = bgr[crop.y : crop.y + crop.h, crop.x : crop.x + crop.w]
                patch = cv2.resize(patch, size, interpolation=cv2.INTER_AREA)
                patches.append(np.asarray(cv2.cvtColor(patch, cv2.COLOR_BGR2RGB), dtype=np.uint8))
                target = next(pending, None)
            count += 1
    except (CropError, cv2.error) as error:
        raise UndecodableOriginal(str(error)) from error
    finally:
        capture.release()
    if len(patches) < len(wanted):
        raise UndecodableOriginal(f"{len(patches)} of {len(wanted)} frames decoded")
    return patches


def _clean(patches: list[Rgb], size: tuple[int, int]) -> list[Rgb]:
    """The ingest's overlay removal over the frames shown; a frame it drops shows the kept one before.

    ``clean_frames`` works on squares (as the model does), so a non-square crop is cleaned stretched
    to its long side and brought back to its own shape, never losing resolution on the way.
    """
    side = max(size)
    try:
        clean = clean_frames(patches, Crop(0, 0, *size), side, remove_overlays=True)
    except cv2.error as error:
        raise UndecodableOriginal(str(error)) from error
    if not clean.frames:
        raise UndecodableOriginal("a moving pointer covers the lung in every frame")
    frames = [np.asarray(cv2.resize(f, size, interpolation=cv2.INTER_AREA), np.uint8) for f in clean.frames]
    kept = dict(zip(clean.kept, frames, strict=True))
    shown, last = [], frames[0]
    for position in range(len(patches)):
        last = kept.get(position, last)
        shown.append(last)
    return shown
