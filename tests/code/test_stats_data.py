"""The tidy study frame: unblinding and validation (the answer builder lives in tests/code/stock_study)."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pytest

from reviewer.stats_data import (
    COLUMNS,
    AnswerRecord,
    FrameError,
    answer_rows,
    finite_or_none,
    first_reads,
    other_kind,
    unblind,
    unblind_preference,
    validate_frame,
)
from reviewer.stats_scores import ScoreSummary
from reviewer.stats_sections import results_frame
from tests.code.stock_study import answer


def two_answers() -> pd.DataFrame:
    return unblind(
        [
            answer(1, 10, train=-1, test=2, prefer="test", left="test", test_patterns=["b_lines"]),
            answer(2, 11, train=3, test=0, prefer="train", left="train", visible=["a_lines"]),
        ]
    )


def test_unblind_maps_panels_back_to_cam_types() -> None:
    frame = two_answers().set_index(["study_item_id", "cam_type"])
    assert frame.loc[(1, "test"), "side"] == "A" and frame.loc[(1, "test"), "score"] == 2
    assert frame.loc[(1, "train"), "side"] == "B" and frame.loc[(1, "train"), "score"] == -1
    assert frame.loc[(1, "test"), "patterns_highlighted"] == ["b_lines"]
    assert frame.loc[(1, "train"), "patterns_highlighted"] == []
    assert frame.loc[(2, "train"), "side"] == "A" and frame.loc[(2, "train"), "score"] == 3
    assert list(frame.xs("test", level="cam_type")["preferred_type"]) == ["test", "train"]
    assert frame.loc[(2, "test"), "patterns_visible"] == ["a_lines"]
    assert list(two_answers().columns) == list(COLUMNS)


@pytest.mark.parametrize(
    ("preferred", "left", "expected"),
    [("a", "train", "train"), ("a", "test", "test"), ("b", "train", "test"), ("b", "test", "train")]
    + [("equal", "test", "equal")],
)
def test_unblind_preference(preferred: str, left: str, expected: str) -> None:
    assert unblind_preference(preferred, left) == expected


def test_unblind_rejects_unknown_panel_values() -> None:
    with pytest.raises(FrameError, match="preferred"):
        unblind_preference("c", "train")
    with pytest.raises(FrameError, match="left_kind"):
        other_kind("A")


def test_unblind_names_a_missing_key() -> None:
    broken = dict(answer(1, 10))
    del broken["score_b"]
    with pytest.raises(FrameError, match="record 0 lacks the key 'score_b'"):
        unblind([broken])  # type: ignore[list-item]


def test_reread_flags_follow_reread_of() -> None:
    frame = unblind([answer(1, 10), answer(2, 10, reread_of=1)])
    assert list(frame.drop_duplicates("study_item_id")["is_reread"]) == [False, True]
    assert set(first_reads(frame)["study_item_id"]) == {1}


def test_answer_rows_keep_one_row_per_answer() -> None:
    frame = two_answers()
    assert list(answer_rows(frame)["study_item_id"]) == [1, 2]
    assert list(answer_rows(frame[frame["cam_type"] == "test"])["study_item_id"]) == [1, 2]


def test_an_empty_frame_is_valid() -> None:
    frame = unblind([])
    assert frame.empty and list(frame.columns) == list(COLUMNS)


def _broken(column: str, value: object, row: int = 0) -> pd.DataFrame:
    frame = two_answers()
    frame[column] = frame[column].astype(object)
    frame.at[row, column] = value
    return frame


@pytest.mark.parametrize(
    ("frame_of", "message"),
    [
        (lambda: two_answers().drop(columns="score"), "missing columns"),
        (lambda: _broken("score", 4), "scores must be integers"),
        (lambda: _broken("score", 1.5), "scores must be integers"),
        (lambda: _broken("score", None), "'score' has missing values"),
        (lambda: _broken("cam_type", "both"), "'cam_type' holds"),
        (lambda: _broken("class_guess", "maybe"), "'class_guess' holds"),
        (lambda: _broken("seconds_spent", -1.0), "seconds_spent"),
        (lambda: _broken("is_reread", "no"), "booleans"),
        (lambda: _broken("patterns_highlighted", ["ribs"]), "lists of pattern values"),
        (lambda: _broken("patterns_visible", "a_lines"), "lists of pattern values"),
        (lambda: two_answers().iloc[1:], "exactly two rows"),
        (lambda: _broken("preferred_type", "train", row=1), "must not vary within one study_item_id"),
        (lambda: _broken("label", "healthy"), "must not vary within one video_id"),
        (lambda: _broken("expert_name", "someone else"), "must not vary within one expert_id"),
    ],
)
def test_validate_frame_names_the_broken_rule(frame_of: Callable[[], pd.DataFrame], message: str) -> None:
    with pytest.raises(FrameError, match=message):
        validate_frame(frame_of())


@pytest.mark.parametrize(
    ("records", "message"),
    [
        ([answer(1, 10, 1), answer(2, 11, 2, reference=2), answer(3, 12, 1)], "at most one expert"),
        ([answer(1, 10), answer(2, 10)], "two first reads of one video"),
        ([answer(1, 10, 1), answer(2, 10, 2, reread_of=1)], "same expert and video"),
        ([answer(1, 10), answer(2, 11, reread_of=1)], "same expert and video"),
        ([answer(1, 10), answer(2, 10, reread_of=9)], "same expert and video"),
        ([answer(1, 10, 1), answer(2, 11, 2)], None),
    ],
)
def test_validate_frame_checks_experts_and_rereads(records: list[AnswerRecord], message: str | None) -> None:
    if message is None:
        assert len(unblind(records)) == 4
        return
    with pytest.raises(FrameError, match=message):
        unblind(records)


def test_unknown_expert_names_must_be_unique() -> None:
    frame = unblind([answer(1, 10, 1), answer(2, 11, 2)])
    frame["expert_name"] = "same"
    with pytest.raises(FrameError, match="within one expert_name"):
        validate_frame(frame)


def test_results_frame_keeps_none_and_finite_or_none_drops_nan() -> None:
    rows = [
        ScoreSummary("all", "train", 2, 1.0, 1.0, 0.5),
        ScoreSummary("x", "test", 0, None, None, None, "m"),
    ]
    table = results_frame(rows)
    assert table.loc[1, "mean"] is None and table.loc[0, "mean"] == 1.0
    assert finite_or_none(float("nan")) is None and finite_or_none(2) == 2.0
