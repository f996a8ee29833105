"""Label history, second-annotator review and the label form, on a real SQLite file."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from db.models import AuditLog, PatternTag, Video, VideoLabel
from db.session import session_scope
from reviewer.annotation import AnnotationError, change_label, latest_label, review_label
from reviewer.annotation_form import (
    AnnotationForm,
    AnnotationState,
    StaleAnnotationError,
    annotation_state,
    save_annotation,
)
from reviewer.annotation_history import label_history, pending_reviews, video_audit
from reviewer.vocab import LabelAction
from tests.code import stock_annotation
from tests.code.stock_annotation import count_rows as rows

people, video_id = stock_annotation.people, stock_annotation.video_id  # shared fixtures


def label(engine: Engine, video: int, text: str, who: int, **kwargs: object) -> VideoLabel:
    with session_scope(engine) as session:
        return change_label(session=session, video_id=video, label=text, actor_id=who, **kwargs)  # type: ignore[arg-type]


def opened(engine: Engine, video: int, who: int) -> AnnotationState:
    """What the label form shows ``who`` when they open it now."""
    with Session(engine) as session:
        return annotation_state(session=session, video_id=video, user_id=who)


def save(engine: Engine, who: int, form: AnnotationForm, loaded: AnnotationState) -> list[str]:
    """Save the form ``who`` opened at ``loaded`` as one unit of work."""
    with session_scope(engine) as session:
        return save_annotation(session=session, loaded=loaded, form=form, actor_id=who)


def as_shown(state: AnnotationState, **edits: object) -> AnnotationForm:
    """The form as opened on ``state``, with the fields the user edited."""
    form = AnnotationForm(state.label, state.probe, state.patterns, state.comment)
    return replace(form, **edits)  # type: ignore[arg-type]


def test_label_changes_append_history_and_audit(
    engine: Engine, people: dict[str, int], video_id: int
) -> None:
    ann, bob = people["ann"], people["bob"]
    label(engine, video_id, "covid", ann, reason=None, action=LabelAction.SET)
    label(engine, video_id, "COVID-19", bob, reason=None)  # same class: an approval
    label(engine, video_id, "Bacterial pneumonia", bob, reason="  consolidation with\nair bronchogram ")
    with Session(engine) as session:
        history = label_history(session=session, video_id=video_id)
        audit = video_audit(session=session, video_id=video_id)
        current = session.get(Video, video_id)
    assert current is not None and current.label == "pneumonia"
    assert [(e.label, e.action, e.user, e.reason) for e in history] == [
        ("covid", LabelAction.SET, "Ann", None),
        ("covid", LabelAction.APPROVE, "Bob", None),
        ("pneumonia", LabelAction.CHANGE, "Bob", "consolidation with air bronchogram"),
    ]
    assert [(a.action, a.user, a.detail["previous"], a.detail["label"]) for a in audit] == [
        ("label.set", "Ann", None, "covid"),
        ("label.approve", "Bob", "covid", "covid"),
        ("label.change", "Bob", "covid", "pneumonia"),
    ]
    assert [a.detail["label_id"] for a in audit] == [e.id for e in history]


@pytest.mark.parametrize(
    ("text", "kwargs", "message"),
    [
        ("pneumonia", {"reason": " ", "action": "change"}, "Say why the label changes"),
        ("pneumonia", {"reason": "x" * 1001}, "limited to 1000 characters"),
        ("sick", {"reason": "why not"}, "Unknown label 'sick'"),
        ("covid", {"reason": None, "action": "change"}, "already is COVID-19; approve it"),
        ("healthy", {"reason": None, "action": "approve"}, "Only the current label can be approved"),
        ("healthy", {"reason": "r", "action": "erase"}, "Unknown label action 'erase'"),
        ("healthy", {"reason": "r", "expected_label_id": 999}, "changed by someone else"),
    ],
)
def test_refused_label_decisions_leave_nothing(
    engine: Engine, people: dict[str, int], video_id: int, text: str, kwargs: dict[str, object], message: str
) -> None:
    label(engine, video_id, "covid", people["ann"], reason=None, action="set")
    before = (rows(engine, VideoLabel), rows(engine, AuditLog))
    with pytest.raises(AnnotationError, match=message):
        label(engine, video_id, text, people["bob"], **kwargs)
    assert (rows(engine, VideoLabel), rows(engine, AuditLog)) == before


def test_a_failure_after_the_label_rolls_the_whole_action_back(
    engine: Engine, people: dict[str, int], video_id: int
) -> None:
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        change_label(session=session, video_id=video_id, label="viral", reason=None, actor_id=people["ann"])
        raise RuntimeError("the page crashed before the commit")
    with Session(engine) as session:
        assert session.get(Video, video_id).label is None  # type: ignore[union-attr]
    assert (rows(engine, VideoLabel), rows(engine, AuditLog)) == (0, 0)
    with pytest.raises(AnnotationError, match="no video with id 404"):
        label(engine, 404, "viral", people["ann"], reason="r")


def test_a_label_cannot_be_taken_away_and_a_refused_save_writes_nothing(
    engine: Engine, people: dict[str, int], video_id: int
) -> None:
    label(engine, video_id, "covid", people["ann"], reason=None, action="set")
    loaded = opened(engine, video_id, people["ann"])
    before = (rows(engine, VideoLabel), rows(engine, AuditLog))
    with pytest.raises(AnnotationError, match="cannot be taken away"):
        save(engine, people["ann"], as_shown(loaded, label=None, comment="unsure now"), loaded)
    assert (rows(engine, VideoLabel), rows(engine, AuditLog)) == before
    assert opened(engine, video_id, people["ann"]) == loaded  # the comment was not saved either


def test_keeping_ones_own_label_is_no_approval_and_it_still_waits_for_review(
    engine: Engine, people: dict[str, int], video_id: int
) -> None:
    ann, bob = people["ann"], people["bob"]
    label(engine, video_id, "covid", ann, reason=None, action="set")
    kept = label(engine, video_id, "covid", ann, reason=None)  # the relabel queue's "Confirm COVID-19"
    assert kept.action == "set"
    with Session(engine) as session:
        (pending,) = pending_reviews(session=session, reviewer_id=bob)
    assert pending.label_id == kept.id
    with pytest.raises(AnnotationError, match="You gave this label yourself"):
        label(engine, video_id, "covid", ann, reason=None, action="approve")
    assert label(engine, video_id, "covid", bob, reason=None).action == "approve"  # the second pair of eyes
    with Session(engine) as session:
        assert pending_reviews(session=session, reviewer_id=bob) == []


def test_second_annotator_reviews_and_nobody_reviews_their_own_label(
    engine: Engine, people: dict[str, int], video_id: int
) -> None:
    ann, bob = people["ann"], people["bob"]
    with session_scope(engine) as session, pytest.raises(AnnotationError, match="no label to review"):
        review_label(session=session, video_id=video_id, reviewer_id=bob, expected_label_id=1)
    first = label(engine, video_id, "covid", ann, reason=None, action="set")
    with Session(engine) as session:
        assert pending_reviews(session=session, reviewer_id=ann) == []
        (pending,) = pending_reviews(session=session, reviewer_id=bob)
    assert (pending.video_id, pending.label, pending.label_id, pending.labelled_by) == (
        video_id,
        "covid",
        first.id,
        "Ann",
    )
    with session_scope(engine) as session, pytest.raises(AnnotationError, match="another annotator"):
        review_label(session=session, video_id=video_id, reviewer_id=ann, expected_label_id=pending.label_id)
    with session_scope(engine) as session:
        approved = review_label(
            session=session, video_id=video_id, reviewer_id=bob, expected_label_id=pending.label_id
        )
    assert approved.action == "approve" and approved.label == "covid"
    with Session(engine) as session:
        assert pending_reviews(session=session, reviewer_id=bob) == []
    with session_scope(engine) as session, pytest.raises(AnnotationError, match="someone else"):
        review_label(session=session, video_id=video_id, reviewer_id=ann, expected_label_id=pending.label_id)


def test_review_change_needs_a_reason_and_goes_back_to_the_queue(
    engine: Engine, people: dict[str, int], video_id: int
) -> None:
    ann, bob = people["ann"], people["bob"]
    first = label(engine, video_id, "covid", ann, reason=None, action="set")
    with session_scope(engine) as session, pytest.raises(AnnotationError, match="Say why"):
        review_label(
            session=session,
            video_id=video_id,
            reviewer_id=bob,
            expected_label_id=int(first.id or 0),
            label="viral",
        )
    with session_scope(engine) as session:
        changed = review_label(
            session=session,
            video_id=video_id,
            reviewer_id=bob,
            expected_label_id=int(first.id or 0),
            label="viral",
            reason="no consolidation, diffuse B-lines",
        )
    assert (changed.action, changed.label, changed.user_id) == ("change", "viral", bob)
    with Session(engine) as session:
        (pending,) = pending_reviews(session=session, reviewer_id=ann)  # Ann now reviews Bob's change
        assert pending.label == "viral" and latest_label(session=session, video_id=video_id).id == changed.id  # type: ignore[union-attr]


def test_label_form_saves_only_what_changed(engine: Engine, people: dict[str, int], video_id: int) -> None:
    ann = people["ann"]
    form = AnnotationForm(
        label="covid", probe="linear", patterns=("b_lines", "b_lines", "skin"), comment=" dense "
    )
    changed = save(engine, ann, form, opened(engine, video_id, ann))
    assert changed == ["label", "probe", "comment", "patterns"]
    state = opened(engine, video_id, ann)
    with Session(engine) as session:
        tags = session.exec(select(PatternTag.pattern, PatternTag.source)).all()
    assert (state.label, state.probe, state.patterns, state.comment) == (
        "covid",
        "linear",
        ("b_lines", "skin"),
        "dense",
    )
    assert sorted(tags) == [("b_lines", "annotator"), ("skin", "annotator")]
    assert save(engine, ann, form, state) == []
    relabel = AnnotationForm(label="viral", probe="linear", patterns=("a_lines",), comment="dense")
    with pytest.raises(AnnotationError, match="Say why"):
        save(engine, ann, relabel, state)
    assert rows(engine, PatternTag) == 2  # the refused save changed no tag either
    assert save(engine, ann, replace(relabel, reason="second look"), state) == ["label", "patterns"]
    with Session(engine) as session:
        actions = [a.action for a in video_audit(session=session, video_id=video_id)]
        assert actions == ["label.set", "video.annotate", "label.change", "video.annotate"]
        assert [e.action for e in label_history(session=session, video_id=video_id)] == ["set", "change"]


@pytest.mark.parametrize(
    ("editor", "edit"),
    [
        ("bob", {"comment": "irregular pleural line"}),
        ("bob", {"probe": "linear"}),
        ("bob", {"label": "covid"}),
        ("ann", {"patterns": ("b_lines",)}),  # Ann herself, in another browser tab
    ],
)
def test_a_save_on_values_changed_since_the_form_opened_is_refused_whole(
    engine: Engine, people: dict[str, int], video_id: int, editor: str, edit: dict[str, object]
) -> None:
    ann, other = people["ann"], people[editor]
    shown = opened(engine, video_id, ann)
    save(engine, other, as_shown(opened(engine, video_id, other), **edit), opened(engine, video_id, other))
    stored = opened(engine, video_id, ann)
    before = (rows(engine, AuditLog), rows(engine, PatternTag), rows(engine, VideoLabel))
    with pytest.raises(StaleAnnotationError, match="Reload the form"):
        save(engine, ann, as_shown(shown, patterns=("skin",)), shown)
    assert opened(engine, video_id, ann) == stored  # the other edit stands, nothing of Ann's was written
    assert (rows(engine, AuditLog), rows(engine, PatternTag), rows(engine, VideoLabel)) == before
    assert save(engine, ann, as_shown(stored, patterns=("skin",)), stored) == ["patterns"]  # after a reload


def test_another_annotators_own_tags_leave_the_form_fresh(
    engine: Engine, people: dict[str, int], video_id: int
) -> None:
    ann, bob = people["ann"], people["bob"]
    shown = opened(engine, video_id, ann)
    save(
        engine,
        bob,
        as_shown(opened(engine, video_id, bob), patterns=("a_lines",)),
        opened(engine, video_id, bob),
    )
    assert save(engine, ann, as_shown(shown, comment="thick pleura"), shown) == ["comment"]
    with Session(engine) as session:
        assert sorted(session.exec(select(PatternTag.pattern, PatternTag.user_id)).all()) == [
            ("a_lines", bob)
        ]


def test_label_form_refuses_unknown_values(engine: Engine, people: dict[str, int], video_id: int) -> None:
    shown = opened(engine, video_id, people["ann"])
    for form, message in [
        (AnnotationForm(label=None, probe="phased"), "Unknown value"),
        (AnnotationForm(label=None, probe="convex", patterns=("glitter",)), "Unknown value"),
        (AnnotationForm(label=None, probe="convex", comment="x" * 2001), "limited to 2000"),
    ]:
        with pytest.raises(AnnotationError, match=message):
            save(engine, people["ann"], form, shown)
    assert rows(engine, AuditLog) == 0
