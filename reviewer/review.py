"""The expert's side of a study: their open studies, one blinded item at a time, and saving answers.

Every rule that keeps an expert blinded and isolated lives here, not in the page: items are looked up
only among the caller's own, panels are named by opaque asset tokens (never by CAM type), nothing
about the prediction or other experts leaves this module, and answers are accepted only while the
study is open. Answers are the record of truth, so a save is one transaction that validates every
value before writing, refuses a stale revision (two tabs must not overwrite each other), and adds an
audit row with the old and the new values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from db.models import CLASS_GUESSES, Answer, CamAsset, Study, StudyExpert, StudyItem, Video, utcnow
from reviewer.audit import record
from reviewer.study_setup import is_blind, row_id
from reviewer.vocab import LUNG_PATTERNS, SCORE_MAX, SCORE_MIN, Pattern, Preference, StudyState, values

MAX_COMMENT = 2000
MAX_SECONDS_PER_SAVE = 3600.0  # autosave runs on every change; the page must not count idle hours
VISIBLE = tuple(p.value for p in LUNG_PATTERNS)
HIGHLIGHTED = tuple(values(Pattern))  # lung patterns plus the off-target tags
PREFERENCES = tuple(values(Preference))
FIELDS = (
    "score_a",
    "score_b",
    "preferred",
    "class_guess",
    "patterns_visible",
    "patterns_a",
    "patterns_b",
    "comment",
)
REQUIRED = {
    "score_a": "score A",
    "score_b": "score B",
    "preferred": "preferred heatmap",
    "class_guess": "class guess",
}
STALE = (
    "This answer was changed in another tab or window since you opened it. "
    "Reload the video to see the latest version, then make your change again."
)
CLOSED_RULE = {
    StudyState.DRAFT.value: "This study has not been opened yet.",
    StudyState.CLOSED.value: "This study is closed; answers can no longer be given or changed.",
}


class ReviewError(ValueError):
    """An expert request that cannot be honoured; the message is safe to show."""


class FormError(ReviewError):
    """Form values that cannot be stored; ``problems`` lists each one for the page."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(" ".join(problems))
        self.problems = tuple(problems)


class StaleAnswerError(ReviewError):
    """The answer changed (another tab or window) since the page loaded it."""


@dataclass(frozen=True, slots=True)
class AnswerForm:
    """What the form sends; ``seconds_spent`` is the time since the previous save, not a total."""

    score_a: int | None = None
    score_b: int | None = None
    preferred: str | None = None
    class_guess: str | None = None
    patterns_visible: tuple[str, ...] = ()
    patterns_a: tuple[str, ...] = ()
    patterns_b: tuple[str, ...] = ()
    comment: str | None = None
    seconds_spent: float = 0.0


@dataclass(frozen=True, slots=True)
class Panel:
    """One heatmap panel, named only by its opaque asset token; paths are relative to the home."""

    token: str
    overlay_path: str
    raw_path: str


@dataclass(frozen=True, slots=True)
class SavedAnswer:
    """The expert's own stored answer; send ``revision`` back as ``expected_revision``."""

    form: AnswerForm
    complete: bool
    revision: int
    seconds_spent: float


@dataclass(frozen=True, slots=True)
class ReviewItem:
    """Everything the page may show for one position: blinded by construction."""

    study_id: int
    position: int
    total: int
    item_token: str
    video_id: int
    video_path: str
    panel_a: Panel
    panel_b: Panel
    answer: SavedAnswer | None


@dataclass(frozen=True, slots=True)
class StudyProgress:
    """An open study of the expert and how many of their items are complete."""

    study_id: int
    name: str
    done: int
    total: int

    @property
    def label(self) -> str:
        """Progress as the page shows it, e.g. "12 / 50"."""
        return f"{self.done} / {self.total}"


def expert_studies(*, session: Session, expert_id: int) -> list[StudyProgress]:
    """The open studies that list this expert, by name, with their progress."""
    joined = select(StudyExpert.study_id).where(StudyExpert.user_id == expert_id)
    totals = session.exec(
        select(Study.id, Study.name, func.count(col(StudyItem.id)))
        .join(StudyItem, col(StudyItem.study_id) == Study.id)
        .where(
            col(Study.id).in_(joined), Study.state == StudyState.OPEN.value, StudyItem.expert_id == expert_id
        )
        .group_by(col(Study.id), col(Study.name))
        .order_by(col(Study.name))
    ).all()
    done = dict(
        session.exec(
            select(StudyItem.study_id, func.count(col(Answer.id)))
            .join(Answer, col(Answer.item_id) == StudyItem.id)
            .where(StudyItem.expert_id == expert_id, Answer.expert_id == expert_id, col(Answer.complete))
            .group_by(col(StudyItem.study_id))
        ).all()
    )
    return [StudyProgress(s, name, done.get(s, 0), total) for s, name, total in totals if s is not None]


