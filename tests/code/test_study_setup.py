"""Study set-up: video choice, counterbalanced sides, hidden re-reads, states and the key."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from db.models import AuditLog, ModelRun, Prediction, Study, StudyExpert, StudyItem
from db.session import session_scope
from reviewer import study_setup
from reviewer.study_setup import (
    KINDS,
    StudyError,
    balance_report,
    close_study,
    open_study,
    plan_items,
    row_id,
    study_key,
)
from reviewer.study_videos import ensemble_predictions
from tests.code.stock import add_video
from tests.code.stock_study import CLASSES as CLASSES  # re-exported until test_review imports stock_study
from tests.code.stock_study import World as World
from tests.code.stock_study import add_cam, count, items_of, make_run, make_world, new_study
from tests.code.stock_study import add_user as add_user  # re-exported for benchmarks/answer_load.py


@pytest.mark.parametrize("share", [0.0, 0.1, 0.3])
def test_sides_are_counterbalanced_within_one_for_odd_and_even_lists(share: float) -> None:
    for n in range(12, 41):
        for expert_id in (1, 2, 7):
            plan = plan_items(range(n), seed=3, expert_id=expert_id, reread_share=share, washout=2)
            sides = Counter(p.left_kind for p in plan)
            firsts = Counter(p.left_kind for p in plan if p.reread_of is None)
            assert abs(sides["train"] - sides["test"]) <= 1, (n, expert_id)
            assert abs(firsts["train"] - firsts["test"]) <= 1, (n, expert_id)
            assert sorted(p.video_id for p in plan if p.reread_of is None) == list(range(n))


def test_plans_are_reproducible_by_seed_and_differ_between_experts_and_seeds() -> None:
    def plan(seed: int, expert_id: int) -> list[tuple[int, str]]:
        items = plan_items(range(30), seed=seed, expert_id=expert_id, reread_share=0.1, washout=5)
        return [(p.video_id, p.left_kind) for p in items]

    assert plan(11, 4) == plan(11, 4)
    assert plan(11, 4) != plan(11, 5)
    assert plan(11, 4) != plan(12, 4)


def test_rereads_come_near_the_end_after_the_washout() -> None:
    for expert_id in range(1, 30):
        plan = plan_items(range(40), seed=0, expert_id=expert_id, reread_share=0.1, washout=6)
        rereads = [(q, p) for q, p in enumerate(plan) if p.reread_of is not None]
        assert len(rereads) == 4
        assert len({p.reread_of for _, p in rereads}) == 4
        for position, item in rereads:
            assert item.reread_of is not None
            original = plan[item.reread_of]
            assert original.reread_of is None and original.video_id == item.video_id
            assert position - item.reread_of - 1 >= 6
            assert position >= len(plan) - 2 * len(rereads)  # mixed into the last few items


def test_too_few_videos_for_the_rereads_and_washout_is_refused() -> None:
    with pytest.raises(StudyError, match="too few for 3 re-reads after a washout of 6"):
        plan_items(range(10), seed=0, expert_id=1, reread_share=0.3, washout=6)


def test_created_items_follow_the_plan_with_links_and_opaque_tokens(any_engine: Engine) -> None:
    world = make_world(any_engine, n_videos=21)
    study_id = new_study(any_engine, world, reread_share=0.1, washout=4, seed=9)
    for expert_id in world.experts:
        items = items_of(any_engine, study_id, expert_id)
        plan = plan_items(world.videos, seed=9, expert_id=expert_id, reread_share=0.1, washout=4)
        assert [(i.video_id, i.left_kind) for i in items] == [(p.video_id, p.left_kind) for p in plan]
        by_id = {i.id: i for i in items}
        for item, planned in zip(items, plan, strict=True):
            linked = by_id[item.reread_of_id] if item.reread_of_id else None
            assert (linked.position if linked else None) == planned.reread_of
        tokens = [i.token for i in items]
        assert len(set(tokens)) == len(tokens)
        assert not any(k in t for t in tokens for k in KINDS)
    orders = [[i.video_id for i in items_of(any_engine, study_id, e)] for e in world.experts]
    assert orders[0] != orders[1]


def test_same_seed_gives_the_same_lists_in_a_second_study(engine: Engine) -> None:
    world = make_world(engine)
    first = new_study(engine, world, seed=5)
    second = new_study(engine, world, name="Pilot 2", seed=5)
    for expert_id in world.experts:
        a, b = items_of(engine, first, expert_id), items_of(engine, second, expert_id)
        assert [(i.video_id, i.left_kind) for i in a] == [(i.video_id, i.left_kind) for i in b]
        assert {i.token for i in a}.isdisjoint(i.token for i in b)


def test_balance_report_counts_sides_and_rereads(any_engine: Engine) -> None:
    world = make_world(any_engine, n_videos=21)
    study_id = new_study(any_engine, world, reread_share=0.1, washout=3)
    with session_scope(any_engine) as session:
        report = balance_report(session=session, study_id=study_id)
    assert [row.expert_id for row in report] == world.experts
    for row in report:
        items = items_of(any_engine, study_id, row.expert_id)
        assert row.items == len(items) == 23 and row.rereads == 2
        assert row.train_left == sum(i.left_kind == "train" for i in items)
        assert row.balanced and row.test_left == 23 - row.train_left


def test_default_selection_is_the_correctly_classified_videos_with_cams(any_engine: Engine) -> None:
    world = make_world(any_engine, n_videos=8, wrong={1, 4}, bare={6})
    study_id = new_study(any_engine, world)
    chosen = {i.video_id for i in items_of(any_engine, study_id, world.experts[0])}
    assert chosen == {world.videos[i] for i in (0, 2, 3, 5, 7)}
    everything = new_study(any_engine, world, name="All", video_selection="all")
    chosen = {i.video_id for i in items_of(any_engine, everything, world.experts[0])}
    assert chosen == {world.videos[i] for i in (0, 1, 2, 3, 4, 5, 7)}


def test_correct_videos_follow_the_labels_the_run_was_trained_on(engine: Engine) -> None:
    world = make_world(engine, n_videos=6, wrong={1})
    with session_scope(engine) as session:
        run = session.get(ModelRun, world.run_id)
        assert run is not None
        predicted = ensemble_predictions(session=session, run_id=world.run_id)
        run.data_snapshot = [  # video 1 was relabelled after training, video 0 too, the other way
            {"video_id": world.videos[1], "label": predicted[world.videos[1]]},
            {"video_id": world.videos[0], "label": CLASSES[2]},
        ]
        session.add(run)
    study_id = new_study(engine, world)
    chosen = {i.video_id for i in items_of(engine, study_id, world.experts[0])}
    assert chosen == {world.videos[i] for i in (1, 2, 3, 4, 5)}


def test_the_largest_seed_fits_the_database(any_engine: Engine) -> None:
    world = make_world(any_engine)
    study_id = new_study(any_engine, world, seed=2**31 - 1, washout=1000)
    with session_scope(any_engine) as session:
        study = session.get(Study, study_id)
        assert study is not None and (study.seed, study.washout) == (2**31 - 1, 1000)


def test_hand_picked_videos_are_validated(engine: Engine) -> None:
    world = make_world(engine, n_videos=6, bare={5})
    with session_scope(engine) as session:
        _, other_videos = make_run(session, 2)
    picked = new_study(engine, world, video_selection=[world.videos[1], world.videos[3]])
    assert {i.video_id for i in items_of(engine, picked, world.experts[1])} == {
        world.videos[1],
        world.videos[3],
    }
    refusals = {
        "not part of run": [world.videos[0], other_videos[0]],
        "lack a train- and a test-CAM": [world.videos[5]],
        "listed only once": [world.videos[0], world.videos[0]],
        "whole numbers": ["1"],
        "no video to study": [],
    }
    for message, selection in refusals.items():
        with pytest.raises(StudyError, match=message):
            new_study(engine, world, name="Picked 2", video_selection=selection)
    assert count(engine, Study) == 1


def test_set_up_is_validated_and_a_refusal_stores_nothing(any_engine: Engine) -> None:
    world = make_world(any_engine)
    new_study(any_engine, world)
    with session_scope(any_engine) as session:
        running, _ = make_run(session, 2, status="running")
    refusals: dict[str, dict[str, Any]] = {
        "already exists": dict(name="  pilot "),
        "1 to 128 characters": dict(name=" "),
        "not an expert": dict(name="x", expert_ids=[*world.experts, world.annotator]),
        "reference expert must be one of": dict(name="x", reference_expert_id=world.researcher),
        "at least one expert": dict(name="x", expert_ids=[]),
        "only finished runs": dict(name="x", run_id=running),
        "does not exist": dict(name="x", run_id=999),
        "re-read share": dict(name="x", reread_share=0.6),
        "washout": dict(name="x", washout=-1),
        "seed": dict(name="x", seed=-2),
        "seed must be a whole number from 0 to 2147483647": dict(name="x", seed=3_000_000_000),
        "washout must be a whole number of items from 0 to 1000": dict(name="x", washout=1001),
        "Only administrators": dict(name="x", actor_id=world.researcher),
        "'correct', 'all' or a list": dict(name="x", video_selection="some"),
    }
    for message, overrides in refusals.items():
        with pytest.raises(StudyError, match=message):
            new_study(any_engine, world, **overrides)
    assert count(any_engine, Study) == 1
    assert count(any_engine, StudyExpert) == 2


@pytest.mark.parametrize(
    ("taken", "variant"),
    [("Ärzte Pilot", "ärzte pilot"), ("Ärzte Pilot", "A\u0308RZTE PILOT"), ("Straße", "STRASSE")],
)
def test_names_differing_only_in_non_ascii_case_or_unicode_form_are_one_name(
    any_engine: Engine, taken: str, variant: str
) -> None:
    world = make_world(any_engine)
    new_study(any_engine, world, name=taken)
    with pytest.raises(StudyError, match=f"A study named {variant!r} already exists"):
        new_study(any_engine, world, name=variant)
    new_study(any_engine, world, name=f"{variant} 2")
    assert _written(any_engine)[0] == [taken, f"{variant} 2"]


def _written(engine: Engine) -> tuple[list[str], int, int, int]:
    """Study names, experts, items and creation audit rows: what a refused creation must not add."""
    with session_scope(engine) as session:
        names = list(session.exec(select(Study.name).order_by(col(Study.id))))
        created = session.exec(select(AuditLog).where(AuditLog.action == "study.create")).all()
    return names, count(engine, StudyExpert), count(engine, StudyItem), len(created)


@pytest.mark.parametrize("name", ["pilot", "Pilot"])
def test_a_clash_the_name_check_missed_gets_the_checks_message(
    any_engine: Engine, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    world = make_world(any_engine)
    new_study(any_engine, world)
    with pytest.raises(StudyError, match="already exists") as checked:
        new_study(any_engine, world, name=name)
    before = _written(any_engine)
    # Both admins' checks passed before either inserted: the database's unique indexes must decide.
    monkeypatch.setattr(study_setup, "_check_study", lambda *_: None)
    with pytest.raises(StudyError) as raced:
        new_study(any_engine, world, name=name)
    assert str(raced.value) == str(checked.value)
    assert isinstance(raced.value.__cause__, IntegrityError)
    assert before[0] == ["Pilot"]
    assert _written(any_engine) == before


def test_a_rival_committing_between_check_and_insert_is_refused(
    any_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    if any_engine.dialect.name == "sqlite":  # a rival there waits for our commit, then our name is taken
        pytest.skip("SQLite writers lock at BEGIN: no rival can commit between check and insert")
    world = make_world(any_engine)
    choose = study_setup.select_videos

    def rival_commits_first(*args: Any) -> list[int]:
        with session_scope(any_engine) as rival:  # another admin's unit of work, after our name check
            rival.add(Study(name="PILOT", run_id=world.run_id))
        return choose(*args)

    monkeypatch.setattr(study_setup, "select_videos", rival_commits_first)
    with pytest.raises(StudyError, match="A study named 'pilot' already exists; choose another name."):
        new_study(any_engine, world, name="pilot")
    assert _written(any_engine) == (["PILOT"], 0, 0, 0)


def test_cam_files_named_after_their_kind_are_refused(engine: Engine) -> None:
    world = make_world(engine, n_videos=3)
    with session_scope(engine) as session:
        video_id = row_id(add_video(session, "leaky.mp4", label="covid"))
        session.add(Prediction(run_id=world.run_id, video_id=video_id, predicted_class="covid"))
        for kind in KINDS:
            add_cam(session, world.run_id, video_id, kind, "covid", name=f"cams/{kind}/leaky")
    with pytest.raises(StudyError, match="named after their CAM type"):
        new_study(engine, world)


def test_states_move_draft_open_closed_only_with_audit_rows(any_engine: Engine) -> None:
    world = make_world(any_engine)
    study_id = new_study(any_engine, world)
    admin = world.admin

    def move(step: Any, actor: int | None = admin) -> Study:
        with session_scope(any_engine) as session:
            return step(session=session, study_id=study_id, actor_id=actor)  # type: ignore[no-any-return]

    with pytest.raises(StudyError, match="Only an open study can be closed; study 'Pilot' is draft"):
        move(close_study)
    with pytest.raises(StudyError, match="Only administrators"):
        move(open_study, world.experts[0])
    opened = move(open_study)
    assert opened.state == "open" and opened.opened_at is not None
    with pytest.raises(StudyError, match="Only a draft study can be opened; study 'Pilot' is open"):
        move(open_study)
    closed = move(close_study, None)
    assert closed.state == "closed" and closed.closed_at is not None
    for step in (open_study, close_study):
        with pytest.raises(StudyError, match="is closed"):
            move(step)
    with session_scope(any_engine) as session:
        audit = session.exec(select(AuditLog).where(col(AuditLog.action).startswith("study."))).all()
    assert [(a.action, a.entity_id, a.detail.get("to_state")) for a in audit] == [
        ("study.create", study_id, None),
        ("study.open", study_id, "open"),
        ("study.closed", study_id, "closed"),
    ]


def test_key_only_for_admins_and_researchers_and_only_after_closing(any_engine: Engine) -> None:
    world = make_world(any_engine, n_videos=12)
    study_id = new_study(any_engine, world, reread_share=0.1, washout=2)

    def key(viewer: int) -> list[Any]:
        with session_scope(any_engine) as session:
            return list(study_key(session=session, study_id=study_id, viewer=viewer))

    for step in (None, open_study):
        if step is not None:
            with session_scope(any_engine) as session:
                step(session=session, study_id=study_id, actor_id=world.admin)
        with pytest.raises(StudyError, match="only after the study is closed"):
            key(world.admin)
    with session_scope(any_engine) as session:
        close_study(session=session, study_id=study_id, actor_id=world.admin)
    for outsider in (world.experts[0], world.annotator, 999):
        with pytest.raises(StudyError, match="Only administrators and researchers"):
            key(outsider)
    entries = key(world.researcher)
    assert entries == key(world.admin)
    stored = items_of(any_engine, study_id, world.experts[1])
    mine = [e for e in entries if e.expert_id == world.experts[1]]
    assert [(e.item_id, e.left_kind, e.reread_of_id) for e in mine] == [
        (i.id, i.left_kind, i.reread_of_id) for i in stored
    ]
    assert all({e.left_kind, e.right_kind} == set(KINDS) for e in entries)
