"""Answers are never lost: a hard exit right after commit, and racing saves of one item."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from db.models import Answer, AuditLog
from db.session import make_engine, session_scope
from reviewer.review import StaleAnswerError
from tests.code.stock_study import count
from tests.code.test_review import FULL, REPO, answer_audit, answers, item, open_world, save

CRASH = """
import os, sys
from db.session import make_engine, session_scope
from reviewer.review import AnswerForm, save_answer

url, study_id, expert_id, token = sys.argv[1:]
engine = make_engine(url)
form = AnswerForm(score_a=3, score_b=-3, preferred="a", class_guess="unsure", seconds_spent=7.0)
with session_scope(engine) as session:
    save_answer(session=session, study_id=int(study_id), expert_id=int(expert_id), item_token=token,
                form=form, complete=True, expected_revision=None)
print("saved", flush=True)
os._exit(0)  # no dispose, no checkpoint, no interpreter shutdown: as if the server died here
"""


def test_a_saved_answer_survives_a_hard_exit_right_after_commit(engine: Engine) -> None:
    world, study_id = open_world(engine, n_videos=2)
    expert = world.experts[1]
    token = item(engine, study_id, expert, 0).item_token
    url = engine.url.render_as_string(hide_password=False)
    args = [sys.executable, "-c", CRASH, url, str(study_id), str(expert), token]
    child = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
    assert (child.returncode, child.stdout.strip()) == (0, "saved"), child.stderr
    fresh = make_engine(url)
    try:
        with session_scope(fresh) as session:
            (stored,) = session.exec(select(Answer)).all()
            audit = session.exec(select(AuditLog).where(AuditLog.action == "answer.save")).all()
    finally:
        fresh.dispose()
    assert (stored.expert_id, stored.score_a, stored.score_b, stored.class_guess) == (expert, 3, -3, "unsure")
    assert (stored.complete, stored.revision, stored.seconds_spent, len(audit)) == (True, 1, 7.0, 1)
    assert count(engine, Answer) == 1


@pytest.mark.parametrize("expected", [None, 1])
def test_racing_saves_of_one_item_let_exactly_one_win(any_engine: Engine, expected: int | None) -> None:
    world, study_id = open_world(any_engine, n_videos=1)
    expert = world.experts[0]
    token = item(any_engine, study_id, expert, 0).item_token
    if expected is not None:
        save(any_engine, study_id, expert, token, complete=False)
    racers = 6
    start = threading.Barrier(racers)

    def race(score: int) -> str:
        start.wait()
        try:
            save(
                any_engine,
                study_id,
                expert,
                token,
                dataclasses.replace(FULL, score_b=score),
                expected=expected,
            )
        except StaleAnswerError:
            return "stale"
        return "saved"

    with ThreadPoolExecutor(racers) as pool:
        outcomes = list(pool.map(race, range(-3, -3 + racers)))
    assert sorted(outcomes) == ["saved"] + ["stale"] * (racers - 1)
    (stored,) = answers(any_engine)
    assert stored.revision == (expected or 0) + 1
    assert len(answer_audit(any_engine)) == stored.revision