def next_position(*, session: Session, study_id: int, expert_id: int) -> int | None:
    """Where the expert resumes: their first item without a complete answer; None when all are done."""
    _open_study_of(session, study_id, expert_id)
    done = select(Answer.item_id).where(Answer.expert_id == expert_id, col(Answer.complete))
    first = select(func.min(StudyItem.position)).where(
        StudyItem.study_id == study_id, StudyItem.expert_id == expert_id, col(StudyItem.id).not_in(done)
    )
    return session.exec(first).one()


def review_item(*, session: Session, study_id: int, expert_id: int, position: int) -> ReviewItem:
    """The blinded item at ``position`` (0-based) of the expert's own list, with their own answer.

    Panel A is the item's hidden ``left_kind``; only asset tokens and paths leave this function.
    """
    _open_study_of(session, study_id, expert_id)
    mine = (StudyItem.study_id == study_id, StudyItem.expert_id == expert_id)
    total = session.exec(select(func.count()).select_from(StudyItem).where(*mine)).one()
    if isinstance(position, bool) or not isinstance(position, int) or not 0 <= position < total:
        raise ReviewError(f"There is no video at this place; your list has {total} videos.")
    item = session.exec(select(StudyItem).where(*mine, StudyItem.position == position)).one()
    video = session.get(Video, item.video_id)
    left = session.get(CamAsset, item.left_asset_id) if item.left_asset_id is not None else None
    right = session.get(CamAsset, item.right_asset_id) if item.right_asset_id is not None else None
    if video is None or left is None or right is None or not (is_blind(left) and is_blind(right)):
        raise ReviewError("The heatmaps of this video are unavailable; please tell the study administrator.")
    answer = _answer_of(session, item, expert_id)
    return ReviewItem(
        study_id=study_id,
        position=position,
        total=total,
        item_token=item.token,
        video_id=item.video_id,
        video_path=video.file_path,
        panel_a=_panel(left),
        panel_b=_panel(right),
        answer=None if answer is None else _saved(answer),
    )


def save_answer(
    *,
    session: Session,
    study_id: int,
    expert_id: int,
    item_token: str,
    form: AnswerForm,
    complete: bool,
    expected_revision: int | None,
) -> Answer:
    """Store the expert's single answer to one of their items, in the caller's one transaction.

    Autosave calls this with ``complete=False``. A complete answer stays complete: later edits may
    change but not clear its required values, so a visit cannot silently remove it from the
    analysis. ``expected_revision`` is the revision the page loaded (None for a first answer); any
    other stored revision means another tab saved in between, and nothing is overwritten. Saving
    unchanged values with no new time is a no-op.
    """
    _open_study_of(session, study_id, expert_id, lock=True)
    item = _own_item(session, study_id, expert_id, item_token)
    answer = _answer_of(session, item, expert_id)
    if (None if answer is None else answer.revision) != expected_revision:
        raise StaleAnswerError(STALE)
    keep_complete = complete or (answer is not None and answer.complete)
    new = {**_checked(form, complete=keep_complete), "complete": keep_complete}
    if (
        answer is not None
        and form.seconds_spent == 0
        and all(getattr(answer, k) == v for k, v in new.items())
    ):
        return answer  # nothing changed: no new revision, no audit row
    old = None if answer is None else _snapshot(answer)
    if answer is None:
        answer = Answer(item_id=row_id(item), expert_id=expert_id, revision=0, seconds_spent=0.0)
    for name, value in new.items():
        setattr(answer, name, value)
    answer.seconds_spent += float(form.seconds_spent)
    answer.revision += 1
    answer.updated_at = utcnow()
    session.add(answer)
    session.flush()
    record(
        session=session,
        action="answer.save",
        entity="answer",
        entity_id=answer.id,
        user_id=expert_id,
        study_id=study_id,
        item_id=item.id,
        old=old,
        new=_snapshot(answer),
    )
    return answer


def _open_study_of(session: Session, study_id: int, expert_id: int, *, lock: bool = False) -> Study:
    """The study, if the expert is listed in it and it is open; outsiders learn nothing about it."""
    listed = select(StudyExpert.id).where(StudyExpert.study_id == study_id, StudyExpert.user_id == expert_id)
    if session.exec(listed).first() is None:
        raise ReviewError("You are not part of this study.")
    # PostgreSQL: a shared lock, so closing the study waits for saves in flight and vice versa.
    study = session.get(
        Study, study_id, with_for_update={"read": True} if lock else None, populate_existing=lock
    )
    if study is None or study.state != StudyState.OPEN.value:
        raise ReviewError(CLOSED_RULE.get(study.state if study else "", "This study is not open."))
    return study


