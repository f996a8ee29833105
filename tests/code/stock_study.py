"""Stock a study world without TensorFlow: users, a finished run with CAM asset rows, studies, answers.

The study, review, CLI and page tests share these builders (and ``benchmarks/answer_load.py`` uses
the run builder), so a change of the schema is fixed here once. CAM asset rows are real rows with
opaque tokens; the files they name are not written because set-up never reads them.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from unittest.mock import patch

import bcrypt
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from db.models import CamAsset, ModelRun, Prediction, StudyItem
from db.session import session_scope
from reviewer.stats_data import AnswerRecord
from reviewer.study_setup import KINDS, create_study, row_id
from reviewer.users import create_user
from tests.code.stock import PASSWORD, add_video

CLASSES = ("covid", "pneumonia", "healthy")
PANEL = {"train": {"train": "a", "test": "b"}, "test": {"train": "b", "test": "a"}}
_GENSALT = bcrypt.gensalt


@dataclass(frozen=True)
class World:
    """Ids of a stocked study world: one user per role, experts and a finished run."""

    run_id: int
    videos: list[int]
    admin: int
    researcher: int
    annotator: int
    experts: list[int]


@contextmanager
def cheap_hashing() -> Iterator[None]:
    """bcrypt at cost 4: hashing is not under test here and costs ~1 s per user at the default."""
    with patch.object(bcrypt, "gensalt", lambda *_a, **_k: _GENSALT(4)):
        yield


def add_user(session: Session, username: str, role: str = "expert") -> int:
    """A user with password :data:`PASSWORD`, hashed cheaply."""
    with cheap_hashing():
        return row_id(create_user(session=session, username=username, password=PASSWORD, role=role))


def add_cam(session: Session, run_id: int, video_id: int, kind: str, target: str, *, name: str = "") -> None:
    """A CAM asset row with an opaque token (or files named ``name`` to test un-blinding names)."""
    token = secrets.token_hex(16)
    stem = name or f"cams/{token[:2]}/{token}"
    session.add(
        CamAsset(
            run_id=run_id,
            video_id=video_id,
            kind=kind,
            target_class=target,
            token=token,
            raw_path=f"{stem}.npy",
            overlay_path=f"{stem}.mp4",
        )
    )


def make_run(
    session: Session,
    n_videos: int,
    *,
    wrong: Collection[int] = (),
    bare: Collection[int] = (),
    status: str = "done",
) -> tuple[int, list[int]]:
    """A run over ``n_videos``: ensemble predictions (``wrong`` indices misclassified) and CAM pairs
    for the predicted class (none for ``bare`` indices)."""
    run = ModelRun(status=status, classes=list(CLASSES))
    session.add(run)
    session.flush()
    run_id = row_id(run)
    ids = []
    for i in range(n_videos):
        label = CLASSES[i % len(CLASSES)]
        predicted = CLASSES[(i + 1) % len(CLASSES)] if i in wrong else label
        video_id = row_id(add_video(session, f"run{run_id}-video{i}.mp4", label=label))
        session.add(
            Prediction(
                run_id=run_id, video_id=video_id, probabilities={predicted: 0.9}, predicted_class=predicted
            )
        )
        session.add(
            Prediction(run_id=run_id, video_id=video_id, frame_index=0, fold=1, predicted_class=label)
        )
        if i not in bare:
            for kind in KINDS:
                add_cam(session, run_id, video_id, kind, predicted)
        ids.append(video_id)
    session.flush()
    return run_id, ids


def make_world(engine: Engine, *, n_videos: int = 10, experts: int = 2, **run: Any) -> World:
    """Users admin, researcher, annotator, expert0.. and a finished run (options as :func:`make_run`)."""
    with session_scope(engine) as session:
        admin = add_user(session, "admin", "admin")
        researcher = add_user(session, "researcher", "researcher")
        annotator = add_user(session, "annotator", "annotator")
        expert_ids = [add_user(session, f"expert{i}") for i in range(experts)]
        run_id, videos = make_run(session, n_videos, **run)
    return World(run_id, videos, admin, researcher, annotator, expert_ids)


def new_study(engine: Engine, world: World, **overrides: Any) -> int:
    """A draft study "Pilot" of the world's run and experts; ``overrides`` go to create_study."""
    options: dict[str, Any] = dict(
        name="Pilot",
        run_id=world.run_id,
        expert_ids=world.experts,
        reference_expert_id=world.experts[0],
        actor_id=world.admin,
    )
    options.update(overrides)
    with session_scope(engine) as session:
        return row_id(create_study(session=session, **options))


def items_of(engine: Engine, study_id: int, expert_id: int) -> list[StudyItem]:
    """One expert's items in list order."""
    with session_scope(engine) as session:
        query = select(StudyItem).where(StudyItem.study_id == study_id, StudyItem.expert_id == expert_id)
        return list(session.exec(query.order_by(col(StudyItem.position))))


def count(engine: Engine, table: Any) -> int:
    """Rows in a table."""
    with session_scope(engine) as session:
        return session.exec(select(func.count()).select_from(table)).one()


def answer(
    item: int,
    video: int,
    expert: int = 1,
    *,
    train: int = 0,
    test: int = 0,
    prefer: str = "equal",
    left: str = "train",
    label: str = "covid",
    predicted: str | None = "covid",
    guess: str | None = "covid",
    visible: Sequence[str] = (),
    train_patterns: Sequence[str] = (),
    test_patterns: Sequence[str] = (),
    seconds: float = 10.0,
    position: int | None = None,
    reread_of: int | None = None,
    reference: int = 1,
) -> AnswerRecord:
    """A blinded answer written in unblinded terms; ``left`` decides which CAM sits on panel A."""
    on_a = left == "train"
    return AnswerRecord(
        study_item_id=item,
        video_id=video,
        video_name=f"video{video}.mp4",
        label=label,
        predicted=predicted,
        expert_id=expert,
        expert_name=f"E{expert}",
        is_reference=expert == reference,
        position=item if position is None else position,
        left_kind=left,
        reread_of=reread_of,
        score_a=train if on_a else test,
        score_b=test if on_a else train,
        preferred="equal" if prefer == "equal" else PANEL[left][prefer],
        class_guess=guess,
        patterns_visible=list(visible),
        patterns_a=list(train_patterns if on_a else test_patterns),
        patterns_b=list(test_patterns if on_a else train_patterns),
        seconds_spent=seconds,
    )
