"""Train a VGG-CAM ensemble: 5 fold heads on one shared, cached trunk, recorded as a model run.

A run is written in three short transactions so the database is never locked while TensorFlow
works: (1) the run row, its data snapshot and fold assignment; (2) after training, the predictions
and metrics; or (2') the failure and its message. Weights live under ``runs/<run id>/``.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from db.models import FoldAssignment, Frame, ModelRun, Video, utcnow
from db.session import session_scope
from reviewer.audit import record
from reviewer.features import FrameSet, load_frame_set, run_features
from reviewer.folds import assign_folds
from reviewer.metrics import FoldPredictions, evaluate
from reviewer.predictions import store_predictions
from reviewer.settings import Settings
from reviewer.vocab import LusClass, Probe, RunStatus

Progress = Callable[[str, int, int], None]
PAPER_CLASSES = (LusClass.COVID, LusClass.PNEUMONIA, LusClass.HEALTHY)


class TrainingError(ValueError):
    """A run that cannot start (e.g. too few videos); the message is safe to show."""


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a run; stored with it so it can be reproduced."""

    weights: str = "hed"
    trainable_conv: bool = True
    augmentations: int = 8
    epochs: int = 40
    folds: int = 5
    input_size: int = 224
    seed: int = 0
    probe: Probe = Probe.CONVEX
    classes: tuple[LusClass, ...] = PAPER_CLASSES
    batch_size: int = 8
    learning_rate: float = 1e-4
    patience: int = 5
    validation_share: float = 0.2

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form for ``ModelRun.config``."""
        data = dataclasses.asdict(self)
        data["probe"] = self.probe.value
        data["classes"] = [c.value for c in self.classes]
        return data


def run_dir(settings: Settings, run_id: int) -> Path:
    """Folder of one run's weights."""
    return settings.runs_dir / f"run-{run_id:05d}"


def start_run(*, session: Session, config: TrainConfig, user_id: int | None = None) -> ModelRun:
    """Snapshot the labelled videos, assign folds by video and record the run as running."""
    if len(set(config.classes)) < 2:
        raise TrainingError("Choose at least two classes to train on.")
    query = (
        select(Video.id, Video.label)
        .where(Video.probe == config.probe.value, col(Video.label).in_([c.value for c in config.classes]))
        .where(col(Video.id).in_(select(Frame.video_id)))
        .order_by(col(Video.id))
    )
    rows = [(vid, str(label)) for vid, label in session.exec(query) if vid is not None]
    if not rows:
        raise TrainingError(f"No labelled {config.probe.value} videos of the chosen classes are stored.")
    try:
        folds = assign_folds([v for v, _ in rows], [lab for _, lab in rows], config.folds, config.seed)
    except ValueError as exc:
        raise TrainingError(str(exc)) from exc
    run = ModelRun(
        config=config.as_dict(),
        classes=[c.value for c in config.classes],
        data_snapshot=[{"video_id": v, "label": lab} for v, lab in rows],
        seed=config.seed,
        created_by_id=user_id,
    )
    session.add(run)
    session.flush()
    assert run.id is not None
    session.add_all(FoldAssignment(run_id=run.id, video_id=v, fold=f) for v, f in folds.items())
    record(
        session=session,
        action="run.start",
        entity="model_run",
        entity_id=run.id,
        user_id=user_id,
        videos=len(rows),
    )
    return run


def train_model(
    *,
    engine: Engine,
    settings: Settings,
    config: TrainConfig,
    user_id: int | None = None,
    progress: Progress | None = None,
) -> ModelRun:
    """Train the whole ensemble and store its predictions and metrics; failures are recorded too."""
    with session_scope(engine) as session:
        run = start_run(session=session, config=config, user_id=user_id)
        frame_set = load_frame_set(session=session, settings=settings, run=run)
    assert run.id is not None
    try:
        heads, metrics, predictions = _fit_folds(settings, config, run.id, frame_set, progress)
    except Exception as exc:
        _finish(engine, run.id, status=RunStatus.FAILED, error=f"{type(exc).__name__}: {exc}")
        shutil.rmtree(run_dir(settings, run.id), ignore_errors=True)
        raise
    with session_scope(engine) as session:
        store_predictions(
            session=session, run_id=run.id, frame_set=frame_set, classes=config.classes, **predictions
        )
    return _finish(
        engine,
        run.id,
        status=RunStatus.DONE,
        metrics=metrics,
        weights_dir=str(run_dir(settings, run.id).relative_to(settings.home)),
    )


def _fit_folds(
    settings: Settings, config: TrainConfig, run_id: int, frames: FrameSet, progress: Progress | None
) -> tuple[list[Any], dict[str, Any], dict[str, np.ndarray]]:
    """Fill the feature cache, train one head per fold, predict held-out and ensemble probabilities."""
    from model.cams import ensemble_probabilities, head_probabilities
    from model.fitting import HeadConfig, split_validation
    from model.heads import save_head, train_head

    features, conv_init = run_features(settings=settings, config=config, frames=frames, progress=progress)
    head_config = HeadConfig(
        epochs=config.epochs,
        batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        patience=config.patience,
        trainable_conv=config.trainable_conv,
    )
    heads, folds, held_out = [], [], np.zeros((len(frames.labels), len(config.classes)), np.float32)
    for fold in range(config.folds):
        train_rows = np.flatnonzero(frames.folds != fold)
        test_rows = np.flatnonzero(frames.folds == fold)
        fit_rows, val_rows = split_validation(
            frames.video_ids, frames.labels, train_rows, config.validation_share, config.seed + fold
        )

        def fold_progress(stage: str, done: int, total: int, fold: int = fold) -> None:
            if progress is not None:
                progress(f"fold {fold + 1}/{config.folds} {stage}", done, total)

        head, _ = train_head(
            features,
            frames.labels,
            train_rows=fit_rows,
            val_rows=val_rows,
            n_classes=len(config.classes),
            conv_init=conv_init,
            config=head_config,
            seed=config.seed + fold,
            progress=fold_progress,
        )
        save_head(head, run_dir(settings, run_id) / f"fold-{fold}.weights.h5")
        held_out[test_rows] = head_probabilities(head, np.asarray(features[test_rows, 0], np.float32))
        folds.append(
            FoldPredictions(
                y_true=frames.labels[test_rows].astype(np.int64),
                proba=held_out[test_rows].astype(np.float64),
                video_ids=frames.video_ids[test_rows].astype(np.int64),
            )
        )
        heads.append(head)
    ensemble = ensemble_probabilities(heads, np.asarray(features[:, 0], np.float32))
    metrics = evaluate(folds, [c.value for c in config.classes])
    return heads, dict(metrics), {"held_out": held_out, "ensemble": ensemble}


def _finish(engine: Engine, run_id: int, *, status: RunStatus, **fields: Any) -> ModelRun:
    with session_scope(engine) as session:
        run = session.get_one(ModelRun, run_id)
        run.status = status.value
        run.finished_at = utcnow()
        for name, value in fields.items():
            setattr(run, name, value)
        record(
            session=session,
            action=f"run.{status.value}",
            entity="model_run",
            entity_id=run_id,
            user_id=None,
            error=fields.get("error"),
        )
        return run