def _own_item(session: Session, study_id: int, expert_id: int, token: str) -> StudyItem:
    mine = select(StudyItem).where(
        StudyItem.token == token, StudyItem.study_id == study_id, StudyItem.expert_id == expert_id
    )
    item = session.exec(mine.with_for_update()).first()  # PostgreSQL: one save per item at a time
    if item is None:
        raise ReviewError("This video is not in your list for this study.")
    return item


def _answer_of(session: Session, item: StudyItem, expert_id: int) -> Answer | None:
    query = select(Answer).where(Answer.item_id == item.id, Answer.expert_id == expert_id)
    return session.exec(query).first()


def _panel(asset: CamAsset) -> Panel:
    return Panel(token=asset.token, overlay_path=asset.overlay_path, raw_path=asset.raw_path)


def _saved(answer: Answer) -> SavedAnswer:
    form = AnswerForm(
        score_a=answer.score_a,
        score_b=answer.score_b,
        preferred=answer.preferred,
        class_guess=answer.class_guess,
        patterns_visible=tuple(answer.patterns_visible),
        patterns_a=tuple(answer.patterns_a),
        patterns_b=tuple(answer.patterns_b),
        comment=answer.comment,
    )
    return SavedAnswer(
        form=form, complete=answer.complete, revision=answer.revision, seconds_spent=answer.seconds_spent
    )


def _snapshot(answer: Answer) -> dict[str, Any]:
    """The stored values an audit row keeps, before and after a change."""
    return {name: getattr(answer, name) for name in (*FIELDS, "complete", "seconds_spent", "revision")}


def _checked(form: AnswerForm, *, complete: bool) -> dict[str, Any]:
    """Every form value validated and normalised; all problems are reported at once."""
    problems: list[str] = []
    for name, label in (("score_a", "Score A"), ("score_b", "Score B")):
        score = getattr(form, name)
        if score is not None and not (_is_int(score) and SCORE_MIN <= score <= SCORE_MAX):
            problems.append(f"{label} must be a whole number from {SCORE_MIN} to {SCORE_MAX}.")
    if form.preferred is not None and form.preferred not in PREFERENCES:
        problems.append("The preferred heatmap must be A, B or equal.")
    if form.class_guess is not None and form.class_guess not in CLASS_GUESSES:
        problems.append(f"The class guess must be one of: {', '.join(CLASS_GUESSES)}.")
    new = {
        "score_a": form.score_a,
        "score_b": form.score_b,
        "preferred": form.preferred,
        "class_guess": form.class_guess,
        "patterns_visible": _patterns(form.patterns_visible, VISIBLE, "Patterns visible", problems),
        "patterns_a": _patterns(form.patterns_a, HIGHLIGHTED, "Patterns highlighted by A", problems),
        "patterns_b": _patterns(form.patterns_b, HIGHLIGHTED, "Patterns highlighted by B", problems),
        "comment": _comment(form.comment, problems),
    }
    seconds = form.seconds_spent
    if not (_is_number(seconds) and 0 <= seconds <= MAX_SECONDS_PER_SAVE):
        problems.append(f"The time spent must be between 0 and {MAX_SECONDS_PER_SAVE:.0f} seconds.")
    missing = [label for name, label in REQUIRED.items() if new[name] is None]
    if complete and missing:
        problems.append(f"To finish this video, please give the {', '.join(missing)}.")
    if problems:
        raise FormError(problems)
    return new


def _patterns(given: object, allowed: tuple[str, ...], label: str, problems: list[str]) -> list[str]:
    """Known patterns in vocabulary order, each once; anything else is a problem."""
    if not isinstance(given, tuple | list):
        problems.append(f"{label} must be a list of patterns.")
        return []
    unknown = [p for p in given if p not in allowed]
    if unknown:
        problems.append(f"{label}: unknown pattern(s) {', '.join(map(repr, unknown))}.")
    return [p for p in allowed if p in given]


def _comment(comment: object, problems: list[str]) -> str | None:
    if comment is None:
        return None
    if not isinstance(comment, str) or "\x00" in comment or len(comment) > MAX_COMMENT:
        problems.append(f"The comment must be text of at most {MAX_COMMENT} characters.")
        return None
    return comment.strip() or None


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
