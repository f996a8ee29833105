"""Fill the demo's pages: a quick model run, its CAMs, its relabel queue and two demo studies.

``lusreview demo`` seeds phantom videos and accounts, then starts the web app at once; this
pipeline runs beside it in a background thread (:mod:`reviewer.demo_job`) and the Models,
Screening, Queue, expert and statistics pages fill in as soon as it has finished (the open demo
study's clips are prepared too, so its experts never wait for a video to be encoded). Every step
first looks whether its result is already stored (a finished run with the demo settings, its CAMs,
its queue, the studies by name), so re-running the demo skips what is done. Training writes its
progress to the run row like a run started from the Models page, so that page shows the bar;
progress lines also go to the terminal.

The pipeline can be stopped (the server was closed): the next progress report raises
:class:`DemoStopped`, which training records as the run's failure, so no run is left "running".
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlmodel import col, func, select

from db.models import CamAsset, ModelRun, RelabelItem
from db.session import session_scope
from reviewer.settings import Settings
from reviewer.training import TrainConfig
from reviewer.vocab import RunStatus

Echo = Callable[[str], None]
DEMO_CONFIG = TrainConfig(
    weights="hed", folds=5, input_size=128, augmentations=4, epochs=10, patience=3, uncertainty_passes=3
)
"""Small enough to train in a few minutes on two CPU cores, good enough to find the phantoms' patterns.

Three uncertainty passes (the paper uses 10) come straight from the K = 4 cached augmented copies, so
scoring needs no further trunk pass.
"""
ECHO_EVERY_S = 5.0
"""Progress lines go to the terminal at most this often (and at the end of each step)."""
_running = threading.Lock()


class DemoError(ValueError):
    """The demo pipeline cannot run now; the message is safe to show."""


class DemoStopped(Exception):
    """The demo was closed while the pipeline ran; raised from a progress report to unwind it."""


@dataclass(frozen=True)
class DemoReport:
    """What one pass of the pipeline did; all False / empty when everything was already there."""

    run_id: int
    trained: bool
    cam_assets: int
    queue_ranked: int
    studies_created: tuple[str, ...]
    seconds: float


def run_demo_pipeline(
    *,
    engine: Engine,
    settings: Settings,
    config: TrainConfig = DEMO_CONFIG,
    echo: Echo | None = None,
    stop: threading.Event | None = None,
) -> DemoReport:
    """Train (unless done), make CAMs (unless made), rank the queue and create the studies (unless there).

    Raises:
        DemoError: another pipeline of this process is running, or a foreign run is training.
        DemoStopped: ``stop`` was set.
    """
    from reviewer.demo_studies import make_demo_studies

    say = echo or (lambda _line: None)
    halt = stop or threading.Event()
    if not _running.acquire(blocking=False):
        raise DemoError("The demo pipeline is already running in this process.")
    try:
        started = time.monotonic()
        run_id, trained = _demo_run(engine, settings, config, say, halt)
        assets = _demo_cams(engine, settings, run_id, say, halt)
        _check(halt)
        queued = _demo_queue(engine, run_id)
        say("demo: creating the demo studies")
        created = make_demo_studies(engine=engine, settings=settings, run_id=run_id)
        _demo_warm(engine, settings, created, say, halt)
        seconds = round(time.monotonic() - started, 1)
        report = DemoReport(run_id, trained, assets, queued, tuple(created), seconds)
        studies = ", ".join(created) or "none"
        say(f"demo: ready in {report.seconds:.0f} s (run {run_id}, new studies: {studies})")
        return report
    finally:
        _running.release()


def finished_demo_run(*, engine: Engine, config: TrainConfig = DEMO_CONFIG) -> int | None:
    """The newest finished run trained with the demo settings, if any."""
    with session_scope(engine) as session:
        runs = session.exec(
            select(ModelRun).where(ModelRun.status == RunStatus.DONE.value).order_by(col(ModelRun.id).desc())
        )
        return next((run.id for run in runs if run.config == config.as_dict()), None)


def _demo_run(
    engine: Engine, settings: Settings, config: TrainConfig, say: Echo, halt: threading.Event
) -> tuple[int, bool]:
    """The finished demo run, trained now if there is none; True when it was trained now."""
    from reviewer.run_jobs import ProgressWriter, fraction
    from reviewer.training import start_run, train_run

    _check(halt)
    done = finished_demo_run(engine=engine, config=config)
    if done is not None:
        say(f"demo: model run {done} is already trained")
        return done, False
    _clear_stale(engine, config)
    _check(halt)
    with session_scope(engine) as session:
        run_id = int(start_run(session=session, config=config).id or 0)
    say(f"demo: training model run {run_id} (the Models page shows its progress)")
    writer = ProgressWriter(engine, run_id)

    def note(stage: str, done: int, total: int) -> str:
        overall, text = fraction(stage, done, total)
        return f"{overall:.0%} {text}"

    train_run(
        engine=engine,
        settings=settings,
        run_id=run_id,
        config=config,
        progress=_Reporter(say, halt, note, writer),
    )
    return run_id, True


def _clear_stale(engine: Engine, config: TrainConfig) -> None:
    """Mark failed a demo run a killed demo left "running"; refuse while any other run trains.

    This process trains one demo run at a time (the lock), so a running demo run is not ours.
    """
    from reviewer.run_jobs import abandon_run

    with session_scope(engine) as session:
        running = session.exec(select(ModelRun).where(ModelRun.status == RunStatus.RUNNING.value)).all()
    for run in running:
        if run.config != config.as_dict():
            raise DemoError(
                f"Run {run.id} is training; the demo model run waits for the next `lusreview demo`."
            )
        abandon_run(engine=engine, run_id=int(run.id or 0), actor_id=None)


def _demo_cams(engine: Engine, settings: Settings, run_id: int, say: Echo, halt: threading.Event) -> int:
    """Make the run's CAMs unless every video of it has both; return how many assets were made."""
    from reviewer.cam_assets import make_cams

    _check(halt)
    with session_scope(engine) as session:
        run = session.get_one(ModelRun, run_id)
        videos = len(run.data_snapshot)
        with_cams = session.exec(
            select(func.count(func.distinct(CamAsset.video_id))).where(CamAsset.run_id == run_id)
        ).one()
    if with_cams >= videos:
        say(f"demo: the CAMs of run {run_id} are already made")
        return 0
    say(f"demo: making the CAMs of run {run_id}")
    made = make_cams(
        engine=engine,
        settings=settings,
        run_id=run_id,
        progress=_Reporter(say, halt, lambda stage, done, total: f"{stage} {done}/{total}"),
    )
    return len(made)


