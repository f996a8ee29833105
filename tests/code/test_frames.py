"""Crop suggestion, crop validation and overlay removal on synthetic scanner screens."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from reviewer.frames import Crop, CropError, apply_crop_and_resize
from reviewer.frames_crop import suggest_crop
from reviewer.frames_overlays import clean_frames, resize_mask
from reviewer.vocab import Probe

HEIGHT, WIDTH = 240, 320
APEX, RADII = (170, -10), (40, 210)  # the convex sector: apex above the screen, 54 degrees wide
SLAB = (70, 40, 180, 150)  # x, y, w, h of the linear probe's image
TEXT_AT = (140, 120)  # where the burnt-in label sits inside the image
WHITE, YELLOW, RED = (255, 255, 255), (255, 255, 0), (255, 0, 0)


def _fan_mask() -> np.ndarray:
    mask = np.zeros((HEIGHT, WIDTH), np.uint8)
    cv2.ellipse(mask, APEX, (RADII[1], RADII[1]), 90, -27, 27, 1, -1)
    cv2.circle(mask, APEX, RADII[0], 0, -1)
    return mask.astype(bool)


FAN = cv2.boundingRect(_fan_mask().astype(np.uint8))  # x, y, w, h of the sector


def _slab_mask() -> np.ndarray:
    x, y, w, h = SLAB
    mask = np.zeros((HEIGHT, WIDTH), bool)
    mask[y : y + h, x : x + w] = True
    return mask


def scanner_frames(
    count: int = 12,
    *,
    probe: Probe = Probe.CONVEX,
    label: bool = True,
    pointer: set[int] | None = None,
    seed: int = 0,
) -> list[np.ndarray]:
    """A scanner screen: moving speckle in the image area, still bars, text and ticks around it.

    With ``label`` a white text and a yellow marker are burnt into the image area; frames listed in
    ``pointer`` get a red pointer that moves across the centre of the image.
    """
    rng = np.random.default_rng(seed)
    area = _fan_mask() if probe is Probe.CONVEX else _slab_mask()
    frames = []
    for index in range(count):
        speckle = cv2.GaussianBlur(rng.uniform(30, 150, (HEIGHT, WIDTH)).astype(np.float32), (3, 3), 0)
        frame = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
        frame[area] = speckle[area, None].astype(np.uint8)
        frame[40:200, 8:18] = np.linspace(255, 0, 160, dtype=np.uint8)[:, None, None]  # grey-scale bar
        for depth in range(40, 200, 20):
            frame[depth : depth + 2, 296:306] = 200  # depth scale ticks
        cv2.putText(frame, "LUS 5MHz", (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, WHITE, 1)
        if label:
            cv2.putText(frame, "R2", TEXT_AT, cv2.FONT_HERSHEY_SIMPLEX, 0.7, WHITE, 2)
            cv2.drawMarker(frame, (TEXT_AT[0] + 10, TEXT_AT[1] + 30), YELLOW, cv2.MARKER_CROSS, 14, 2)
        if pointer and index in pointer:
            tip = (130 + 4 * index, 105)
            cv2.arrowedLine(frame, (tip[0] + 30, tip[1] - 20), tip, RED, 4, tipLength=0.4)
        frames.append(frame)
    return frames


def _inside(crop: Crop) -> bool:
    return crop.x >= 0 and crop.y >= 0 and crop.x + crop.w <= WIDTH and crop.y + crop.h <= HEIGHT


def test_convex_crop_is_a_square_around_the_sector_without_bars_or_text() -> None:
    crop = suggest_crop(scanner_frames(), Probe.CONVEX)
    x, y, w, h = FAN
    assert crop.w == crop.h and _inside(crop)
    assert crop.x <= x + 3 and crop.x + crop.w >= x + w - 3  # the whole width of the fan
    assert crop.y <= y + 3 and crop.y + crop.h >= y + h - 3  # from the probe to the deepest point
    assert crop.x > 18 and crop.x + crop.w < 296  # neither the grey-scale bar nor the depth ticks
    assert crop.x > 80 or crop.y > 16  # not the header text either


def test_linear_crop_is_the_image_rectangle() -> None:
    crop = suggest_crop(scanner_frames(probe=Probe.LINEAR), Probe.LINEAR)
    x, y, w, h = SLAB
    assert _inside(crop)
    assert abs(crop.x - x) <= 3 and abs(crop.y - y) <= 3
    assert abs(crop.w - w) <= 4 and abs(crop.h - h) <= 4


def test_a_single_image_is_cropped_from_its_bright_blob() -> None:
    crop = suggest_crop(scanner_frames(1), Probe.CONVEX)
    x, _, w, _ = FAN
    assert crop.w == crop.h and _inside(crop)
    assert crop.x <= x + 3 and crop.x + crop.w >= x + w - 3


def test_a_frozen_clip_is_treated_like_a_still_image() -> None:
    frozen = scanner_frames(1) * 8
    assert suggest_crop(frozen, Probe.CONVEX) == suggest_crop(frozen[:1], Probe.CONVEX)
    cleaned = clean_frames(frozen, Crop(*FAN), 224, remove_overlays=True)
    assert cleaned.masks is not None and cleaned.kept == tuple(range(8))
    # Without motion white text cannot be told from bright tissue: only the coloured marker goes.
    assert 0 < cleaned.masks[0].mean() < 0.01


def test_a_black_clip_falls_back_to_the_whole_frame() -> None:
    black = [np.zeros((HEIGHT, WIDTH, 3), np.uint8)] * 6
    assert suggest_crop(black, Probe.CONVEX) == Crop(0, 0, WIDTH, HEIGHT)


def test_burnt_in_text_and_marker_are_masked_and_inpainted() -> None:
    frames = scanner_frames()
    crop = Crop(*FAN)
    cleaned = clean_frames(frames, crop, 224, remove_overlays=True)
    assert cleaned.masks is not None and len(cleaned.frames) == len(frames)
    text = np.zeros((HEIGHT, WIDTH), np.uint8)
    cv2.putText(text, "R2", TEXT_AT, cv2.FONT_HERSHEY_SIMPLEX, 0.7, 1, 2)
    text_small = apply_crop_and_resize(np.dstack([text * 255] * 3), crop, 224)[..., 0] > 127
    mask, after = cleaned.masks[0], cleaned.frames[0]
    assert mask[text_small].mean() > 0.95  # the text is covered
    assert mask.mean() < 0.05  # and little else
    assert after[text_small].mean() < 200  # the white strokes are gone, filled from the speckle around
    marker = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    cv2.drawMarker(marker, (TEXT_AT[0] + 10, TEXT_AT[1] + 30), YELLOW, cv2.MARKER_CROSS, 14, 2)
    marker_small = apply_crop_and_resize(marker, crop, 224)[..., 0] > 127
    assert mask[marker_small].mean() > 0.95
    chroma = after.max(axis=2).astype(int) - after.min(axis=2)
    assert chroma[marker_small].max() < 60  # no yellow left


def test_speckle_without_overlays_is_left_alone() -> None:
    frames = scanner_frames(label=False)
    cleaned = clean_frames(frames, Crop(*FAN), 224, remove_overlays=True)
    assert cleaned.masks is not None
    assert max(m.mean() for m in cleaned.masks) < 0.002


def test_frames_with_a_moving_pointer_over_the_lung_are_dropped() -> None:
    frames = scanner_frames(label=False, pointer={2, 3, 7})
    cleaned = clean_frames(frames, Crop(*FAN), 224, remove_overlays=True)
    assert cleaned.kept == tuple(i for i in range(len(frames)) if i not in {2, 3, 7})


def test_overlay_removal_can_be_switched_off() -> None:
    frames = scanner_frames(pointer={2})
    cleaned = clean_frames(frames, Crop(*FAN), 224, remove_overlays=False)
    assert cleaned.masks is None and cleaned.kept == tuple(range(len(frames)))
    assert np.array_equal(cleaned.frames[0], apply_crop_and_resize(frames[0], Crop(*FAN), 224))


def test_a_one_pixel_mark_survives_shrinking_a_mask_to_a_width_and_height() -> None:
    mask = np.zeros((100, 400), bool)
    mask[50, 201] = True  # a one-pixel stroke, which averaging would thin below any threshold
    small = resize_mask(mask, (100, 25))
    assert small.shape == (25, 100)
    assert small[11:14, 49:52].all() and small.sum() == 9  # the pixel it falls in and the margin around


def test_apply_crop_and_resize_gives_square_rgb_uint8() -> None:
    frame = scanner_frames(1)[0]
    for crop in (Crop(*FAN), Crop(0, 0, 20, 10), Crop(0, 0, WIDTH, HEIGHT)):
        out = apply_crop_and_resize(frame, crop, 224)
        assert out.shape == (224, 224, 3) and out.dtype == np.uint8


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ((0, 0, 0, 10), "positive"),
        ((0, 0, 10, -1), "positive"),
        ((-1, 0, 10, 10), "non-negative"),
        ((0.5, 0, 10, 10), "whole numbers"),
        ((True, 0, 10, 10), "whole numbers"),
    ],
)
def test_crop_rejects_bad_values(values: tuple[object, ...], message: str) -> None:
    with pytest.raises(CropError, match=message):
        Crop(*values)  # type: ignore[arg-type]


def test_crop_must_stay_inside_the_frame() -> None:
    assert Crop(10, 10, 100, 100).check_within(110, 110) == Crop(10, 10, 100, 100)
    with pytest.raises(CropError, match="outside the 100 x 100 frame"):
        Crop(10, 10, 100, 100).check_within(100, 100)
    with pytest.raises(CropError):
        apply_crop_and_resize(np.zeros((50, 50, 3), np.uint8), Crop(0, 0, 60, 10), 224)
    with pytest.raises(Exception, match="cannot assign"):
        Crop(1, 1, 1, 1).x = 2  # type: ignore[misc]
