"""What the model and screening pages list about training runs, read from the run rows alone."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from db.models import ModelRun
from reviewer.vocab import RunStatus

VIDEO_LEVEL = "video_mean"
"""The paper's video prediction (mean of frame probabilities), shown next to the frame level."""


class RunNotFound(ValueError):
    """The run does not exist (or has no metrics yet); the message is safe to show."""


@dataclasses.dataclass(frozen=True)
class RunSummary:
    """One row of the runs table, plus how far a running run has got."""

    id: int
    created_at: datetime
    status: RunStatus
    videos: int
    classes: tuple[str, ...]
    weights: str
    frame_accuracy: float | None
    video_accuracy: float | None
    frame_balanced_accuracy: float | None
    video_balanced_accuracy: float | None
    progress: float
    progress_note: str | None
    error: str | None


def list_runs(*, session: Session, status: RunStatus | None = None) -> list[RunSummary]:
    """Runs, newest first, optionally only those of one status (finished runs for screening)."""
    query = select(ModelRun).order_by(col(ModelRun.id).desc())
    if status is not None:
        query = query.where(ModelRun.status == status.value)
    return [_summary(run) for run in session.exec(query)]


def run_metrics(*, session: Session, run_id: int) -> dict[str, Any]:
    """The stored metrics of a finished run (the layout of :func:`reviewer.metrics.evaluate`).

    Raises:
        RunNotFound: no such run, or it has not finished.
    """
    run = session.get(ModelRun, run_id)
    if run is None or run.status != RunStatus.DONE.value or not run.metrics:
        raise RunNotFound(f"Run {run_id} does not exist or has no metrics yet.")
    return dict(run.metrics)


def _pooled(run: ModelRun, level: str, name: str) -> float | None:
    value = run.metrics.get("levels", {}).get(level, {}).get("pooled", {}).get(name)
    return None if value is None else float(value)


def _summary(run: ModelRun) -> RunSummary:
    return RunSummary(
        id=int(run.id or 0),
        created_at=run.created_at,
        status=RunStatus(run.status),
        videos=len(run.data_snapshot),
        classes=tuple(run.classes),
        weights=str(run.config.get("weights", "")),
        frame_accuracy=_pooled(run, "frame", "accuracy"),
        video_accuracy=_pooled(run, VIDEO_LEVEL, "accuracy"),
        frame_balanced_accuracy=_pooled(run, "frame", "balanced_accuracy"),
        video_balanced_accuracy=_pooled(run, VIDEO_LEVEL, "balanced_accuracy"),
        progress=run.progress,
        progress_note=run.progress_note,
        error=run.error,
    )
