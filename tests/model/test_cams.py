from __future__ import annotations

import keras
import numpy as np
import pytest

from model import cams as cam_lib
from model.heads import build_head, fold_standardisation

from .conftest import randomise_dense

N, H, W, C = 4, 3, 5, 3


@pytest.fixture(scope="module")
def heads() -> list[keras.Model]:
    keras.utils.set_random_seed(0)
    return [randomise_dense(build_head(C), seed) for seed in range(3)]


@pytest.fixture(scope="module")
def features() -> np.ndarray:
    rng = np.random.default_rng(0)
    return (np.maximum(rng.normal(size=(N, H, W, 512)), 0) * 3).astype(np.float16)


def manual_activations(head: keras.Model, features: np.ndarray) -> np.ndarray:
    """block5_conv3 by hand: 3x3 'same' conv + ReLU in numpy."""
    kernel, bias = head.get_layer("block5_conv3").get_weights()
    x = np.pad(features.astype(np.float64), ((0, 0), (1, 1), (1, 1), (0, 0)))
    out = np.zeros((*features.shape[:3], kernel.shape[-1]))
    for dy in range(3):
        for dx in range(3):
            out += np.einsum("nhwi,io->nhwo", x[:, dy : dy + H, dx : dx + W], kernel[dy, dx])
    return np.maximum(out + bias, 0)


def test_cam_is_the_weighted_sum_of_conv_activations(heads: list[keras.Model], features: np.ndarray) -> None:
    head = heads[0]
    activations = manual_activations(head, features)
    np.testing.assert_allclose(cam_lib.activations(head, features), activations, rtol=1e-4, atol=1e-3)
    w, b = head.get_layer("predictions").get_weights()
    for c in range(C):
        expected = sum(w[k, c] * activations[..., k] for k in range(512)) + b[c]
        got = cam_lib.cams(head, features, c)
        assert got.dtype == np.float32 and got.shape == (N, H, W)
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-3)
    per_frame = np.array([0, 2, 1, 2])
    expected = np.stack([cam_lib.cams(head, features, c)[i] for i, c in enumerate(per_frame)])
    np.testing.assert_allclose(cam_lib.cams(head, features, per_frame), expected, rtol=1e-6)


def test_cam_mean_is_the_logit(heads: list[keras.Model], features: np.ndarray) -> None:
    head = heads[1]
    maps = np.stack([cam_lib.cams(head, features, c) for c in range(C)], axis=-1)
    logits = maps.mean(axis=(1, 2))
    softmax = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(cam_lib.head_probabilities(head, features), softmax, rtol=1e-4, atol=1e-6)


def test_normalise_gives_float32_in_unit_range() -> None:
    maps = np.stack([np.arange(6.0).reshape(2, 3) - 2, np.zeros((2, 3)), -np.ones((2, 3))])
    out = cam_lib.normalise(maps)
    assert out.dtype == np.float32 and out.min() >= 0 and out.max() <= 1
    np.testing.assert_allclose(out[0], np.maximum(maps[0], 0) / 3)
    np.testing.assert_array_equal(out[1:], 0)  # flat or purely negative maps carry no evidence
    assert not np.isnan(out).any()


def test_train_cam_is_the_normalised_mean_of_fold_cams(
    heads: list[keras.Model], features: np.ndarray
) -> None:
    folds = [cam_lib.cams(head, features, 1) for head in heads]
    train = cam_lib.train_cam(heads, features, 1)
    np.testing.assert_allclose(train, cam_lib.normalise(np.mean(folds, axis=0)), rtol=1e-6)
    assert train.dtype == np.float32 and train.min() >= 0 and train.max() == 1
    test = cam_lib.test_cam(heads[2], features, 1)
    np.testing.assert_array_equal(test, cam_lib.normalise(folds[2]))


def test_upsample_and_peak_in_frame_pixels() -> None:
    cam = np.zeros((1, 4, 4), np.float32)
    cam[0, 1, 3] = 1.0  # row 1, column 3
    big = cam_lib.upsample(cam, 64)
    assert big.shape == (1, 64, 64) and big.dtype == np.float32
    assert big.min() >= 0 and big.max() <= 1
    x, y = cam_lib.peak(big[0])
    assert 48 <= x < 64 and 16 <= y < 32  # inside cell (row 1, column 3) of 16 px
    assert cam_lib.upsample(cam, (32, 48)).shape == (1, 32, 48)
    assert cam_lib.peak(cam[0]) == (3, 1)


def test_a_map_without_positive_evidence_has_no_peak() -> None:
    flat = cam_lib.upsample(cam_lib.normalise(-np.ones((1, 4, 4))), 64)[0]  # all zeros, argmax (0, 0)
    assert cam_lib.peak(flat) is None
    corner = np.zeros((4, 4), np.float32)
    corner[0, 0] = 0.5
    assert cam_lib.peak(corner) == (0, 0)  # a real peak in the first pixel still counts


def test_ensemble_and_video_probabilities(heads: list[keras.Model], features: np.ndarray) -> None:
    each = [cam_lib.head_probabilities(head, features) for head in heads]
    ensemble = cam_lib.ensemble_probabilities(heads, features)
    np.testing.assert_allclose(ensemble, np.mean(each, axis=0), rtol=1e-6)
    np.testing.assert_allclose(ensemble.sum(axis=1), 1, rtol=1e-5)
    np.testing.assert_allclose(cam_lib.video_probabilities(ensemble), ensemble.mean(axis=0), rtol=1e-6)


def test_cams_do_not_depend_on_folding_the_standardisation(
    heads: list[keras.Model], features: np.ndarray
) -> None:
    """A head trained on standardised activations has one CAM, written folded or not."""
    head = heads[2]
    activations = cam_lib.activations(head, features)
    pooled = activations.mean(axis=(1, 2))
    mean, scale = pooled.mean(axis=0), pooled.std(axis=0) + 0.5
    dense = head.get_layer("predictions")
    w, b = dense.get_weights()
    unfolded = np.einsum("nhwk,k->nhw", (activations - mean) / scale, w[:, 1]) + b[1]
    fold_standardisation(dense, mean, scale)
    try:
        np.testing.assert_allclose(cam_lib.cams(head, features, 1), unfolded, rtol=1e-4, atol=1e-3)
    finally:
        dense.set_weights([w, b])
