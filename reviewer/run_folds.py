"""The training step of a run: one head per fold on the shared cached trunk, then scoring.

Each fold's head trains on the other folds' videos (minus a validation split of whole videos for
early stopping) and is saved under the run's folder; afterwards every head scores every frame
(deterministic, MC dropout, augmentation), which gives the held-out metrics, the ensemble and both
confidences at once. What early stopping did in each fold is kept with the metrics (``"training"``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from reviewer.features import FrameSet, run_features
from reviewer.metrics import FoldPredictions, evaluate
from reviewer.run_uncertainty import HeadPasses, score_cached
from reviewer.settings import Settings
from reviewer.stats_data import finite_or_none
from reviewer.storage import published
from reviewer.training import Progress, TrainConfig, run_dir
from reviewer.training_plots import EpochLog, FoldTraining

if TYPE_CHECKING:
    from model.fitting import HeadConfig, TrainResult


def fit_folds(
    settings: Settings, config: TrainConfig, run_id: int, frames: FrameSet, progress: Progress | None
) -> tuple[dict[str, Any], HeadPasses]:
    """Fill the feature cache, train one head per fold, score every frame with every head.

    Returns:
        The metrics of :func:`reviewer.metrics.evaluate` plus ``"training"`` (one
        :class:`~reviewer.training_plots.FoldTraining` per fold), and every head's scores.
    """
    features, conv_init = run_features(settings=settings, config=config, frames=frames, progress=progress)
    fitted = [
        _fit_fold(settings, config, run_id, frames, features, conv_init, fold, progress)
        for fold in range(config.folds)
    ]
    heads = [head for head, _ in fitted]
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
    metrics: dict[str, Any] = dict(evaluate(folds, [c.value for c in config.classes]))
    metrics["training"] = [_fold_training(fold, result) for fold, (_, result) in enumerate(fitted)]
    return metrics, scored


def _fold_training(fold: int, result: TrainResult) -> FoldTraining:
    """A fold's early-stopping record in JSON-safe form (a diverged epoch's NaN loss becomes None)."""
    history: list[EpochLog] = [
        {key: int(value) if key == "epoch" else finite_or_none(value) for key, value in log.items()}
        for log in result.history
    ]
    return {
        "fold": fold,
        "best_epoch": int(result.best_epoch),
        "epochs_run": int(result.epochs_run),
        "history": history,
    }


def head_config(config: TrainConfig) -> HeadConfig:
    """The fold heads' hyper-parameters of a run (the run config also says what data and trunk)."""
    from model.fitting import HeadConfig

    return HeadConfig(
        epochs=config.epochs,
        batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        patience=config.patience,
        trainable_conv=config.trainable_conv,
    )


def _fit_fold(
    settings: Settings,
    config: TrainConfig,
    run_id: int,
    frames: FrameSet,
    features: np.ndarray,
    conv_init: list[Any],
    fold: int,
    progress: Progress | None,
) -> tuple[Any, TrainResult]:
    """Train and save the head of one fold on the other folds' videos (minus a validation split).

    Returns:
        The head (best validation weights) and what early stopping did.
    """
    from model.fitting import split_validation
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

    head, result = train_head(
        features,
        frames.labels,
        train_rows=fit_rows,
        val_rows=val_rows,
        n_classes=len(config.classes),
        conv_init=conv_init,
        config=head_config(config),
        seed=config.seed + fold,
        progress=fold_progress,
    )
    with published(run_dir(settings, run_id) / f"fold-{fold}.weights.h5") as partial:
        save_head(head, partial)
    return head, result
