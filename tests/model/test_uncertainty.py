from __future__ import annotations

import keras
import numpy as np
import pytest

from model.cams import ensemble_probabilities
from model.heads import build_head
from model.uncertainty import (
    confidence,
    frame_confidence,
    mc_dropout_probabilities,
    tta_probabilities,
    video_confidence,
)

from .conftest import SIZE, randomise_dense


@pytest.fixture(scope="module")
def features() -> np.ndarray:
    return np.maximum(np.random.default_rng(0).normal(size=(6, 4, 4, 512)), 0).astype(np.float16)


def heads(dropout: float = 0.5) -> list[keras.Model]:
    keras.utils.set_random_seed(1)
    return [randomise_dense(build_head(3, dropout=dropout), seed) for seed in range(2)]


def test_mc_dropout_passes_differ_deterministic_inference_does_not(features: np.ndarray) -> None:
    ensemble = heads()
    passes = mc_dropout_probabilities(ensemble, features, passes=10, seed=0)
    assert passes.shape == (10, 6, 3) and passes.dtype == np.float32
    np.testing.assert_allclose(passes.sum(axis=2), 1, rtol=1e-5)
    assert np.abs(passes - passes[0]).max() > 1e-3
    np.testing.assert_array_equal(passes, mc_dropout_probabilities(ensemble, features, passes=10, seed=0))
    np.testing.assert_array_equal(
        ensemble_probabilities(ensemble, features), ensemble_probabilities(ensemble, features)
    )


def test_mc_dropout_without_dropout_is_the_deterministic_ensemble(features: np.ndarray) -> None:
    ensemble = heads(dropout=0.0)
    passes = mc_dropout_probabilities(ensemble, features, passes=3)
    for p in passes:
        np.testing.assert_allclose(p, ensemble_probabilities(ensemble, features), rtol=1e-4, atol=1e-6)


def test_confidence_formula_on_fixed_numbers() -> None:
    np.testing.assert_allclose(confidence(np.array([0.0, 0.1, 0.25, 0.5, 0.7])), [1.0, 0.8, 0.5, 0.0, 0.0])
    # Two passes 0.9 / 0.1 for the winner: sd 0.4 -> 0.2; constant passes: sd 0 -> 1.
    probs = np.array([[[0.9, 0.1], [0.6, 0.4]], [[0.1, 0.9], [0.6, 0.4]]])
    np.testing.assert_allclose(frame_confidence(probs), [0.2, 1.0], rtol=1e-6)
    np.testing.assert_allclose(frame_confidence(probs, winner=np.array([1, 1])), [0.2, 1.0], rtol=1e-6)
    # Video: pass means (0.75, 0.25) and (0.35, 0.65): winner 0 with mean 0.55, sd 0.2 -> 0.6.
    assert video_confidence(probs) == pytest.approx(0.6)
    assert video_confidence(probs, winner=1) == pytest.approx(0.6)
    assert video_confidence(np.ones((4, 3, 2)) / 2) == 1.0


def test_tta_runs_the_trunk_on_augmented_frames(none_trunk: keras.Model) -> None:
    frames = np.random.default_rng(0).integers(0, 256, size=(2, SIZE, SIZE, 3)).astype(np.uint8)
    ensemble = heads()
    passes = tta_probabilities(none_trunk, ensemble, frames, passes=3, seed=0)
    assert passes.shape == (3, 2, 3) and passes.dtype == np.float32
    assert np.abs(passes - passes[0]).max() > 0
    np.testing.assert_array_equal(passes, tta_probabilities(none_trunk, ensemble, frames, passes=3, seed=0))
