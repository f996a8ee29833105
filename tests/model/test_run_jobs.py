"""Background training: the run id comes back at once, progress lands on the run row, failures are kept."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from db.models import ModelRun, Prediction
from db.session import session_scope
from reviewer.run_jobs import JobError, ProgressWriter, abandon_run, fraction, start_training, wait_for
from reviewer.settings import Settings
from reviewer.training import TrainConfig, TrainingError

pytestmark = pytest.mark.slow
CONFIG = TrainConfig(weights="hed", folds=3, input_size=32, epochs=1, augmentations=1, patience=1, seed=3)


def _run(engine: Engine, run_id: int) -> ModelRun:
    with session_scope(engine) as session:
        return session.get_one(ModelRun, run_id)


def test_a_background_run_trains_and_reports_progress(phantom_engine: Engine, settings: Settings) -> None:
    run_id = start_training(engine=phantom_engine, settings=settings, config=CONFIG, actor_id=None)
    assert _run(phantom_engine, run_id).status in {"running", "done"}
    wait_for(run_id)
    run = _run(phantom_engine, run_id)
    assert run.status == "done" and run.progress == 1.0 and run.error is None
    assert run.progress_note is not None and "uncertainty" in run.progress_note
    with session_scope(phantom_engine) as session:
        assert session.exec(select(Prediction).where(Prediction.run_id == run_id)).first() is not None


def test_a_failing_run_is_marked_failed_with_its_message(phantom_engine: Engine, settings: Settings) -> None:
    broken = dataclasses.replace(CONFIG, weights=str(settings.home / "missing.weights.h5"))
    run_id = start_training(engine=phantom_engine, settings=settings, config=broken, actor_id=None)
    wait_for(run_id)
    run = _run(phantom_engine, run_id)
    assert run.status == "failed" and run.finished_at is not None
    assert run.error is not None and "missing.weights.h5" in run.error


def test_no_second_run_starts_while_one_is_training(phantom_engine: Engine, settings: Settings) -> None:
    with session_scope(phantom_engine) as session:
        session.add(ModelRun(status="running", progress=0.4))
    with pytest.raises(JobError, match="still training \\(40%\\)"):
        start_training(engine=phantom_engine, settings=settings, config=CONFIG, actor_id=None)
    with session_scope(phantom_engine) as session:
        assert len(session.exec(select(ModelRun)).all()) == 1


def test_only_a_running_run_can_be_abandoned(engine: Engine) -> None:
    with session_scope(engine) as session:
        done = ModelRun(status="done")
        session.add(done)
        session.flush()
        done_id = int(done.id or 0)
    with pytest.raises(JobError, match="not training"):
        abandon_run(engine=engine, run_id=done_id, actor_id=None)
    assert _run(engine, done_id).status == "done"


def test_a_run_that_cannot_start_is_refused_before_any_thread(engine: Engine, settings: Settings) -> None:
    with pytest.raises(TrainingError, match="No labelled"):
        start_training(engine=engine, settings=settings, config=CONFIG, actor_id=None)


def test_progress_is_monotonic_over_the_stages_and_written_to_the_row(engine: Engine) -> None:
    stages = [("features", 5, 10), ("features", 10, 10), ("fold 1/2 epoch", 1, 2), ("fold 2/2 epoch", 2, 2)]
    values = [fraction(*stage)[0] for stage in [*stages, ("uncertainty", 10, 10)]]
    assert values == sorted(values) and values[-1] == pytest.approx(1.0)
    assert fraction("fold 2/2 epoch", 2, 2)[1] == "Training fold 2 of 2: epoch 2 of 2"
    with session_scope(engine) as session:
        run = ModelRun()
        session.add(run)
        session.flush()
        run_id = int(run.id or 0)
    writer = ProgressWriter(engine, run_id)
    writer("features", 10, 10)
    writer("fold 1/2 epoch", 1, 40)  # within a second of the last write: skipped
    assert _run(engine, run_id).progress == pytest.approx(0.3)
    writer("fold 1/2 epoch", 40, 40)  # a stage's end is always written
    assert _run(engine, run_id).progress == pytest.approx(0.6)
    assert _run(engine, run_id).progress_note == "Training fold 1 of 2: epoch 40 of 40"
