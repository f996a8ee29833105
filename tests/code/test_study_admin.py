"""What administrators read about studies: progress, lookups by name, the run picker and the key export."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import Engine

from db.models import ModelRun
from db.session import session_scope
from reviewer.review import AnswerForm, save_answer
from reviewer.study_admin import list_studies, run_videos, study_runs, user_ids
from reviewer.study_base import find_study
from reviewer.study_setup import StudyError, close_study, open_study
from reviewer.study_unblind import KeyRow, key_csv, key_rows
from tests.code.stock_study import items_of, make_run, make_world, new_study

FULL = AnswerForm(score_a=1, score_b=0, preferred="a", class_guess="covid", seconds_spent=4.0)


def answer(engine: Engine, study_id: int, expert: int, items: slice, *, complete: bool) -> None:
    """Save the expert's answers to the items in ``items`` (list positions) through the review service."""
    for item in items_of(engine, study_id, expert)[items]:
        with session_scope(engine) as session:
            save_answer(
                session=session,
                study_id=study_id,
                expert_id=expert,
                item_token=item.token,
                form=FULL,
                complete=complete,
                expected_revision=None,
            )


def test_list_counts_complete_answers_per_expert(any_engine: Engine) -> None:
    world = make_world(any_engine, n_videos=6, experts=3)
    first = new_study(any_engine, world, reference_expert_id=world.experts[1])
    second = new_study(
        any_engine, world, name="Solo", expert_ids=world.experts[2:], reference_expert_id=world.experts[2]
    )
    with session_scope(any_engine) as session:
        open_study(session=session, study_id=first, actor_id=world.admin)
    answer(any_engine, first, world.experts[0], slice(0, 2), complete=True)
    answer(any_engine, first, world.experts[0], slice(2, 3), complete=False)  # a draft is not done
    answer(any_engine, first, world.experts[1], slice(0, 1), complete=True)
    with session_scope(any_engine) as session:
        studies = list_studies(session=session)
        only = list_studies(session=session, study_id=first)
    assert [(s.id, s.name, s.state) for s in studies] == [(second, "Solo", "draft"), (first, "Pilot", "open")]
    assert only == studies[1:]
    assert [(e.username, e.done, e.items, e.reference) for e in studies[1].experts] == [
        ("expert0", 2, 6, False),
        ("expert1", 1, 6, True),
        ("expert2", 0, 6, False),
    ]
    assert [(e.username, e.done, e.items) for e in studies[0].experts] == [("expert2", 0, 6)]


def test_studies_and_users_are_found_by_name(engine: Engine) -> None:
    world = make_world(engine)
    study_id = new_study(engine, world, name="Pilot Study")
    with session_scope(engine) as session:
        assert find_study(session=session, ref=" pilot study ").id == study_id
        assert find_study(session=session, ref=str(study_id)).name == "Pilot Study"
        with pytest.raises(StudyError, match="There is no study named or numbered 'Pilot'"):
            find_study(session=session, ref="Pilot")
        assert user_ids(session=session, usernames=["Expert1", " expert0 ", ""]) == world.experts[::-1]
        with pytest.raises(StudyError, match=r"Unknown user\(s\): nobody, ghost\."):
            user_ids(session=session, usernames=["nobody", "expert0", "ghost"])


def test_a_study_named_like_a_number_is_found_by_name(engine: Engine) -> None:
    world = make_world(engine)
    first = new_study(engine, world, name="Pilot")
    year = new_study(engine, world, name="2025")
    squared = new_study(engine, world, name="²")
    with session_scope(engine) as session:
        assert find_study(session=session, ref="2025").id == year  # no study has id 2025
        assert find_study(session=session, ref=str(first)).id == first  # an id wins over a name
        assert find_study(session=session, ref="²").id == squared  # "²".isdigit() but not a number
        with pytest.raises(StudyError, match="There is no study named or numbered '³'"):
            find_study(session=session, ref=" ³ ")


def test_run_picker_offers_finished_runs_with_their_figures(any_engine: Engine) -> None:
    world = make_world(any_engine, n_videos=6, wrong={1}, bare={2})
    with session_scope(any_engine) as session:
        make_run(session, 2, status="failed")
        run = session.get(ModelRun, world.run_id)
        assert run is not None
        run.metrics = {"levels": {"video_vote": {"pooled": {"accuracy": 0.75}}}}
        newer, _ = make_run(session, 3)
        runs = study_runs(session=session)
        videos = run_videos(session=session, run_id=world.run_id)
    assert [(r.run_id, r.video_accuracy, r.with_cams, r.correct) for r in runs] == [
        (newer, None, 3, 3),
        (world.run_id, 0.75, 5, 4),
    ]
    assert [(v.video_id, v.correct) for v in videos] == [(world.videos[i], i != 1) for i in (0, 1, 3, 4, 5)]


def test_key_rows_name_experts_and_videos_and_the_csv_is_spreadsheet_safe(engine: Engine) -> None:
    world = make_world(engine, n_videos=3)
    study_id = new_study(engine, world, expert_ids=world.experts[:1])
    with session_scope(engine) as session:
        open_study(session=session, study_id=study_id, actor_id=None)
        close_study(session=session, study_id=study_id, actor_id=None)
        rows = key_rows(session=session, study_id=study_id, viewer=world.researcher)
    items = items_of(engine, study_id, world.experts[0])
    assert [(r.item_id, r.expert, r.video, r.left_kind) for r in rows] == [
        (i.id, "expert0", f"run{world.run_id}-video{world.videos.index(i.video_id)}.mp4", i.left_kind)
        for i in items
    ]
    risky = KeyRow(1, "@expert", 0, 9, "=HYPERLINK(evil).mp4", "train", "test", None)
    parsed = list(csv.DictReader(io.StringIO(key_csv([*rows, risky]))))
    assert len(parsed) == 4 and parsed[0]["right_kind"] == rows[0].right_kind
    assert (parsed[3]["expert"], parsed[3]["video"], parsed[3]["reread_of_id"]) == (
        "'@expert",
        "'=HYPERLINK(evil).mp4",
        "",
    )
