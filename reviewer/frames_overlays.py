"""Remove burnt-in overlays from cropped frames the COVIDx-US way, and drop pointer-covered frames.

A mask of overlay pixels (glyph-sized near-white marks that never change, and strongly coloured
pixels, since B-mode is grey) is inpainted with Navier-Stokes, and a frame is dropped when a *moving*
coloured pointer covers its central (lung) region. Without motion (a still image, a frozen clip)
white text cannot be told from bright tissue and is left alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import reduce

import cv2
import numpy as np

from reviewer.frames import Crop, Mask, Rgb, apply_crop_and_resize
from reviewer.frames_motion import channels, grey_stack, moves

_OVERLAY_WHITE = 235  # burnt-in text and symbols are near-white in every frame; tissue is rarely
_OVERLAY_CONTRAST = 100  # ... and stand out from their surroundings by this much
_OVERLAY_FLICKER = 12  # ... and vary less than this (still tissue on a short clip varies by 5-15)
_GLYPH_SHARE = 0.1  # marks wider or taller than this share of the crop are anatomy, not glyphs
_EDGE_STEPS = 2  # pixels by which glyph cores grow over their fainter anti-aliased edges
_CHROMA = 60  # max - min of R, G, B above which a pixel is coloured (B-mode tints stay below ~35)
_POINTER_SHARE = 0.005  # moving coloured pixels covering more of the centre than this drop the frame
_INPAINT_RADIUS = 3  # pixels of neighbourhood Navier-Stokes inpainting draws from (at the output size)


@dataclass(frozen=True)
class CleanFrames:
    """Cropped, resized, inpainted frames; ``kept`` are their positions in the input sequence."""

    frames: tuple[Rgb, ...]
    masks: tuple[Mask, ...] | None
    kept: tuple[int, ...]


def clean_frames(frames: Sequence[Rgb], crop: Crop, size: int, *, remove_overlays: bool) -> CleanFrames:
    """Crop and resize every frame and, if asked, inpaint overlays and drop pointer-covered frames.

    Overlays that stay put (text, symbols, coloured markers and legends) are inpainted in every
    frame; coloured pixels that come and go are a pointer, and a frame in which one covers the
    lung is dropped rather than inpainted, since too much of the lung would be invented.
    """
    crop.check_within(frames[0].shape[1], frames[0].shape[0])
    if not remove_overlays:
        resized = tuple(apply_crop_and_resize(f, crop, size) for f in frames)
        return CleanFrames(frames=resized, masks=None, kept=tuple(range(len(frames))))
    patches = [f[crop.y : crop.y + crop.h, crop.x : crop.x + crop.w] for f in frames]
    fixed = fixed_overlays(patches)
    out: list[Rgb] = []
    masks: list[Mask] = []
    kept: list[int] = []
    whole = Crop(0, 0, crop.w, crop.h)
    for position, patch in enumerate(patches):
        colour = coloured(patch)
        if covers_centre(colour & ~fixed):
            continue
        mask = resize_mask(colour | fixed, (size, size))
        out.append(inpaint(apply_crop_and_resize(patch, whole, size), mask))
        masks.append(mask)
        kept.append(position)
    return CleanFrames(frames=tuple(out), masks=tuple(masks), kept=tuple(kept))


def fixed_overlays(patches: Sequence[Rgb]) -> Mask:
    """Overlays that stay put over the clip (still near-white glyphs, marks coloured in every frame).

    Found at the crop's full resolution: shrunk first, thin strokes blur below the near-white
    threshold and would be left in place. Anything that only shows in some frames is not here.
    """
    always = reduce(np.logical_and, (coloured(patch) for patch in patches))
    return np.asarray(_still_overlays(patches) | always)


def _still_overlays(patches: Sequence[Rgb]) -> Mask:
    """Glyph-sized marks that are near-white and unchanged in every frame: text, symbols, ticks.

    Tissue near a still probe can be as still as text over a short clip, so stillness alone is not
    trusted: the core of a mark must be near-white in *every* frame and stand out from what is
    around it, and marks larger than a glyph (a pleural line, a rib) are never taken. The cores are
    then grown over the fainter, anti-aliased edges of the same glyphs.
    """
    stack = grey_stack(patches, 1.0)
    peak, floor = stack.max(axis=0), stack.min(axis=0)
    ptp = peak - floor
    if not moves(ptp, peak, len(patches)):
        return np.zeros(floor.shape, dtype=bool)
    side = max(floor.shape)
    tophat = cv2.morphologyEx(floor, cv2.MORPH_TOPHAT, np.ones((max(5, side // 40),) * 2, np.uint8))
    edges = (tophat >= _OVERLAY_CONTRAST // 2).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(edges, connectivity=8)
    glyph = np.maximum(stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]) <= _GLYPH_SHARE * side
    glyph[0] = False
    cores = (
        glyph[labels] & (floor >= _OVERLAY_WHITE) & (tophat >= _OVERLAY_CONTRAST) & (ptp <= _OVERLAY_FLICKER)
    )
    mask = cores.astype(np.uint8)
    for _ in range(_EDGE_STEPS):
        mask = np.asarray(cv2.dilate(mask, np.ones((3, 3), np.uint8)), np.uint8) & edges
    return np.asarray(mask > 0)


def coloured(patch: Rgb) -> Mask:
    """Pixels clearly off the grey axis; B-mode ultrasound is grey or only faintly tinted."""
    return np.asarray(channels(np.maximum, patch) - channels(np.minimum, patch) > _CHROMA)


def resize_mask(mask: Mask, size: tuple[int, int]) -> Mask:
    """The mask at ``(width, height)``: any pixel an overlay touched, plus a one-pixel margin.

    The margin covers anti-aliased and blurred edges, which the shrunk frame mixes into neighbours.
    """
    touched = cv2.resize(mask.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0
    return np.asarray(cv2.dilate(touched.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0)


def inpaint(frame: Rgb, mask: Mask) -> Rgb:
    """Fill the masked pixels from their surroundings (Navier-Stokes, as COVIDx-US does)."""
    filled = cv2.inpaint(frame, mask.astype(np.uint8), _INPAINT_RADIUS, cv2.INPAINT_NS)
    return np.asarray(filled, dtype=np.uint8)


def covers_centre(moving: Mask) -> bool:
    """True when a moving overlay covers too much of the central half of the frame (the lung)."""
    h, w = moving.shape
    centre = moving[h // 4 : h - h // 4, w // 4 : w - w // 4]
    return bool(centre.mean() > _POINTER_SHARE)
