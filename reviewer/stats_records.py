"""From the database to the tidy study frame: answers, the key, videos, experts, predictions and CAM peaks.

This is the only statistics module that reads the database. It unblinds, so it guards the key: only
researchers and administrators get a study's data, only once the study is closed, except that an
administrator may explicitly preview an open study, and the result then says so. Statistics use
complete answers only; what was left out (unfinished answers, unlabelled videos) is counted in
``notes``, so no number silently loses data.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import pandas as pd
from sqlmodel import Session, col, select

from db.models import Answer, CamAsset, ModelRun, Prediction, Study, StudyExpert, StudyItem, User, Video
from reviewer.stats_data import AnswerRecord, unblind
from reviewer.stats_locations import PeakRecord, peak_frame
from reviewer.study_videos import run_labels
from reviewer.vocab import Role, StudyState


class StatsAccessError(ValueError):
    """A statistics request that cannot be honoured; the message is safe to show."""


@dataclass(frozen=True)
class StudyChoice:
    """One study a researcher may pick, as the picker lists it."""

    study_id: int
    name: str
    state: str

    @property
    def title(self) -> str:
        """Name with the state when it is not closed, e.g. 'Pilot (open)'."""
        return self.name if self.state == StudyState.CLOSED.value else f"{self.name} ({self.state})"


@dataclass(frozen=True)
class StudyData:
    """Everything the statistics of one study read; ``preview`` is True for a study not yet closed."""

    study_id: int
    name: str
    state: str
    preview: bool
    run_id: int
    classes: tuple[str, ...]
    reference_expert: str | None
    frame: pd.DataFrame
    peaks: pd.DataFrame
    run_metrics: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    description: str = ""
    """The administrator's text for the study's experts (e.g. that its answers are simulated)."""


def analysable_studies(*, session: Session, viewer_id: int, include_open: bool = False) -> list[StudyChoice]:
    """Closed studies by name; with ``include_open`` (administrators only) draft and open ones too."""
    viewer = _reader(session, viewer_id)
    if include_open and viewer.role != Role.ADMIN.value:
        raise StatsAccessError("Only administrators may preview studies that are not closed.")
    query = select(Study).order_by(col(Study.name))
    if not include_open:
        query = query.where(Study.state == StudyState.CLOSED.value)
    return [StudyChoice(s.id, s.name, s.state) for s in session.exec(query) if s.id is not None]


def load_study_data(
    *, session: Session, study_id: int, viewer_id: int | None, preview: bool = False
) -> StudyData:
    """The unblinded tidy frame and CAM peaks of a study, for a researcher or an administrator.

    Args:
        session: The caller's unit of work (read only).
        study_id: The study.
        viewer_id: The user asking; None is the command line, which administers the database anyway.
        preview: An administrator's explicit request to analyse a study that is not closed yet.

    Raises:
        StatsAccessError: the viewer may not see the key, or the study is not closed and no
            administrator asked for a preview.
    """
    study = _readable_study(session, study_id, viewer_id, preview=preview)
    run = session.get(ModelRun, study.run_id)
    items = list(session.exec(select(StudyItem).where(StudyItem.study_id == study_id)))
    labels = run_labels(session=session, run_id=study.run_id, video_ids={item.video_id for item in items})
    names = _expert_names(session, study_id)
    records, notes = _records(session, study, items, labels, names)
    return StudyData(
        study_id=study_id,
        name=study.name,
        state=study.state,
        preview=study.state != StudyState.CLOSED.value,
        run_id=study.run_id,
        classes=tuple(run.classes) if run is not None else (),
        reference_expert=names.get(study.reference_expert_id or -1),
        frame=unblind(records),
        peaks=peak_frame(_peaks(session, items, labels)),
        run_metrics=dict(run.metrics) if run is not None else {},
        notes=tuple(notes),
        description=study.description,
    )


def _readable_study(session: Session, study_id: int, viewer_id: int | None, *, preview: bool) -> Study:
    """The study, if this viewer may see its unblinded answers now; else a refusal that says why."""
    study = session.get(Study, study_id)
    if study is None:
        raise StatsAccessError(f"Study {study_id} does not exist.")
    is_admin = viewer_id is None or _reader(session, viewer_id).role == Role.ADMIN.value
    if study.state == StudyState.CLOSED.value:
        return study
    if not (preview and is_admin):
        who = "" if is_admin else "; administrators may preview it"
        raise StatsAccessError(
            f"Study {study.name!r} is {study.state}: statistics are shown once it is closed{who}."
        )
    if viewer_id is not None and _is_expert(session, study_id, viewer_id):
        raise StatsAccessError(
            f"You are an expert of study {study.name!r}: its statistics would show which heatmap was on "
            "which side of your own items, so they are shown to you once it is closed."
        )
    return study


def _is_expert(session: Session, study_id: int, user_id: int) -> bool:
    member = select(StudyExpert.user_id).where(
        StudyExpert.study_id == study_id, StudyExpert.user_id == user_id
    )
    return session.exec(member).first() is not None


def _reader(session: Session, viewer_id: int) -> User:
    user = session.get(User, viewer_id)
    if user is None or not user.active or user.role not in (Role.ADMIN.value, Role.RESEARCHER.value):
        raise StatsAccessError("Only researchers and administrators may see study statistics.")
    return user


def _expert_names(session: Session, study_id: int) -> dict[int, str]:
    """Display names of the study's experts; a name two experts share gets the username added."""
    members = select(StudyExpert.user_id).where(StudyExpert.study_id == study_id)
    users = [u for u in session.exec(select(User).where(col(User.id).in_(members))) if u.id is not None]
    shown = Counter(u.display_name or u.username for u in users)
    return {
        u.id: (u.display_name or u.username)
        if shown[u.display_name or u.username] == 1
        else f"{u.display_name} ({u.username})"
        for u in users
        if u.id is not None
    }


