"""What the relabel queue page shows: the runs to choose from, the current item, a retraining run's state.

Everything an annotator needs to judge a label sits in one :class:`ItemView`: the video, its label
and latest label row (to refuse a decision on a label someone changed meanwhile), the ensemble's
prediction and both confidences, the run's CAM overlay video and the frames to look at first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, func, select

from db.models import CamAsset, Frame, ModelRun, Prediction, RelabelItem, Video
from reviewer.annotation import latest_label
from reviewer.relabel_evidence import ensemble_rows, frame_evidence
from reviewer.relabel_strategies import Strategy, rank
from reviewer.training import TrainConfig, run_config
from reviewer.vocab import CamKind, RunStatus

FRAME_HINTS = 4
FRAME_STRATEGIES = frozenset(
    {Strategy.EPISTEMIC, Strategy.ALEATORIC, Strategy.ENTROPY, Strategy.LABEL_DISAGREEMENT}
)
"""Strategies that can score single frames; the others point at frames by entropy."""


class ViewError(ValueError):
    """The requested item or run is not there; the message is safe to show."""


@dataclass(frozen=True)
class QueueRun:
    """A finished run whose videos can be queued."""

    id: int
    finished_at: datetime | None
    videos: int


@dataclass(frozen=True)
class FrameHint:
    """A sampled frame worth looking at, with the ensemble's class for it."""

    index: int
    image_path: str
    predicted_class: str
    probability: float


@dataclass(frozen=True)
class ItemView:
    """The current queue item as the page shows it."""

    item_id: int
    rank: int
    score: float
    video_id: int
    display_name: str
    file_path: str
    label: str | None
    label_id: int | None
    predicted_class: str
    probabilities: dict[str, float]
    confidence_epistemic: float | None
    confidence_aleatoric: float | None
    overlay_path: str | None
    overlay_class: str | None
    frames: tuple[FrameHint, ...]


@dataclass(frozen=True)
class RunState:
    """How far a (re)training run has got."""

    id: int
    status: RunStatus
    progress: float
    note: str | None
    error: str | None


def queue_runs(*, session: Session) -> list[QueueRun]:
    """Finished runs with video predictions, newest first."""
    predicted = func.count(col(Prediction.id))
    query = (
        select(ModelRun.id, ModelRun.finished_at, predicted)
        .join(Prediction, col(Prediction.run_id) == col(ModelRun.id))
        .where(ModelRun.status == RunStatus.DONE.value, col(Prediction.fold).is_(None))
        .where(col(Prediction.frame_index).is_(None))
        .group_by(col(ModelRun.id), col(ModelRun.finished_at))
        .order_by(col(ModelRun.id).desc())
    )
    return [QueueRun(id=int(i or 0), finished_at=at, videos=int(n)) for i, at, n in session.exec(query)]


def item_view(*, session: Session, item_id: int, hints: int = FRAME_HINTS) -> ItemView:
    """Everything the page needs about one queue item (video, label, prediction, CAM, frames)."""
    item = session.get(RelabelItem, item_id)
    if item is None:
        raise ViewError("This queue item no longer exists; the queue was probably rebuilt.")
    video = session.get_one(Video, item.video_id)
    prediction = ensemble_rows(session=session, run_id=item.run_id, video_ids=[item.video_id])[0]
    overlay = _overlay(session, item.run_id, item.video_id, video.label)
    latest = latest_label(session=session, video_id=item.video_id)
    return ItemView(
        item_id=item_id,
        rank=item.rank,
        score=item.score,
        video_id=item.video_id,
        display_name=video.display_name,
        file_path=video.file_path,
        label=video.label,
        label_id=None if latest is None else latest.id,
        predicted_class=prediction.predicted_class,
        probabilities=dict(prediction.probabilities),
        confidence_epistemic=prediction.confidence_epistemic,
        confidence_aleatoric=prediction.confidence_aleatoric,
        overlay_path=None if overlay is None else overlay.overlay_path,
        overlay_class=None if overlay is None else overlay.target_class,
        frames=_frame_hints(session, item, video.label, hints),
    )


def _overlay(session: Session, run_id: int, video_id: int, label: str | None) -> CamAsset | None:
    """The ensemble (train) CAM overlay of the video, explaining its label when one was made for it."""
    query = select(CamAsset).where(
        CamAsset.run_id == run_id, CamAsset.video_id == video_id, CamAsset.kind == CamKind.TRAIN.value
    )
    assets = list(session.exec(query.order_by(col(CamAsset.id))))
    return next((a for a in assets if a.target_class == label), assets[0] if assets else None)


def _frame_hints(session: Session, item: RelabelItem, label: str | None, hints: int) -> tuple[FrameHint, ...]:
    strategy = Strategy(item.strategy)
    order = strategy if strategy in FRAME_STRATEGIES else Strategy.ENTROPY
    evidence = {
        e.unit_id: e
        for e in frame_evidence(session=session, run_id=item.run_id, video_id=item.video_id, label=label)
    }
    first = [entry.unit_id for entry in rank(list(evidence.values()), order)[:hints]]
    paths = dict(
        session.exec(
            select(Frame.index, Frame.image_path).where(
                Frame.video_id == item.video_id, col(Frame.index).in_(first)
            )
        ).all()
    )
    hinted = []
    for index in first:
        probabilities = evidence[index].probabilities
        top = max(probabilities, key=lambda name: probabilities[name])
        if index in paths:
            hinted.append(FrameHint(index, paths[index], top, float(probabilities[top])))
    return tuple(hinted)


def run_state(*, session: Session, run_id: int) -> RunState:
    """Status and progress of a run, for the page polling a retraining job."""
    run = session.get(ModelRun, run_id)
    if run is None:
        raise ViewError(f"Run {run_id} does not exist.")
    return RunState(int(run_id), RunStatus(run.status), run.progress, run.progress_note, run.error)


def retrain_config(*, session: Session, run_id: int) -> TrainConfig:
    """The config of the run the queue came from, so retraining changes only the labels."""
    run = session.get(ModelRun, run_id)
    if run is None:
        raise ViewError(f"Run {run_id} does not exist.")
    return run_config(run)
