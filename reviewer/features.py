"""The features step: stored frames of a run's videos -> trunk features, cached on disk.

The trunk (VGG16 up to ``block5_conv2``) is frozen and shared by every fold model, so its outputs
for every frame and augmented copy are computed once per (weights, frames, K, seed) and reused by
all folds, epochs and later CAM passes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
from sqlmodel import Session, col, select

from db.models import FoldAssignment, Frame, ModelRun
from reviewer.settings import Settings
from reviewer.storage import resolve

if TYPE_CHECKING:
    from reviewer.training import TrainConfig

Progress = Callable[[str, int, int], None]


class FrameLoadError(ValueError):
    """A stored frame is missing or unreadable; the message names it."""


@dataclasses.dataclass(frozen=True)
class FrameSet:
    """The frames of a run in a fixed order, with their video, class index and test fold."""

    frame_ids: np.ndarray
    video_ids: np.ndarray
    frame_indices: np.ndarray
    labels: np.ndarray
    folds: np.ndarray
    images: np.ndarray


def load_frame_set(*, session: Session, settings: Settings, run: ModelRun) -> FrameSet:
    """Read every stored frame of the run's snapshot videos (RGB uint8), ordered by video and index."""
    class_index = {name: i for i, name in enumerate(run.classes)}
    label_of = {row["video_id"]: row["label"] for row in run.data_snapshot}
    query = (
        select(Frame, FoldAssignment.fold)
        .join(FoldAssignment, col(FoldAssignment.video_id) == col(Frame.video_id))
        .where(FoldAssignment.run_id == run.id)
        .order_by(col(Frame.video_id), col(Frame.index))
    )
    rows = list(session.exec(query))
    images = np.stack([_read_rgb(settings, frame.image_path) for frame, _ in rows])
    return FrameSet(
        frame_ids=np.array([frame.id for frame, _ in rows], np.int64),
        video_ids=np.array([frame.video_id for frame, _ in rows], np.int64),
        frame_indices=np.array([frame.index for frame, _ in rows], np.int64),
        labels=np.array([class_index[label_of[frame.video_id]] for frame, _ in rows], np.int64),
        folds=np.array([fold for _, fold in rows], np.int64),
        images=images,
    )


def _read_rgb(settings: Settings, relative: str) -> np.ndarray:
    image = cv2.imread(str(resolve(settings, relative)), cv2.IMREAD_COLOR)
    if image is None:
        raise FrameLoadError(f"Stored frame {relative} is missing or unreadable; re-ingest its video.")
    return np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), np.uint8)


def run_features(
    *, settings: Settings, config: TrainConfig, frames: FrameSet, progress: Progress | None = None
) -> tuple[np.ndarray, list[Any]]:
    """Trunk features ``(N, K, h, w, 512)`` of every frame and copy, and the backbone's ``block5_conv3``.

    Returns:
        The memory-mapped feature cache and ``[kernel, bias]`` to initialise each fold head's conv.
    """
    import keras

    from model.augment import resize_frames
    from model.backbone import build_vgg16
    from model.feature_cache import cached_features
    from model.trunk import build_trunk

    keras.utils.set_random_seed(config.seed)  # "none" weights are random: make them reproducible
    backbone = build_vgg16(config.weights, config.input_size)
    features = cached_features(
        build_trunk(backbone),
        resize_frames(frames.images, config.input_size),
        cache_dir=settings.feature_cache_dir,
        copies=config.augmentations,
        seed=config.seed,
        frame_ids=[str(i) for i in frames.frame_ids],
        progress=progress,
    )
    return features, list(backbone.get_layer("block5_conv3").get_weights())
