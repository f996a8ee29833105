from __future__ import annotations

import numpy as np
import pytest

from model.augment import (
    MAX_ANGLE,
    MAX_SHIFT,
    PARAMS,
    apply_transforms,
    augment_batch,
    augmented_copies,
    copy_transforms,
    draw_transforms,
    resize_frames,
)


def frames(n: int = 4, size: int = 32) -> np.ndarray:
    return np.random.default_rng(1).integers(0, 256, size=(n, size, size, 3)).astype(np.uint8)


def transform(**values: float) -> np.ndarray:
    row = np.zeros((1, len(PARAMS)))
    for name, value in values.items():
        row[0, PARAMS.index(name)] = value
    return row


def test_shapes_dtype_and_input_untouched() -> None:
    x = frames()
    before = x.copy()
    out = augment_batch(x, np.random.default_rng(0))
    assert out.shape == x.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(x, before)
    assert not np.array_equal(out, x)


def test_transforms_stay_in_the_papers_ranges() -> None:
    t = draw_transforms(2000, np.random.default_rng(0))
    assert set(np.unique(t[:, :2])) == {0.0, 1.0}
    assert 0.4 < t[:, 0].mean() < 0.6 and 0.4 < t[:, 1].mean() < 0.6
    assert np.abs(t[:, 2]).max() <= MAX_ANGLE and np.abs(t[:, 2]).max() > 0.9 * MAX_ANGLE
    assert np.abs(t[:, 3:]).max() <= MAX_SHIFT


def test_same_seed_same_frames_other_seed_other_frames() -> None:
    x = frames()
    a = augment_batch(x, np.random.default_rng(7))
    np.testing.assert_array_equal(a, augment_batch(x, np.random.default_rng(7)))
    assert not np.array_equal(a, augment_batch(x, np.random.default_rng(8)))
    np.testing.assert_array_equal(augmented_copies(x, 3, seed=5), augmented_copies(x, 3, seed=5))


def test_flips_are_exact_mirror_images() -> None:
    x = frames(1)
    np.testing.assert_array_equal(apply_transforms(x, transform(flip_horizontal=1)), x[:, :, ::-1])
    np.testing.assert_array_equal(apply_transforms(x, transform(flip_vertical=1)), x[:, ::-1])
    both = apply_transforms(x, transform(flip_horizontal=1, flip_vertical=1))
    np.testing.assert_array_equal(both, x[:, ::-1, ::-1])


def test_shift_moves_content_and_fills_black() -> None:
    x = np.zeros((1, 40, 40, 3), np.uint8)
    x[0, 20, 10] = 255
    moved = apply_transforms(x, transform(shift_x=0.1, shift_y=-0.1))  # 4 px right, 4 px up
    assert moved[0, 16, 14, 0] == 255 and moved.sum() == 3 * 255
    full = np.full((1, 40, 40, 3), 200, np.uint8)
    rotated = apply_transforms(full, transform(angle_degrees=10))
    assert rotated[0, 0, 0, 0] == 0 and rotated[0, 20, 20, 0] == 200  # corners black, centre kept


def test_copy_zero_is_the_original_and_copies_differ() -> None:
    x = frames()
    copies = augmented_copies(x, 4, seed=3)
    assert copies.shape == (4, 4, 32, 32, 3)
    np.testing.assert_array_equal(copies[:, 0], x)
    assert not np.array_equal(copies[:, 1], copies[:, 2])
    np.testing.assert_array_equal(copy_transforms(4, 0, seed=3), 0)
    np.testing.assert_array_equal(copies[:, 2], apply_transforms(x, copy_transforms(4, 2, seed=3)))


def test_mismatched_transforms_are_refused() -> None:
    with pytest.raises(ValueError, match="3 frames but 2 transforms"):
        apply_transforms(frames(3), draw_transforms(2, np.random.default_rng(0)))


def test_resize_frames() -> None:
    x = frames(2, 64)
    assert resize_frames(x, 32).shape == (2, 32, 32, 3)
    assert resize_frames(x, 64) is x
