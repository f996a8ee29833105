"""Pure image logic of the ingest: find the ultrasound image, crop it, remove burnt-in overlays.

The ultrasound image is recognised by what only it does: its speckle *changes over time*, while
measure bars, depth scales, colour legends, text and screen borders stay still. On a single image (or
a frozen clip) there is no motion to go by, so the largest bright blob is used instead.

Overlays are removed the COVIDx-US way: a mask of overlay pixels (glyph-sized near-white marks that
never change, and strongly coloured pixels, since B-mode is grey) is inpainted with Navier-Stokes, and
a frame is dropped when a *moving* coloured pointer covers its central (lung) region. Without motion
(a still image, a frozen clip) white text cannot be told from bright tissue and is left alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from reviewer.vocab import Probe

Rgb = NDArray[np.uint8]
Mask = NDArray[np.bool_]

_ANALYSIS_SIDE = 256  # crop search runs on frames shrunk to this longest side: fast, and enough
_DARK = 8  # grey level below which a pixel counts as black background
_STILL_RANGE = 12  # a pixel whose grey level varies less than this over the clip is not ultrasound
_MIN_MOTION_FRAMES = 5  # fewer sampled frames than this carry no reliable motion information
_MIN_REGION_SHARE = 0.05  # a "sector" smaller than this share of the image is not believed
_MIN_BLOB_SHARE = 0.01  # smaller blobs are text, symbols or specks, whether they move or not
_MOVING_SHARE = 0.1  # a blob is ultrasound if at least this share of its pixels changes over time
_OVERLAY_WHITE = 235  # burnt-in text and symbols are near-white in every frame; tissue is rarely
_OVERLAY_CONTRAST = 100  # ... and stand out from their surroundings by this much
_OVERLAY_FLICKER = 12  # ... and vary less than this (still tissue on a short clip varies by 5-15)
_GLYPH_SHARE = 0.1  # marks wider or taller than this share of the crop are anatomy, not glyphs
_EDGE_STEPS = 2  # pixels by which glyph cores grow over their fainter anti-aliased edges
_CHROMA = 60  # max - min of R, G, B above which a pixel is coloured (B-mode tints stay below ~35)
_POINTER_SHARE = 0.005  # moving coloured pixels covering more of the centre than this drop the frame
_INPAINT_RADIUS = 3  # pixels of neighbourhood Navier-Stokes inpainting draws from (at frame_size)


class CropError(ValueError):
    """A crop that cannot be used; the message is safe to show to the user."""


@dataclass(frozen=True)
class Crop:
    """An axis-aligned rectangle in pixel coordinates of the original frames.

    Raises:
        CropError: if a coordinate is not an integer, the origin is negative or a side is not positive.
    """

    x: int
    y: int
    w: int
    h: int

    def __post_init__(self) -> None:
        for name in ("x", "y", "w", "h"):
            value = getattr(self, name)
            if not isinstance(value, int | np.integer) or isinstance(value, bool):
                raise CropError("Crop coordinates must be whole numbers of pixels.")
            object.__setattr__(self, name, int(value))  # NumPy integers would not reach the database
        if self.x < 0 or self.y < 0 or self.w <= 0 or self.h <= 0:
            raise CropError("A crop needs a non-negative origin and a positive width and height.")

    def check_within(self, width: int, height: int) -> Crop:
        """Return the crop if it lies inside a ``width`` x ``height`` frame, so user crops are safe.

        Raises:
            CropError: if any part of the crop falls outside the frame.
        """
        if self.x + self.w > width or self.y + self.h > height:
            raise CropError(
                f"The crop ({self.x}, {self.y}, {self.w} x {self.h}) reaches outside the "
                f"{width} x {height} frame."
            )
        return self


@dataclass(frozen=True)
class CleanFrames:
    """Cropped, resized, inpainted frames; ``kept`` are their positions in the input sequence."""

    frames: tuple[Rgb, ...]
    masks: tuple[Mask, ...] | None
    kept: tuple[int, ...]


def suggest_crop(frames: Sequence[Rgb], probe: Probe) -> Crop:
    """Suggest a crop that holds the ultrasound image and leaves bars, text and borders out.

    Convex probes get the square around the sector (as in the POCUS dataset: the whole fan with
    black corners, top-aligned so the pleural line stays in); linear probes get the largest
    rectangle around the image area that holds none of the still, non-black blobs (bars, text,
    legends) found beside it. Falls back to the whole frame if no ultrasound image is found.
    """
    height, width = frames[0].shape[:2]
    scale = min(1.0, _ANALYSIS_SIDE / max(height, width))
    found = _ultrasound_region(frames, scale)
    if found is None:
        return Crop(0, 0, width, height)
    region, junk = found
    x, y, w, h = cv2.boundingRect(region.astype(np.uint8))
    if probe is Probe.CONVEX:
        return _bounding_square(_upscale((x, y, w, h), scale, width, height), width, height)
    clean = np.zeros_like(region)
    clean[y : y + h, x : x + w] = True
    return _upscale(_largest_rectangle(clean & ~junk), scale, width, height)


def apply_crop_and_resize(frame: Rgb, crop: Crop, size: int) -> Rgb:
    """Cut ``crop`` out of an RGB frame and resize it to ``size`` x ``size``, as the model expects.

    Non-square crops (linear probes) are stretched, as Born et al. did, rather than padded.
    """
    crop.check_within(frame.shape[1], frame.shape[0])
    patch = frame[crop.y : crop.y + crop.h, crop.x : crop.x + crop.w]
    shrinking = crop.w >= size and crop.h >= size
    resized = cv2.resize(patch, (size, size), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)
    return np.ascontiguousarray(resized, dtype=np.uint8)


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
    coloured = np.stack([_coloured(patch) for patch in patches])
    fixed = _still_overlays(patches) | coloured.all(axis=0)
    out: list[Rgb] = []
    masks: list[Mask] = []
    kept: list[int] = []
    whole = Crop(0, 0, crop.w, crop.h)
    for position, patch in enumerate(patches):
        if _covers_centre(coloured[position] & ~fixed):
            continue
        mask = _resize_mask(coloured[position] | fixed, size)
        inpainted = cv2.inpaint(
            apply_crop_and_resize(patch, whole, size), mask.astype(np.uint8), _INPAINT_RADIUS, cv2.INPAINT_NS
        )
        out.append(np.asarray(inpainted, dtype=np.uint8))
        masks.append(mask)
        kept.append(position)
    return CleanFrames(frames=tuple(out), masks=tuple(masks), kept=tuple(kept))


def _channels(combine: np.ufunc, image: Rgb) -> NDArray[np.uint8]:
    """Combine R, G and B pixel by pixel (ten times faster than reducing over the last axis)."""
    return np.asarray(combine(combine(image[..., 0], image[..., 1]), image[..., 2]))


def _grey_stack(frames: Sequence[Rgb], scale: float) -> NDArray[np.uint8]:
    """Brightest channel of every frame (so coloured marks count as bright), optionally shrunk."""
    stack = np.stack([_channels(np.maximum, f) for f in frames])
    if scale >= 1.0:
        return stack
    shrunk = [cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) for grey in stack]
    return np.stack(shrunk).astype(np.uint8, copy=False)


def _ultrasound_region(frames: Sequence[Rgb], scale: float) -> tuple[Mask, Mask] | None:
    """Hull of the non-black blobs that move (of the largest one if nothing can move), and the junk.

    Junk is every other non-black pixel: the bars, text, legends and borders beside the image.
    """
    stack = _grey_stack(frames, scale)
    side = max(stack.shape[1:])
    peak = stack.max(axis=0)
    ptp = peak - stack.min(axis=0)
    visible = (peak > _DARK).astype(np.uint8)
    content = cv2.morphologyEx(visible, cv2.MORPH_OPEN, np.ones((max(3, side // 64),) * 2, np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(content, connectivity=8)
    keep = 1 + np.flatnonzero(stats[1:, cv2.CC_STAT_AREA] >= _MIN_BLOB_SHARE * content.size)
    if _moves(ptp, peak, len(frames)):
        moving = np.bincount(labels[ptp >= _STILL_RANGE], minlength=count)
        keep = keep[moving[keep] >= _MOVING_SHARE * stats[keep, cv2.CC_STAT_AREA]]
    elif keep.size:
        keep = keep[[int(np.argmax(stats[keep, cv2.CC_STAT_AREA]))]]
    points = cv2.findNonZero(np.isin(labels, keep).astype(np.uint8))
    if points is None or len(points) < _MIN_REGION_SHARE * content.size:
        return None
    hull = np.zeros_like(content)
    cv2.fillConvexPoly(hull, cv2.convexHull(points), 1)
    return hull.astype(bool), (visible & (1 - hull)).astype(bool)


def _moves(ptp: NDArray[np.uint8], peak: NDArray[np.uint8], frames: int) -> bool:
    """Whether a clip carries motion at all: enough frames, and a share of its content changing."""
    visible = peak > _DARK
    if frames < _MIN_MOTION_FRAMES or not visible.any():
        return False
    return bool((ptp[visible] >= _STILL_RANGE).mean() >= _MOVING_SHARE)


def _upscale(box: tuple[int, int, int, int], scale: float, width: int, height: int) -> Crop:
    """Map a box found on shrunk frames back to the original, rounding inwards and clamping."""
    x, y, w, h = box
    x0, y0 = min(int(np.ceil(x / scale)), width - 1), min(int(np.ceil(y / scale)), height - 1)
    x1, y1 = min(int((x + w) / scale), width), min(int((y + h) / scale), height)
    return Crop(x0, y0, max(x1 - x0, 1), max(y1 - y0, 1))


def _bounding_square(box: Crop, width: int, height: int) -> Crop:
    """Smallest square around ``box`` that fits the frame: centred across, aligned with its top."""
    side = min(max(box.w, box.h), width, height)
    x = int(np.clip(box.x + (box.w - side) // 2, 0, width - side))
    y = int(np.clip(box.y, 0, height - side))
    return Crop(x, y, side, side)


def _largest_rectangle(mask: Mask) -> tuple[int, int, int, int]:
    """Largest axis-aligned rectangle of True pixels (row-by-row histogram method), as x, y, w, h."""
    heights = np.zeros(mask.shape[1], dtype=np.int64)
    best = (0, 0, 0, 0)
    for row in range(mask.shape[0]):
        heights = np.where(mask[row], heights + 1, 0)
        bars = [*heights.tolist(), 0]  # the trailing zero empties the stack
        stack: list[int] = []  # columns of strictly increasing bar heights
        for col, bar in enumerate(bars):
            while stack and bars[stack[-1]] >= bar:
                tall = bars[stack.pop()]
                left = stack[-1] + 1 if stack else 0
                if tall * (col - left) > best[2] * best[3]:
                    best = (left, row - tall + 1, col - left, tall)
            stack.append(col)
    return best


def _still_overlays(patches: Sequence[Rgb]) -> Mask:
    """Glyph-sized marks that are near-white and unchanged in every frame: text, symbols, ticks.

    Tissue near a still probe can be as still as text over a short clip, so stillness alone is not
    trusted: the core of a mark must be near-white in *every* frame and stand out from what is
    around it, and marks larger than a glyph (a pleural line, a rib) are never taken. The cores are
    then grown over the fainter, anti-aliased edges of the same glyphs.
    """
    stack = _grey_stack(patches, 1.0)
    peak, floor = stack.max(axis=0), stack.min(axis=0)
    ptp = peak - floor
    if not _moves(ptp, peak, len(patches)):
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


def _coloured(patch: Rgb) -> Mask:
    """Pixels clearly off the grey axis; B-mode ultrasound is grey or only faintly tinted."""
    return np.asarray(_channels(np.maximum, patch) - _channels(np.minimum, patch) > _CHROMA)


def _resize_mask(mask: Mask, size: int) -> Mask:
    """Any pixel touched by an overlay, plus a one-pixel margin for anti-aliased and blurred edges."""
    touched = cv2.resize(mask.astype(np.float32), (size, size), interpolation=cv2.INTER_AREA) > 0
    return np.asarray(cv2.dilate(touched.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0)


def _covers_centre(moving: Mask) -> bool:
    """True when a moving overlay covers too much of the central half of the frame (the lung)."""
    h, w = moving.shape
    centre = moving[h // 4 : h - h // 4, w // 4 : w - w // 4]
    return bool(centre.mean() > _POINTER_SHARE)
