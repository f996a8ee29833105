"""The review's "Video" panel: the original's frames from the first sample to the last, cleaned and in step.

The upload as stored would show the expert what the ingest removes for blinding: burnt-in captions,
source names (sometimes a diagnosis), arrows, and the file's own tags. So the panel is rebuilt from
decoded pixels only: cut with the video's stored crop, cleaned with the ingest's own overlay removal
(:mod:`reviewer.frames_overlays`), then re-encoded by the caller without metadata. Overlays that stay
put are found as the ingest found them, on the sampled frames at the crop's full resolution (shrunk
first, thin burnt-in strokes would no longer look near-white); every frame shown is then shrunk and
inpainted with them and its own coloured pixels, one at a time, into the panel's array.

The player follows the clip of the sampled frames, which shows kept frame ``i`` at ``i / sample_hz``.
Each sample therefore gets ``per_sample`` slots of the rebuilt clip, filled evenly with the source
frames up to the next sample (repeated when there are fewer, thinned when there are more), so slot
``i * per_sample`` is always sample ``i``'s own source frame, whatever the source's frame rate.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Sequence
from contextlib import closing
from itertools import pairwise
from pathlib import Path

import cv2
import numpy as np

from reviewer.frames import Crop, CropError, Mask, Rgb
from reviewer.frames_overlays import coloured, covers_centre, fixed_overlays, inpaint, resize_mask
from reviewer.settings import Settings

CLEANING_VERSION = 2
"""Bump whenever the cleaning changes what an expert sees: cached clips of older versions are then
re-made, so a text that an earlier cleaning missed is never shown again from the cache."""


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

    Only the returned array and, while the overlays are being found, the sampled crops are held: a
    whole clip of frames in several copies would cost the Streamlit process most of a gigabyte.

    Raises:
        FileNotFoundError: if the original is missing (the item's files are unavailable).
        UndecodableOriginal: if its frames cannot be decoded, cut or cleaned as the ingest did.
    """
    path.stat()  # a missing file is the administrator's problem, not a reason to degrade quietly
    slots = per_sample(source_indices, settings)
    sources = slot_sources(source_indices, slots)
    scale = min(1.0, settings.review_original_max_side / max(crop.w, crop.h))
    size = (max(2, round(crop.w * scale)), max(2, round(crop.h * scale)))
    shown, samples = _read(path, sources, crop, size, set(source_indices) if remove_overlays else set())
    if remove_overlays:
        try:
            fixed = resize_mask(fixed_overlays(samples), size)
            del samples  # the full-resolution crops are not needed once their overlays are known
            _clean(shown, sources, fixed)
        except cv2.error as error:
            raise UndecodableOriginal(str(error)) from error
    for slot in range(1, len(sources)):
        if sources[slot] == sources[slot - 1]:
            shown[slot] = shown[slot - 1]
    return shown, settings.sample_hz * slots


def _read(
    path: Path, sources: Sequence[int], crop: Crop, size: tuple[int, int], sampled: set[int]
) -> tuple[np.ndarray, list[Rgb]]:
    """Each slot's source frame, cut and shrunk, in one array, and the sampled crops at full size.

    A repeat's slot is left to fill. The ``sampled`` frames' crops are kept as the ingest saw them
    when it looked for overlays.
    """
    shown = np.empty((len(sources), size[1], size[0], 3), np.uint8)
    first = {source: slot for slot, source in reversed(list(enumerate(sources)))}  # each source's first slot
    samples: list[Rgb] = []
    try:
        with closing(_frames(path, sorted(first))) as frames:
            for index, bgr in frames:
                crop.check_within(bgr.shape[1], bgr.shape[0])
                patch = bgr[crop.y : crop.y + crop.h, crop.x : crop.x + crop.w]
                shrunk = cv2.resize(patch, size, interpolation=cv2.INTER_AREA)
                shown[first[index]] = cv2.cvtColor(shrunk, cv2.COLOR_BGR2RGB)
                if index in sampled:
                    samples.append(np.asarray(cv2.cvtColor(patch, cv2.COLOR_BGR2RGB), dtype=np.uint8))
    except (CropError, cv2.error) as error:
        raise UndecodableOriginal(str(error)) from error
    return shown, samples


def _frames(path: Path, wanted: list[int]) -> Generator[tuple[int, np.ndarray], None, None]:
    """Walk the stream as the ingest counted it, decoding to BGR only the ``wanted`` frames."""
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    decoded = 0
    try:
        count, pending = 0, iter(wanted)
        target = next(pending, None)
        while target is not None and capture.grab():
            if count == target:
                ok, bgr = capture.retrieve()
                if not ok or bgr is None:
                    break
                yield count, bgr
                decoded += 1
                target = next(pending, None)
            count += 1
    finally:
        capture.release()
    if decoded < len(wanted):
        raise UndecodableOriginal(f"{decoded} of {len(wanted)} frames decoded")


def _clean(shown: np.ndarray, sources: Sequence[int], fixed: Mask) -> None:
    """Inpaint each slot's frame in place; one whose moving pointer covers the lung shows a kept one.

    The ingest drops such a frame rather than invent the lung, so it shows the kept frame before it
    (or the first kept one, when none was kept yet).
    """
    kept: int | None = None
    waiting: list[int] = []  # slots covered before any frame was kept
    for slot in range(len(sources)):
        if slot and sources[slot] == sources[slot - 1]:
            continue  # a repeat: filled from its first slot at the end
        colour = coloured(shown[slot])
        if covers_centre(colour & ~fixed):
            if kept is None:
                waiting.append(slot)
            else:
                shown[slot] = shown[kept]
            continue
        margined = resize_mask(colour, (colour.shape[1], colour.shape[0]))  # same size: adds the margin
        shown[slot] = inpaint(shown[slot], margined | fixed)
        kept = slot
        for held in waiting:
            shown[held] = shown[slot]
        waiting.clear()
    if kept is None:
        raise UndecodableOriginal("a moving pointer covers the lung in every frame")
