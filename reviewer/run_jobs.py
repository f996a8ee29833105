"""Background jobs for the web app: train a run, or make its CAMs, in a daemon thread.

A page must answer within a second, while training takes minutes to hours, so the page records
the run and returns its id at once; a thread trains it and writes how far it has got into
``ModelRun.progress`` / ``progress_note`` in short transactions of their own, which any page can
poll. One run trains at a time per database: two would fight over two CPU cores and the feature
cache. CAM jobs keep their progress in this process only (they belong to a finished run).
"""

from __future__ import annotations

import dataclasses
import logging
import re
import threading
import time
from collections.abc import Callable

from sqlalchemy import Engine
from sqlmodel import select

from db.models import ModelRun, utcnow
from db.session import session_scope
from reviewer.audit import record
from reviewer.settings import Settings
from reviewer.training import TrainConfig, start_run, train_run
from reviewer.vocab import RunStatus

log = logging.getLogger(__name__)

FEATURES_SHARE, FOLDS_SHARE = 0.3, 0.6
"""Rough shares of a run's time: filling the feature cache, training the folds; scoring is the rest."""
WRITE_EVERY_S = 1.0
"""Progress is written at most this often (and always at a stage's end): each write takes the lock."""
_FOLD_STAGE = re.compile(r"fold (\d+)/(\d+) (\w+)")
_threads: dict[str, threading.Thread] = {}
_lock = threading.Lock()


class JobError(ValueError):
    """A job that cannot start now; the message is safe to show."""


def start_training(*, engine: Engine, settings: Settings, config: TrainConfig, actor_id: int | None) -> int:
    """Record a new run and train it in a background thread; return its id at once.

    Raises:
        JobError: another run of this database is still training.
        TrainingError: the run cannot start (too few videos, one class...), nothing is recorded.
    """
    with session_scope(engine) as session:
        busy = session.exec(select(ModelRun).where(ModelRun.status == RunStatus.RUNNING.value)).first()
        if busy is not None:
            raise JobError(
                f"Run {busy.id} is still training ({busy.progress:.0%}); "
                "start a new run when it has finished."
            )
        run_id = int(start_run(session=session, config=config, user_id=actor_id).id or 0)

    def work() -> None:
        try:
            train_run(
                engine=engine,
                settings=settings,
                run_id=run_id,
                config=config,
                progress=ProgressWriter(engine, run_id),
            )
        except Exception:  # train_run has recorded the failure on the run; keep the trace in the log
            log.exception("training run %s failed", run_id)

    _spawn(f"lusreview-train-{run_id}", work)
    return run_id


def is_training_here(run_id: int) -> bool:
    """Whether a thread of this process is training ``run_id`` (a run may also train in the CLI)."""
    thread = _threads.get(f"lusreview-train-{run_id}")
    return thread is not None and thread.is_alive()


def abandon_run(*, engine: Engine, run_id: int, actor_id: int | None) -> None:
    """Mark a run failed whose training process has gone (the server restarted, the CLI was killed).

    Without this, a run left "running" by a dead process would block every new run for good.

    Raises:
        JobError: the run is not running, or this process is still training it.
    """
    if is_training_here(run_id):
        raise JobError(f"Run {run_id} is still training in this server; wait for it to finish.")
    with session_scope(engine) as session:
        run = session.get(ModelRun, run_id)
        if run is None or run.status != RunStatus.RUNNING.value:
            raise JobError(f"Run {run_id} is not training.")
        run.status, run.finished_at = RunStatus.FAILED.value, utcnow()
        run.error = "Abandoned: the process training it had stopped."
        record(session=session, action="run.abandon", entity="model_run", entity_id=run_id, user_id=actor_id)


def wait_for(run_id: int, timeout: float | None = None) -> None:
    """Block until this process' jobs for ``run_id`` (training, CAMs) end; for tests, pages poll instead."""
    for kind in ("train", "cams"):
        thread = _threads.get(f"lusreview-{kind}-{run_id}")
        if thread is not None:
            thread.join(timeout)


def _spawn(name: str, target: Callable[[], None]) -> None:
    thread = threading.Thread(target=target, name=name, daemon=True)
    with _lock:
        _threads[name] = thread
    thread.start()


def fraction(stage: str, done: int, total: int) -> tuple[float, str]:
    """Overall progress (0..1) and a plain note for a training callback ``(stage, done, total)``."""
    share = done / total if total else 1.0
    folds = _FOLD_STAGE.fullmatch(stage)
    if stage == "features":
        return FEATURES_SHARE * share, f"Computing trunk features: {done} of {total} frame copies"
    if folds is not None:
        fold, n_folds = int(folds[1]), int(folds[2])
        overall = FEATURES_SHARE + FOLDS_SHARE * (fold - 1 + share) / n_folds
        return overall, f"Training fold {fold} of {n_folds}: {folds[3]} {done} of {total}"
    scoring = FEATURES_SHARE + FOLDS_SHARE
    return scoring + (1 - scoring) * share, f"Scoring with uncertainty: pass {done} of {total}"


class ProgressWriter:
    """A training progress callback that writes to the run row, throttled to one write a second."""

    def __init__(self, engine: Engine, run_id: int) -> None:
        """Write the progress of ``run_id`` through ``engine``."""
        self.engine, self.run_id, self.last = engine, run_id, 0.0

    def __call__(self, stage: str, done: int, total: int) -> None:
        """Record ``(stage, done, total)`` unless the last write was under a second ago."""
        now = time.monotonic()
        if done < total and now - self.last < WRITE_EVERY_S:
            return
        self.last = now
        overall, note = fraction(stage, done, total)
        with session_scope(self.engine) as session:
            run = session.get_one(ModelRun, self.run_id)
            run.progress, run.progress_note = round(min(max(overall, 0.0), 1.0), 4), note[:255]


@dataclasses.dataclass
class CamJob:
    """How far this process' CAM job of a run has got; ``error`` is set when it failed."""

    done: int = 0
    total: int = 0
    finished: bool = False
    error: str | None = None
    assets: int = 0


_cam_jobs: dict[int, CamJob] = {}


def start_cams(*, engine: Engine, settings: Settings, run_id: int, use_prediction: bool = False) -> CamJob:
    """Make a finished run's CAMs in a background thread; poll the returned job (or :func:`cam_job`).

    Raises:
        JobError: CAMs of this run are already being made.
    """
    from reviewer.cam_assets import make_cams

    with _lock:
        current = _cam_jobs.get(run_id)
        if current is not None and not current.finished:
            raise JobError(
                f"The CAMs of run {run_id} are already being made ({current.done} of {current.total})."
            )
        job = _cam_jobs[run_id] = CamJob()

    def report(stage: str, done: int, total: int) -> None:
        if stage == "cams":
            job.done, job.total = done, total

    def work() -> None:
        try:
            made = make_cams(
                engine=engine,
                settings=settings,
                run_id=run_id,
                use_prediction=use_prediction,
                progress=report,
            )
            job.assets = len(made)
        except Exception as exc:
            log.exception("CAMs of run %s failed", run_id)
            job.error = str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"
        finally:
            job.finished = True

    _spawn(f"lusreview-cams-{run_id}", work)
    return job


def cam_job(run_id: int) -> CamJob | None:
    """The CAM job of ``run_id`` started in this process, if any."""
    return _cam_jobs.get(run_id)
