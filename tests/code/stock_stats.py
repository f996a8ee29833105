"""A real, answered study for the statistics tests, built only through the services.

Videos, a finished run with ensemble predictions and CAM assets (with peaks) are rows; the study is
made with ``create_study``, every answer is given blind through ``review_item`` + ``save_answer``
(the builder looks up the hidden key only to know what to answer), then the study is closed. The
answers follow :func:`expected`, so tests can check every unblinded number by hand.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlmodel import Session, select

from db.models import CamAsset, StudyItem
from db.session import session_scope
from reviewer.review import AnswerForm, review_item, save_answer
from reviewer.study_setup import close_study, create_study, open_study, row_id
from reviewer.users import create_user
from tests.code.stock import PASSWORD
from tests.code.stock_study import CLASSES, cheap_hashing, make_run

WRONG = (1,)  # the ensemble calls video 1 (pneumonia) healthy
PEAKS = {"covid": [[10, 10], [12, 11]], "pneumonia": [[50, 40], [52, 44]], "healthy": [[30, 60], [28, 58]]}


@dataclass(frozen=True)
class StatsWorld:
    """Ids of what :func:`answered_study` built; ``experts`` in order, the first is the reference."""

    study_id: int
    run_id: int
    admin: int
    researcher: int
    experts: list[int]
    videos: list[int]


def _user(session: Session, username: str, role: str, display_name: str | None = None) -> int:
    with cheap_hashing():
        return row_id(
            create_user(
                session=session, username=username, password=PASSWORD, role=role, display_name=display_name
            )
        )


def expected(expert: int, video: int, label: str) -> dict[str, int | str]:
    """What expert number ``expert`` (0-based) answers for the ``video``-th video (0-based) of ``label``.

    The train-CAM always scores 1; the test-CAM scores 2 for expert 0 and 1 + (video % 2) for the
    others, so some pairs tie. Everyone prefers the test-CAM when it scored higher, else 'equal'.
    """
    test = 2 if expert == 0 else 1 + video % 2
    return {"train": 1, "test": test, "preferred": "test" if test > 1 else "equal", "guess": label}


def _run(session: Session, n_videos: int) -> tuple[int, list[int]]:
    """The shared run builder (video :data:`WRONG` misclassified), with peaks on every CAM asset."""
    run_id, videos = make_run(session, n_videos, wrong=WRONG)
    for asset in session.exec(select(CamAsset).where(CamAsset.run_id == run_id)):
        number = videos.index(asset.video_id)
        shift = 0 if asset.kind == "train" else 1
        asset.peaks = [[x + shift + number, y + shift] for x, y in PEAKS[CLASSES[number % len(CLASSES)]]]
        session.add(asset)
    session.flush()
    return run_id, videos


def _answer_all(engine: Engine, world: StatsWorld, labels: dict[int, str], *, skip_last: bool) -> None:
    """Every expert answers every item blind; with ``skip_last`` the last expert leaves one item open."""
    order = {v: n for n, v in enumerate(world.videos)}
    for number, expert_id in enumerate(world.experts):
        with session_scope(engine) as session:
            items = list(
                session.exec(
                    select(StudyItem).where(
                        StudyItem.study_id == world.study_id, StudyItem.expert_id == expert_id
                    )
                )
            )
        for item in sorted(items, key=lambda i: i.position):
            if skip_last and number == len(world.experts) - 1 and item.position == len(items) - 1:
                continue
            _save(
                engine, world, expert_id, item, expected(number, order[item.video_id], labels[item.video_id])
            )


def _save(
    engine: Engine, world: StatsWorld, expert_id: int, item: StudyItem, truth: dict[str, int | str]
) -> None:
    left_is_train = item.left_kind == "train"
    panel = {"test": "b" if left_is_train else "a", "train": "a" if left_is_train else "b", "equal": "equal"}
    highlighted = ("b_lines",) if truth["guess"] == "covid" else ("skin",)
    form = AnswerForm(
        score_a=int(truth["train" if left_is_train else "test"]),
        score_b=int(truth["test" if left_is_train else "train"]),
        preferred=panel[str(truth["preferred"])],
        class_guess=str(truth["guess"]),
        patterns_visible=("b_lines",) if truth["guess"] == "covid" else (),
        patterns_a=highlighted if not left_is_train else (),
        patterns_b=highlighted if left_is_train else (),
        seconds_spent=10.0 + item.position,
    )
    with session_scope(engine) as session:
        shown = review_item(
            session=session, study_id=world.study_id, expert_id=expert_id, position=item.position
        )
        save_answer(
            session=session,
            study_id=world.study_id,
            expert_id=expert_id,
            item_token=shown.item_token,
            form=form,
            complete=True,
            expected_revision=None,
        )


def answered_study(
    engine: Engine,
    *,
    n_videos: int = 6,
    experts: int = 2,
    close: bool = True,
    skip_last: bool = False,
    reread_share: float = 0.0,
) -> StatsWorld:
    """A study over ``n_videos`` (classes in turn) answered by ``experts`` experts, closed by default.

    The test-CAM highlights what the expert saw (B-lines in COVID-19 videos, skin elsewhere); the
    train-CAM highlights nothing.
    """
    with session_scope(engine) as session:
        admin = _user(session, "admin", "admin")
        researcher = _user(session, "researcher", "researcher")
        expert_ids = [_user(session, f"expert{i}", "expert", f"Dr. Expert {i}") for i in range(experts)]
        run_id, videos = _run(session, n_videos)
        labels = {v: CLASSES[n % len(CLASSES)] for n, v in enumerate(videos)}
        study = create_study(
            session=session,
            name="Pilot study",
            run_id=run_id,
            expert_ids=expert_ids,
            reference_expert_id=expert_ids[0],
            video_selection="all",
            reread_share=reread_share,
            washout=1,
            actor_id=admin,
        )
        study_id = row_id(study)
        open_study(session=session, study_id=study_id, actor_id=admin)
    world = StatsWorld(study_id, run_id, admin, researcher, expert_ids, videos)
    _answer_all(engine, world, labels, skip_last=skip_last)
    if close:
        with session_scope(engine) as session:
            close_study(session=session, study_id=study_id, actor_id=admin)
    return world


def admin_expert_study(engine: Engine, world: StatsWorld) -> int:
    """An open study "Admin joins" on the world's run in which the administrator is also an expert."""
    with session_scope(engine) as session:
        study = create_study(
            session=session,
            name="Admin joins",
            run_id=world.run_id,
            expert_ids=[world.admin, world.experts[0]],
            reference_expert_id=world.experts[0],
            video_selection="all",
            actor_id=world.admin,
        )
        open_study(session=session, study_id=row_id(study), actor_id=world.admin)
        return row_id(study)