def _predictions(session: Session, run_id: int) -> dict[int, str]:
    """The ensemble's predicted class per video (video rows without a fold)."""
    rows = session.exec(
        select(Prediction.video_id, Prediction.predicted_class).where(
            Prediction.run_id == run_id, col(Prediction.frame_index).is_(None), col(Prediction.fold).is_(None)
        )
    )
    return dict(rows.all())


def _records(
    session: Session,
    study: Study,
    items: list[StudyItem],
    labels: Mapping[int, str],
    names: Mapping[int, str],
) -> tuple[list[AnswerRecord], list[str]]:
    """Answer records of complete answers, and notes on what had to be left out."""
    by_id = {item.id: item for item in items}
    answers = {
        a.item_id: a
        for a in session.exec(
            select(Answer).where(col(Answer.item_id).in_(list(by_id)), col(Answer.complete))
        )
        if a.expert_id == by_id[a.item_id].expert_id
    }
    videos = {
        v.id: v for v in session.exec(select(Video).where(col(Video.id).in_({i.video_id for i in items})))
    }
    predicted = _predictions(session, study.run_id)
    usable = {i: a for i, a in answers.items() if by_id[i].video_id in labels}
    orphans = {i for i in usable if by_id[i].reread_of_id is not None and by_id[i].reread_of_id not in usable}
    records = [
        _record(by_id[i], a, videos[by_id[i].video_id], labels, predicted, names, study)
        for i, a in sorted(usable.items())
        if i not in orphans
    ]
    counts = (
        (len(items) - len(answers), "item(s) without a complete answer"),
        (len(answers) - len(usable), "answer(s) on videos without a label"),
        (len(orphans), "re-read answer(s) whose first reading is not complete"),
    )
    return records, [f"{n} {what} left out" for n, what in counts if n]


def _record(
    item: StudyItem,
    answer: Answer,
    video: Video,
    labels: Mapping[int, str],
    predicted: Mapping[int, str],
    names: Mapping[int, str],
    study: Study,
) -> AnswerRecord:
    return AnswerRecord(
        study_item_id=cast(int, item.id),
        video_id=item.video_id,
        video_name=video.display_name,
        label=labels[item.video_id],
        predicted=predicted.get(item.video_id),
        expert_id=item.expert_id,
        expert_name=names.get(item.expert_id, f"user {item.expert_id}"),
        is_reference=item.expert_id == study.reference_expert_id,
        position=item.position,
        left_kind=item.left_kind,
        reread_of=item.reread_of_id,
        # A complete answer has every required field: the database's CHECK constraint guarantees it.
        score_a=cast(int, answer.score_a),
        score_b=cast(int, answer.score_b),
        preferred=cast(str, answer.preferred),
        class_guess=answer.class_guess,
        patterns_visible=list(answer.patterns_visible),
        patterns_a=list(answer.patterns_a),
        patterns_b=list(answer.patterns_b),
        seconds_spent=float(answer.seconds_spent),
    )


def _peaks(session: Session, items: list[StudyItem], labels: Mapping[int, str]) -> list[PeakRecord]:
    """Peaks of the CAM assets the study pinned, one record per asset, for labelled videos."""
    pinned = {i.left_asset_id for i in items} | {i.right_asset_id for i in items}
    assets = session.exec(
        select(CamAsset).where(col(CamAsset.id).in_(pinned - {None})).order_by(col(CamAsset.id))
    )
    return [
        PeakRecord(
            video_id=a.video_id, label=labels[a.video_id], cam_type=a.kind, peaks=[list(p) for p in a.peaks]
        )
        for a in assets
        if a.video_id in labels
    ]
