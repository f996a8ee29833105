"""Real learning on phantom videos: a fold head beats chance on held-out videos and looks at the patterns.

One head is trained (hed weights, 112 px input, the paper's head and batch size) on 7 phantom
videos per class and judged on 3 unseen videos per class. Measured while tuning: the paper's
Adam 1e-4 needs about 30 epochs here, 1e-3 gets there in 15 (both 0.89 balanced accuracy on these
held-out videos), so the test uses 1e-3 to stay small. A head with a frozen ``block5_conv3``
(dense layer only) stays near chance on phantoms, which is why ``trainable_conv`` is the default.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import keras
import numpy as np
import pytest

from model.backbone import build_vgg16
from model.cams import cams, head_probabilities, normalise
from model.feature_cache import cached_features
from model.fitting import HeadConfig
from model.heads import CONV, train_head
from model.trunk import build_trunk
from reviewer.vocab import LusClass
from seed_data.phantom import CLASS_PATTERNS, render_phantom

pytestmark = pytest.mark.slow

SIZE = 112
CLASSES = (LusClass.COVID, LusClass.PNEUMONIA, LusClass.HEALTHY)
TRAIN_VIDEOS, TEST_VIDEOS = 7, 3
CONFIG = HeadConfig(epochs=15, learning_rate=1e-3, patience=15)


@dataclass(frozen=True)
class Phantoms:
    """Frames at the model's input size, their class, video and the union of their class' pattern masks."""

    frames: np.ndarray
    labels: np.ndarray
    videos: np.ndarray
    masks: np.ndarray


def render_set(videos_per_class: int, size: int) -> Phantoms:
    """Two frames (1 s apart) per phantom video, cropped to the fan as ingest does, resized to ``size``."""
    frames, labels, videos, masks = [], [], [], []
    for index, label in enumerate(CLASSES):
        for number in range(videos_per_class):
            phantom = render_phantom(label, 1000 * index + number, size=256, seconds=2.0, fps=1.0)
            x, y, w, h = phantom.crop
            shown = phantom.masks_at(range(len(phantom.frames)), box=phantom.crop, size=size)
            pattern = np.any([shown[p] for p in CLASS_PATTERNS[label]], axis=0)
            for t, frame in enumerate(phantom.frames):
                frames.append(
                    cv2.resize(frame[y : y + h, x : x + w], (size, size), interpolation=cv2.INTER_AREA)
                )
                labels.append(index)
                videos.append(100 * index + number)
                masks.append(pattern[t])
    return Phantoms(np.stack(frames), np.array(labels), np.array(videos), np.stack(masks))


@dataclass(frozen=True)
class Trained:
    head: keras.Model
    test_features: np.ndarray
    test: Phantoms


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    data = render_set(TRAIN_VIDEOS + TEST_VIDEOS, SIZE)
    backbone = build_vgg16("hed", SIZE)
    cache: Path = tmp_path_factory.mktemp("cache")
    features = cached_features(build_trunk(backbone), data.frames, cache_dir=cache, copies=1, seed=0)
    is_test = data.videos % 100 >= TRAIN_VIDEOS
    head, _ = train_head(
        features,
        data.labels,
        train_rows=np.flatnonzero(~is_test),
        val_rows=np.array([], dtype=np.int64),
        n_classes=len(CLASSES),
        conv_init=backbone.get_layer(CONV).get_weights(),
        config=CONFIG,
        seed=0,
    )
    test = Phantoms(data.frames[is_test], data.labels[is_test], data.videos[is_test], data.masks[is_test])
    return Trained(head, np.asarray(features[is_test, 0], np.float32), test)


def test_held_out_phantom_videos_are_classified_well_above_chance(trained: Trained) -> None:
    predicted = head_probabilities(trained.head, trained.test_features).argmax(axis=1)
    labels = trained.test.labels
    balanced = np.mean([np.mean(predicted[labels == c] == c) for c in range(len(CLASSES))])
    assert len(np.unique(trained.test.videos)) == TEST_VIDEOS * len(CLASSES)
    assert balanced >= 0.7  # chance is 1/3; measured 0.89


def test_cam_peaks_fall_on_the_ground_truth_patterns_more_often_than_their_area_share(
    trained: Trained,
) -> None:
    """Judged on the CAM's own grid (7 x 7 cells of 16 px at 112 px input).

    A CAM cannot place a 2-4 px wide B-line inside its 16 px cell, and a bilinear upsampled map
    peaks at a cell centre, so pixel-level hits would only sample thin masks at 49 points. Here a
    peak hits when its cell contains pattern pixels, and the chance rate is the share of such cells.
    """
    maps = normalise(cams(trained.head, trained.test_features, trained.test.labels))
    n, grid = maps.shape[:2]
    cell = SIZE // grid
    pattern_cells = trained.test.masks.reshape(n, grid, cell, grid, cell).any(axis=(2, 4))
    peaks = maps.reshape(n, -1).argmax(axis=1)
    hit_rate = pattern_cells.reshape(n, -1)[np.arange(n), peaks].mean()
    area_share = pattern_cells.mean()
    assert hit_rate >= area_share + 0.25  # measured 0.78 against 0.37
