"""What administrators see of studies: the list with progress, the balance check and the run picker.

Only counts leave this module: how many items each expert has and has completed, how many show the
train-CAM on the left. No item-level side is revealed here; that is :func:`study_key`'s job, and
only after closing.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import case, func
from sqlmodel import Session, col, select

from db.models import Answer, ModelRun, Study, StudyExpert, StudyItem, User, Video
from reviewer.study_base import StudyError, row_id
from reviewer.study_videos import cam_pairs, correct_videos
from reviewer.vocab import CamKind, RunStatus

ACCURACY_LEVEL = "video_vote"  # the paper reports video accuracy by majority vote of the frames


@dataclass(frozen=True, slots=True)
class BalanceRow:
    """The set-up page's check of one expert's list: sides per CAM type and hidden re-reads."""

    expert_id: int
    username: str
    items: int
    train_left: int
    rereads: int

    @property
    def test_left(self) -> int:
        """Items with the test-CAM on the left."""
        return self.items - self.train_left

    @property
    def balanced(self) -> bool:
        """True when each CAM type is on the left in half the items, +-1."""
        return abs(self.train_left - self.test_left) <= 1


@dataclass(frozen=True, slots=True)
class ExpertProgress:
    """One expert of a study: complete answers out of their items."""

    expert_id: int
    username: str
    done: int
    items: int
    reference: bool


@dataclass(frozen=True, slots=True)
class StudySummary:
    """A study as the admin list shows it; ``experts`` are ordered by username."""

    id: int
    name: str
    description: str
    state: str
    run_id: int
    seed: int
    reread_share: float
    washout: int
    created_at: datetime
    opened_at: datetime | None
    closed_at: datetime | None
    experts: tuple[ExpertProgress, ...]


@dataclass(frozen=True, slots=True)
class RunChoice:
    """A finished run a study can be built on, with what the picker needs to choose well."""

    run_id: int
    finished_at: datetime  # when the run was recorded, for runs stored without an end time
    video_accuracy: float | None
    with_cams: int
    correct: int


@dataclass(frozen=True, slots=True)
class RunVideo:
    """A video of a run that has both CAMs, for hand-picking."""

    video_id: int
    name: str
    label: str | None
    correct: bool


def balance_report(*, session: Session, study_id: int) -> list[BalanceRow]:
    """Per expert: items, items with the train-CAM on the left, and hidden re-reads (counts only)."""
    train_left = func.sum(case((col(StudyItem.left_kind) == CamKind.TRAIN.value, 1), else_=0))
    rows = session.exec(
        select(StudyItem.expert_id, func.count(), train_left, func.count(col(StudyItem.reread_of_id)))
        .where(StudyItem.study_id == study_id)
        .group_by(col(StudyItem.expert_id))
    ).all()
    names = usernames(session, [r[0] for r in rows])
    report = [BalanceRow(e, names[e], n, int(train), rereads) for e, n, train, rereads in rows]
    return sorted(report, key=lambda row: row.username)


def list_studies(*, session: Session, study_id: int | None = None) -> list[StudySummary]:
    """Every study (or the one ``study_id``), newest first, with each expert's complete answers / items."""
    query = select(Study).order_by(col(Study.created_at).desc(), col(Study.id).desc())
    if study_id is not None:
        query = query.where(Study.id == study_id)
    studies = session.exec(query).all()
    items = dict(
        ((s, e), n)
        for s, e, n in session.exec(
            select(StudyItem.study_id, StudyItem.expert_id, func.count()).group_by(
                col(StudyItem.study_id), col(StudyItem.expert_id)
            )
        )
    )
    done = dict(
        ((s, e), n)
        for s, e, n in session.exec(
            select(StudyItem.study_id, StudyItem.expert_id, func.count())
            .join(Answer, col(Answer.item_id) == StudyItem.id)
            .where(col(Answer.expert_id) == col(StudyItem.expert_id), col(Answer.complete))
            .group_by(col(StudyItem.study_id), col(StudyItem.expert_id))
        )
    )
    members = session.exec(select(StudyExpert.study_id, StudyExpert.user_id)).all()
    names = usernames(session, {u for _, u in members})
    return [_summary(study, members, names, items, done) for study in studies]


def user_ids(*, session: Session, usernames: Sequence[str]) -> list[int]:
    """User ids for usernames in the given order; unknown names are refused all at once."""
    wanted = [n.strip().lower() for n in usernames if n.strip()]
    rows = session.exec(select(User.username, User.id).where(col(User.username).in_(wanted))).all()
    known = {name: i for name, i in rows if i is not None}
    unknown = [n for n in wanted if n not in known]
    if unknown:
        raise StudyError(f"Unknown user(s): {', '.join(unknown)}.")
    return [known[n] for n in wanted]


def study_runs(*, session: Session) -> list[RunChoice]:
    """Finished runs, newest first, with held-out video accuracy and how many videos have both CAMs."""
    runs = session.exec(
        select(ModelRun).where(ModelRun.status == RunStatus.DONE.value).order_by(col(ModelRun.id).desc())
    ).all()
    choices = []
    for run in runs:
        run_id = row_id(run)
        pairs = cam_pairs(session=session, run_id=run_id)
        correct = correct_videos(session=session, run_id=run_id, pairs=pairs)
        when = run.finished_at or run.created_at
        choices.append(RunChoice(run_id, when, _accuracy(run.metrics), len(pairs), len(correct)))
    return choices


def run_videos(*, session: Session, run_id: int) -> list[RunVideo]:
    """The run's videos that have both CAMs, by name, each marked correctly classified or not."""
    pairs = cam_pairs(session=session, run_id=run_id)
    correct = correct_videos(session=session, run_id=run_id, pairs=pairs)
    videos = session.exec(
        select(Video).where(col(Video.id).in_(pairs)).order_by(col(Video.display_name), col(Video.id))
    )
    return [RunVideo(row_id(v), v.display_name, v.label, row_id(v) in correct) for v in videos]


def usernames(session: Session, ids: Collection[int]) -> dict[int, str]:
    """Username by user id, for tables that name experts."""
    rows = session.exec(select(User.id, User.username).where(col(User.id).in_(ids))).all()
    return {i: name for i, name in rows if i is not None}


def _accuracy(metrics: dict[str, Any]) -> float | None:
    value = metrics.get("levels", {}).get(ACCURACY_LEVEL, {}).get("pooled", {}).get("accuracy")
    return float(value) if isinstance(value, int | float) else None


def _summary(
    study: Study,
    members: Sequence[tuple[int, int]],
    names: dict[int, str],
    items: dict[tuple[int, int], int],
    done: dict[tuple[int, int], int],
) -> StudySummary:
    sid = row_id(study)
    experts = [
        ExpertProgress(
            expert_id=u,
            username=names[u],
            done=done.get((sid, u), 0),
            items=items.get((sid, u), 0),
            reference=u == study.reference_expert_id,
        )
        for s, u in members
        if s == sid
    ]
    own = {f.name for f in fields(StudySummary)} - {"experts"}
    return StudySummary(
        **study.model_dump(include=own), experts=tuple(sorted(experts, key=lambda p: p.username))
    )
