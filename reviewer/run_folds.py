"""The training step of a run: one head per fold on the shared cached trunk, then scoring.

Each fold's head trains on the other folds' videos (minus a validation split of whole videos for
early stopping) and is saved under the run's folder; afterwards every head scores every frame
(deterministic, MC dropout, augmentation), which gives the held-out metrics, the ensemble and both
confidences at once.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from reviewer.features import FrameSet, run_features
from reviewer.metrics import FoldPredictions, evaluate
from reviewer.run_uncertainty import HeadPasses, score_cached
from reviewer.settings import Settings
from reviewer.training import Progress, TrainConfig, run_dir


def fit_folds(
    settings: Settings, config: TrainConfig, run_id: int, frames: FrameSet, progress: Progress | None
) -> tuple[dict[str, Any], HeadPasses]:
    """Fill the feature cache, train one head per fold, score every frame with every head."""
    features, conv_init = run_features(settings=settings, config=config, frames=frames, progress=progress)
    heads = [
        _fit_fold(settings, config, run_id, frames, features, conv_init, fold, progress)
        for fold in range(config.folds)
    ]
    scored = score_cached(config, frames.images, features, heads, progress)
    held_out = scored.held_out(frames.folds).probabilities
    folds = [
        FoldPredictions(
            y_true=frames.labels[rows].astype(np.int64),
            proba=held_out[rows].astype(np.float64),
            video_ids=frames.video_ids[rows].astype(np.int64),
        )
        for rows in (np.flatnonzero(frames.folds == fold) for fold in range(config.folds))
    ]
    return dict(evaluate(folds, [c.value for c in config.classes])), scored


def _fit_fold(
    settings: Settings,
    config: TrainConfig,
    run_id: int,
    frames: FrameSet,
    features: np.ndarray,
    conv_init: list[Any],
    fold: int,
    progress: Progress | None,
) -> Any:
    """Train and save the head of one fold on the other folds' videos (minus a validation split)."""
    from model.fitting import HeadConfig, split_validation
    from model.heads import save_head, train_head

    fit_rows, val_rows = split_validation(
        frames.video_ids,
        frames.labels,
        np.flatnonzero(frames.folds != fold),
        config.validation_share,
        config.seed + fold,
    )

    def fold_progress(stage: str, done: int, total: int) -> None:
        if progress is not None:
            progress(f"fold {fold + 1}/{config.folds} {stage}", done, total)

    head, _ = train_head(
        features,
        frames.labels,
        train_rows=fit_rows,
        val_rows=val_rows,
        n_classes=len(config.classes),
        conv_init=conv_init,
        config=HeadConfig(
            epochs=config.epochs,
            batch_size=config.batch_size,
            learning_rate=config.learning_rate,
            patience=config.patience,
            trainable_conv=config.trainable_conv,
        ),
        seed=config.seed + fold,
        progress=fold_progress,
    )
    save_head(head, run_dir(settings, run_id) / f"fold-{fold}.weights.h5")
    return head
