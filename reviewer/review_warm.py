"""Warm the review-clip cache when a study opens, so no expert waits for the first view of a video.

The player encodes a video's sampled-frames clip and its cleaned original on first view (a second or
more each on two cores). Opening a study therefore prepares both clips of every video it shows,
through the player's own :func:`reviewer.review_media.video_clips`, in the background on the Studies
page and before ``lusreview study open`` returns. The study is open as soon as its transaction
commits: warming reads the list in one short read transaction, encodes with no transaction held,
and a video it cannot prepare is logged and left to the player, which then says what is missing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlmodel import col, select

from db.models import StudyItem
from db.session import read_scope
from reviewer.review_media import VideoSamples, video_clips, video_samples
from reviewer.settings import Settings

log = logging.getLogger(__name__)
STAGE = "clips"
"""The stage named to a ``(stage, done, total)`` progress callback, as training and CAMs name theirs."""


@dataclass
class WarmJob:
    """This process' warming of one study: ``prepared`` is set when done, ``error`` if it failed."""

    thread: threading.Thread = field(repr=False)
    prepared: int | None = None
    error: str | None = None


_jobs: dict[int, WarmJob] = {}
_lock = threading.Lock()


def warm_study_clips(
    *,
    engine: Engine,
    settings: Settings,
    study_id: int,
    progress: Callable[[str, int, int], None] | None = None,
) -> int:
    """Prepare both clips of every video of the study; return how many videos have both.

    A video without sampled frames, with a missing or unreadable file, or whose original cannot be
    decoded is logged and skipped: the player shows its own message or fallback for it later.
    """
    with read_scope(engine) as session:
        query = select(StudyItem.video_id).where(StudyItem.study_id == study_id).distinct()
        video_ids = list(session.exec(query.order_by(col(StudyItem.video_id))))
        found = [(video_id, video_samples(session=session, video_id=video_id)) for video_id in video_ids]
        session.expunge_all()  # keep the rows loaded once the read transaction ends
    prepared = 0
    for done, (video_id, samples) in enumerate(found, start=1):
        prepared += _warm_video(settings, study_id, video_id, samples)
        if progress is not None:
            progress(STAGE, done, len(found))
    return prepared


def _warm_video(settings: Settings, study_id: int, video_id: int, samples: VideoSamples | None) -> bool:
    """Whether both clips of one video are now cached; never raises, so one video cannot stop the rest."""
    if samples is None:
        log.warning(
            "study %s: video %s has no sampled frames; its clips were not prepared", study_id, video_id
        )
        return False
    try:
        _, original = video_clips(settings, samples)
    except Exception:  # a missing file, an unreadable frame, an encoder error: the player will tell
        log.warning("study %s: the clips of video %s were not prepared", study_id, video_id, exc_info=True)
        return False
    return original is not None


def start_warming(*, engine: Engine, settings: Settings, study_id: int) -> WarmJob:
    """Warm the study's clips in a daemon thread and return at once; the running job if there is one.

    One job per study per process: opening twice (two admins, a retry) does not encode twice.
    """
    with _lock:
        current = _jobs.get(study_id)
        if current is not None and current.thread.is_alive():
            return current

        def work() -> None:
            try:
                job.prepared = warm_study_clips(engine=engine, settings=settings, study_id=study_id)
            except Exception as exc:  # the study is open regardless; the player encodes on first view
                log.exception("warming the clips of study %s failed", study_id)
                job.error = f"{type(exc).__name__}: {exc}"

        thread = threading.Thread(target=work, name=f"lusreview-warm-{study_id}", daemon=True)
        job = _jobs[study_id] = WarmJob(thread)
        thread.start()
    return job


def warm_job(study_id: int) -> WarmJob | None:
    """The warming of ``study_id`` started in this process, if any."""
    return _jobs.get(study_id)
