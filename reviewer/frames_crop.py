"""Find the ultrasound image in a clip and suggest a crop that leaves bars, text and borders out.

The ultrasound image is recognised by what only it does: its speckle *changes over time*, while
measure bars, depth scales, colour legends, text and screen borders stay still. On a single image (or
a frozen clip) there is no motion to go by, so the largest bright blob is used instead.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from reviewer.frames import Crop, Mask, Rgb
from reviewer.frames_motion import DARK, MOVING_SHARE, STILL_RANGE, grey_stack, moves
from reviewer.vocab import Probe

_ANALYSIS_SIDE = 256  # crop search runs on frames shrunk to this longest side: fast, and enough
_MIN_REGION_SHARE = 0.05  # a "sector" smaller than this share of the image is not believed
_MIN_BLOB_SHARE = 0.01  # smaller blobs are text, symbols or specks, whether they move or not


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


def _ultrasound_region(frames: Sequence[Rgb], scale: float) -> tuple[Mask, Mask] | None:
    """Hull of the non-black blobs that move (of the largest one if nothing can move), and the junk.

    Junk is every other non-black pixel: the bars, text, legends and borders beside the image.
    """
    stack = grey_stack(frames, scale)
    side = max(stack.shape[1:])
    peak = stack.max(axis=0)
    ptp = peak - stack.min(axis=0)
    visible = (peak > DARK).astype(np.uint8)
    content = cv2.morphologyEx(visible, cv2.MORPH_OPEN, np.ones((max(3, side // 64),) * 2, np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(content, connectivity=8)
    keep = 1 + np.flatnonzero(stats[1:, cv2.CC_STAT_AREA] >= _MIN_BLOB_SHARE * content.size)
    if moves(ptp, peak, len(frames)):
        moving = np.bincount(labels[ptp >= STILL_RANGE], minlength=count)
        keep = keep[moving[keep] >= MOVING_SHARE * stats[keep, cv2.CC_STAT_AREA]]
    elif keep.size:
        keep = keep[[int(np.argmax(stats[keep, cv2.CC_STAT_AREA]))]]
    points = cv2.findNonZero(np.isin(labels, keep).astype(np.uint8))
    if points is None or len(points) < _MIN_REGION_SHARE * content.size:
        return None
    hull = np.zeros_like(content)
    cv2.fillConvexPoly(hull, cv2.convexHull(points), 1)
    return hull.astype(bool), (visible & (1 - hull)).astype(bool)


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
