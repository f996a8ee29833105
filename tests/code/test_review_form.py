"""Form values: every range and vocabulary is enforced, all problems at once, complete stays complete."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pytest
from sqlalchemy import Engine

from reviewer.review import AnswerForm, FormError
from reviewer.review_form import GUESS_CHOICES, missing_fields
from tests.code.test_review import FULL, answer_audit, answers, item, open_world, resume, save

INVALID = [
    (dict(score_a=4), "Score A must be a whole number from -3 to 3."),
    (dict(score_b=-4), "Score B must be"),
    (dict(score_a=1.5), "Score A must be"),
    (dict(score_a=True), "Score A must be"),
    (dict(preferred="left"), "preferred heatmap must be A, B or equal"),
    (dict(class_guess="flu"), "class guess must be one of: covid, pneumonia"),
    (dict(patterns_visible=("skin",)), "Patterns visible: unknown pattern\\(s\\) 'skin'"),
    (dict(patterns_a=("nonsense",)), "Patterns highlighted by A: unknown"),
    (dict(patterns_b="b_lines"), "Patterns highlighted by B must be a list"),
    (dict(comment="x" * 2001), "comment must be text of at most 2000"),
    (dict(comment="a\x00b"), "comment must be text"),
    (dict(seconds_spent=-1), "time spent must be between 0 and 3600"),
    (dict(seconds_spent=math.nan), "time spent"),
    (dict(seconds_spent=math.inf), "time spent"),
    (dict(seconds_spent=1e9), "time spent"),
    (dict(score_b=None, class_guess=None), "To finish this video, please give the score B, class guess."),
]


@pytest.mark.parametrize(("overrides", "message"), INVALID)
def test_invalid_values_are_refused_and_nothing_is_stored(
    engine: Engine, overrides: dict[str, Any], message: str
) -> None:
    world, study_id = open_world(engine, n_videos=1)
    token = item(engine, study_id, world.experts[0], 0).item_token
    with pytest.raises(FormError, match=message):
        save(engine, study_id, world.experts[0], token, dataclasses.replace(FULL, **overrides))
    assert answers(engine) == [] and answer_audit(engine) == []


def test_all_problems_are_reported_at_once_and_drafts_may_be_partial(engine: Engine) -> None:
    world, study_id = open_world(engine, n_videos=1)
    expert = world.experts[0]
    token = item(engine, study_id, expert, 0).item_token
    with pytest.raises(FormError) as refused:
        save(engine, study_id, expert, token, AnswerForm(score_a=9, preferred="x"))
    assert len(refused.value.problems) == 3
    draft = save(engine, study_id, expert, token, AnswerForm(), complete=False)
    assert (draft.complete, draft.score_a, draft.revision) == (False, None, 1)


def test_a_complete_answer_stays_complete_when_edited_by_autosave(engine: Engine) -> None:
    world, study_id = open_world(engine, n_videos=2)
    expert = world.experts[0]
    token = item(engine, study_id, expert, 0).item_token
    save(engine, study_id, expert, token)
    with pytest.raises(FormError, match="To finish this video, please give the score A"):
        save(
            engine,
            study_id,
            expert,
            token,
            dataclasses.replace(FULL, score_a=None),
            complete=False,
            expected=1,
        )
    edited = save(
        engine, study_id, expert, token, dataclasses.replace(FULL, score_a=0), complete=False, expected=1
    )
    assert (edited.complete, edited.score_a, edited.revision) == (True, 0, 2)
    assert resume(engine, study_id, expert) == 1


def test_missing_fields_name_what_is_left_and_the_offered_guesses_are_the_issue_s_five() -> None:
    assert missing_fields(AnswerForm(score_a=0, class_guess="unsure")) == ["score B", "preferred heatmap"]
    assert missing_fields(FULL) == []
    assert GUESS_CHOICES == ("covid", "pneumonia", "viral", "healthy", "unsure")
