"""Small, real TensorFlow fixtures for the model tests: 64 px VGG16s and a learnable toy task."""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import pytest

from model.backbone import build_vgg16
from model.trunk import build_trunk

SIZE = 64


@pytest.fixture(scope="session")
def hed_backbone() -> keras.Model:
    return build_vgg16("hed", SIZE)


@pytest.fixture(scope="session")
def none_backbone() -> keras.Model:
    keras.utils.set_random_seed(0)
    return build_vgg16("none", SIZE)


@pytest.fixture(scope="session")
def hed_trunk(hed_backbone: keras.Model) -> keras.Model:
    return build_trunk(hed_backbone)


@pytest.fixture(scope="session")
def none_trunk(none_backbone: keras.Model) -> keras.Model:
    return build_trunk(none_backbone)


def randomise_dense(head: keras.Model, seed: int = 0) -> keras.Model:
    """Give a fresh head (zero dense kernel) random class weights, as after training."""
    dense = head.get_layer("predictions")
    kernel, bias = dense.get_weights()
    rng = np.random.default_rng(seed)
    dense.set_weights(
        [
            rng.normal(0, 0.05, kernel.shape).astype(np.float32),
            rng.normal(0, 0.1, bias.shape).astype(np.float32),
        ]
    )
    return head


@dataclass(frozen=True)
class LinesTask:
    """Class 0 frames show a bright horizontal band (A-line like), class 1 a vertical one (B-line like)."""

    frames: np.ndarray
    labels: np.ndarray
    videos: np.ndarray


def lines_task(videos_per_class: int, frames_per_video: int, seed: int = 0) -> LinesTask:
    rng = np.random.default_rng(seed)
    n_videos = 2 * videos_per_class
    labels = np.repeat(np.arange(n_videos) % 2, frames_per_video)
    videos = np.repeat(np.arange(n_videos), frames_per_video)
    frames = rng.integers(0, 60, size=(len(labels), SIZE, SIZE, 3)).astype(np.uint8)
    for i, label in enumerate(labels):
        at = int(rng.integers(12, SIZE - 16))
        if label == 0:
            frames[i, at : at + 4, 8:-8] = 230
        else:
            frames[i, 8:-8, at : at + 4] = 230
    return LinesTask(frames=frames, labels=labels, videos=videos)


@pytest.fixture(scope="session")
def lines() -> LinesTask:
    return lines_task(videos_per_class=6, frames_per_video=3)
