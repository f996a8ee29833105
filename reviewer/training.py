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

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from db.models import FoldAssignment, Frame, ModelRun, Video, utcnow
from db.session import session_scope
from reviewer.audit import record
from reviewer.features import load_frame_set
from reviewer.folds import assign_folds
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
    patience: int = 10  # model.fitting.HeadConfig.patience, which says why (importing it loads Keras)
    validation_share: float = 0.2
    uncertainty_passes: int = 10

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form for ``ModelRun.config``."""
        data = dataclasses.asdict(self)
        data["probe"] = self.probe.value
        data["classes"] = [c.value for c in self.classes]
        return data


LIMITS: dict[str, tuple[int, int]] = {
    "augmentations": (1, 64),
    "epochs": (1, 200),
    "folds": (2, 10),
    "input_size": (32, 512),
    "seed": (0, 2**31 - 1),
    "uncertainty_passes": (2, 100),
}
"""Inclusive bounds of the integer settings a form or command line may choose."""
INPUT_STEP = 16
"""VGG16 halves the input four times before ``block5_conv2``; multiples of 16 keep the maps whole."""


def check_config(config: TrainConfig) -> TrainConfig:
    """Refuse settings no run should start with (they come from forms and flags).

    Raises:
        TrainingError: naming the setting and its allowed range.
    """
    for name, (low, high) in LIMITS.items():
        value = getattr(config, name)
        if not low <= value <= high:
            raise TrainingError(f"{name.replace('_', ' ').capitalize()} must be between {low} and {high}.")
    if config.input_size % INPUT_STEP:
        raise TrainingError(f"Input size must be a multiple of {INPUT_STEP} pixels.")
    if len(set(config.classes)) < 2:
        raise TrainingError("Choose at least two classes to train on.")
    return config


def run_dir(settings: Settings, run_id: int) -> Path:
    """Folder of one run's weights."""
    return settings.runs_dir / f"run-{run_id:05d}"


def run_config(run: ModelRun) -> TrainConfig:
    """The config a stored run was trained with, to rebuild its trunk and heads."""
    data = dict(run.config)
    data["probe"] = Probe(data["probe"])
    data["classes"] = tuple(LusClass(c) for c in data["classes"])
    return TrainConfig(**data)


def start_run(*, session: Session, config: TrainConfig, user_id: int | None = None) -> ModelRun:
    """Snapshot the labelled videos, assign folds by video and record the run as running."""
    check_config(config)
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
    """Record a new run and train it in this thread (the CLI); see :func:`train_run`."""
    with session_scope(engine) as session:
        run = start_run(session=session, config=config, user_id=user_id)
    assert run.id is not None
    return train_run(engine=engine, settings=settings, run_id=run.id, config=config, progress=progress)


def train_run(
    *,
    engine: Engine,
    settings: Settings,
    run_id: int,
    config: TrainConfig,
    progress: Progress | None = None,
) -> ModelRun:
    """Train a recorded run's ensemble and store its predictions, confidences and metrics.

    Split from :func:`start_run` so a background job can hand the run id back at once. A failure
    marks the run failed with the error message (and removes its weights) before it is re-raised.
    """
    from reviewer.run_folds import fit_folds

    try:
        with session_scope(engine) as session:
            run = session.get_one(ModelRun, run_id)
            frame_set = load_frame_set(session=session, settings=settings, run=run)
        metrics, scored = fit_folds(settings, config, run_id, frame_set, progress)
        with session_scope(engine) as session:
            store_predictions(
                session=session, run_id=run_id, frame_set=frame_set, classes=config.classes, scored=scored
            )
    except Exception as exc:
        _finish(engine, run_id, status=RunStatus.FAILED, error=f"{type(exc).__name__}: {exc}")
        shutil.rmtree(run_dir(settings, run_id), ignore_errors=True)
        raise
    return _finish(
        engine,
        run_id,
        status=RunStatus.DONE,
        metrics=metrics,
        progress=1.0,
        weights_dir=str(run_dir(settings, run_id).relative_to(settings.home)),
    )


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