def _demo_warm(
    engine: Engine, settings: Settings, created: list[str], say: Echo, halt: threading.Event
) -> None:
    """Prepare the clips of the open demo study if it was just made, so its experts never wait on a video."""
    from reviewer.demo_studies import OPEN_STUDY
    from reviewer.review_warm import warm_study_clips
    from reviewer.study_base import find_study, row_id

    if OPEN_STUDY not in created:
        return
    with session_scope(engine) as session:
        study_id = row_id(find_study(session=session, ref=OPEN_STUDY))
    say(f"demo: preparing the videos of {OPEN_STUDY!r} for the experts")
    progress = _Reporter(say, halt, lambda _stage, done, total: f"preparing videos, {done} of {total} done")
    warm_study_clips(engine=engine, settings=settings, study_id=study_id, progress=progress)


def _demo_queue(engine: Engine, run_id: int) -> int:
    """Rank the run's relabel queue unless it is ranked, so annotators find work; return how many."""
    from reviewer.relabel_queue import build_queue
    from reviewer.relabel_strategies import Strategy

    strategy = Strategy.EPISTEMIC  # the Queue page's first choice
    with session_scope(engine) as session:
        ranked = select(RelabelItem.id).where(
            RelabelItem.run_id == run_id, RelabelItem.strategy == strategy.value
        )
        if session.exec(ranked).first() is not None:
            return 0
        return build_queue(session=session, run_id=run_id, strategy=strategy, user_id=None).total


class _Reporter:
    """A progress callback: stops the pipeline when asked, updates the run row, echoes now and then."""

    def __init__(
        self,
        say: Echo,
        halt: threading.Event,
        note: Callable[[str, int, int], str],
        writer: Callable[[str, int, int], None] | None = None,
    ) -> None:
        self.say, self.halt, self.note, self.writer, self.last = say, halt, note, writer, 0.0

    def __call__(self, stage: str, done: int, total: int) -> None:
        _check(self.halt)
        if self.writer is not None:
            self.writer(stage, done, total)
        now = time.monotonic()
        if now - self.last >= ECHO_EVERY_S:
            self.last = now
            self.say(f"demo: {self.note(stage, done, total)}")


def _check(halt: threading.Event) -> None:
    if halt.is_set():
        raise DemoStopped("The demo was closed before the pipeline finished.")
