"""The relabel queue on a real database: ranking, claims under concurrent annotators, skip, resolve."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from db.models import (
    Answer,
    AuditLog,
    ModelRun,
    Prediction,
    RelabelItem,
    Study,
    StudyItem,
    Video,
    VideoLabel,
)
from db.session import session_scope
from reviewer.annotation import AnnotationError
from reviewer.relabel_claims import QueueError, next_item, skip_item
from reviewer.relabel_queue import build_queue, queue_progress, resolve_item
from reviewer.relabel_strategies import Strategy
from reviewer.users import create_user
from tests.code.stock import add_video

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
CLAIM = timedelta(minutes=15)
LABELS = Strategy.LABEL_DISAGREEMENT
# Probability of "covid" per covid-labelled video: the lower, the more the ensemble contradicts the label.
COVID_PROBABILITY = {"v-sure": 0.95, "v-doubt": 0.45, "v-wrong": 0.05, "v-odd": 0.3}
EXPECTED_ORDER = ["v-wrong", "v-odd", "v-doubt", "v-sure"]


def _prediction(run_id: int, video_id: int, covid: float) -> Prediction:
    probabilities = {"covid": covid, "healthy": round(1 - covid, 6)}
    return Prediction(
        run_id=run_id,
        video_id=video_id,
        probabilities=probabilities,
        predicted_class=max(probabilities, key=lambda name: probabilities[name]),
        members=[probabilities, probabilities],
        confidence_epistemic=0.5,
        confidence_aleatoric=0.5,
    )


def _stock(engine: Engine) -> dict[str, int]:
    """Two annotators, four covid videos and a finished run whose predictions order them by hand."""
    with session_scope(engine) as session:
        ids = {
            name: create_user(session=session, username=name, password="pw-123456789", role="annotator").id
            for name in ("ann", "bea", "cy")
        }
        run = ModelRun(status="done", classes=["covid", "healthy"])
        session.add(run)
        session.flush()
        for name, covid in COVID_PROBABILITY.items():
            video = add_video(session, f"{name}.mp4", label="covid")
            ids[name] = int(video.id or 0)
            session.add(_prediction(int(run.id or 0), ids[name], covid))
        ids["run"] = int(run.id or 0)
    return {key: int(value or 0) for key, value in ids.items()}


def _names(ids: dict[str, int], video_ids: list[int]) -> list[str]:
    by_id = {value: key for key, value in ids.items() if key.startswith("v-")}
    return [by_id[v] for v in video_ids]


def _items(session: Session, run_id: int) -> list[RelabelItem]:
    query = select(RelabelItem).where(RelabelItem.run_id == run_id).order_by(col(RelabelItem.rank))
    return list(session.exec(query))


def _claim(engine: Engine, ids: dict[str, int], user: str, at: datetime) -> str | None:
    with session_scope(engine) as session:
        item = next_item(session=session, run_id=ids["run"], strategy=LABELS, user_id=ids[user], now=at)
        return None if item is None else _names(ids, [item.video_id])[0]


@pytest.fixture
def stocked(engine: Engine) -> dict[str, int]:
    ids = _stock(engine)
    with session_scope(engine) as session:
        build_queue(session=session, run_id=ids["run"], strategy=LABELS, user_id=ids["ann"])
    return ids


def test_build_stores_the_strategy_order_and_audits_it(engine: Engine, stocked: dict[str, int]) -> None:
    with session_scope(engine) as session:
        items = _items(session, stocked["run"])
        progress = queue_progress(session=session, run_id=stocked["run"], strategy=LABELS)
        audit = session.exec(select(AuditLog).where(AuditLog.action == "relabel.build")).one()
    assert _names(stocked, [item.video_id for item in items]) == EXPECTED_ORDER
    assert [item.rank for item in items] == [0, 1, 2, 3]
    assert items[0].score == pytest.approx(0.95 - 0.05)
    assert (progress.total, progress.done, progress.claimed) == (4, 0, 0)
    assert audit.detail["strategy"] == LABELS.value and audit.user_id == stocked["ann"]


def test_unfinished_runs_and_strategies_without_data_are_refused(engine: Engine) -> None:
    ids = _stock(engine)
    with session_scope(engine) as session:
        session.add(ModelRun(status="running"))
    with session_scope(engine) as session, pytest.raises(QueueError, match="not finished"):
        build_queue(session=session, run_id=ids["run"] + 1, strategy=LABELS, user_id=None)
    with session_scope(engine) as session, pytest.raises(QueueError, match="No expert"):
        build_queue(session=session, run_id=ids["run"], strategy=Strategy.EXPERT_DISAGREEMENT, user_id=None)
    with session_scope(engine) as session:
        assert session.exec(select(RelabelItem)).all() == []


def test_expert_guesses_rank_videos_by_dissent_one_vote_per_expert(engine: Engine) -> None:
    ids = _stock(engine)
    with session_scope(engine) as session:
        experts = [
            create_user(session=session, username=f"exp{i}", password="pw-123456789", role="expert").id
            for i in range(2)
        ]
        study = Study(name="s", run_id=ids["run"])
        session.add(study)
        session.flush()
        guesses = [
            ("v-sure", 0, "healthy"),
            ("v-sure", 0, "healthy"),
            ("v-doubt", 0, "healthy"),
            ("v-doubt", 1, "healthy"),
            ("v-odd", 1, "covid"),
        ]
        for position, (video, expert, guess) in enumerate(guesses):
            item = StudyItem(
                study_id=study.id,
                expert_id=experts[expert],
                video_id=ids[video],
                position=position,
                left_kind="train",
                token=f"t{position}",
            )
            session.add(item)
            session.flush()
            session.add(
                Answer(
                    item_id=item.id,
                    expert_id=experts[expert],
                    score_a=0,
                    score_b=0,
                    preferred="a",
                    class_guess=guess,
                    complete=True,
                )
            )
        build_queue(session=session, run_id=ids["run"], strategy=Strategy.EXPERT_DISAGREEMENT, user_id=None)
    with session_scope(engine) as session:
        items = list(session.exec(select(RelabelItem).order_by(col(RelabelItem.rank))))
    # v-doubt: 2 of 2 experts dissent (2/3); v-sure: one expert twice, counted once (1/2); v-odd agrees (0).
    assert _names(ids, [item.video_id for item in items]) == ["v-doubt", "v-sure", "v-odd"]
    assert [item.score for item in items] == pytest.approx([2 / 3, 1 / 2, 0.0])


def test_an_annotator_keeps_their_item_and_a_second_one_gets_the_next(
    engine: Engine, stocked: dict[str, int]
) -> None:
    assert _claim(engine, stocked, "ann", T0) == "v-wrong"
    assert _claim(engine, stocked, "ann", T0 + timedelta(minutes=1)) == "v-wrong"  # reload: same item
    assert _claim(engine, stocked, "bea", T0 + timedelta(minutes=2)) == "v-odd"
    with session_scope(engine) as session:
        progress = queue_progress(
            session=session, run_id=stocked["run"], strategy=LABELS, now=T0 + timedelta(minutes=3)
        )
    assert progress.claimed == 2


def test_an_expired_claim_frees_the_item_and_its_holder_can_no_longer_resolve(
    engine: Engine, stocked: dict[str, int]
) -> None:
    assert _claim(engine, stocked, "ann", T0) == "v-wrong"
    assert _claim(engine, stocked, "bea", T0 + timedelta(minutes=10)) == "v-odd"
    assert _claim(engine, stocked, "cy", T0 + CLAIM + timedelta(seconds=1)) == "v-wrong"
    with session_scope(engine) as session:
        item = session.exec(select(RelabelItem).where(RelabelItem.video_id == stocked["v-wrong"])).one()
    with session_scope(engine) as session, pytest.raises(QueueError, match="Another annotator"):
        resolve_item(
            session=session,
            item_id=int(item.id or 0),
            user_id=stocked["ann"],
            label="covid",
            now=T0 + CLAIM + timedelta(minutes=1),
        )


def _race(engine: Engine, ids: dict[str, int], users: list[str]) -> list[str | None]:
    barrier = threading.Barrier(len(users))
    results: dict[str, str | None] = {}
    errors: list[BaseException] = []

    def work(user: str) -> None:
        try:
            barrier.wait()
            results[user] = _claim(engine, ids, user, T0)
        except BaseException as exc:  # surfaced below: a thread's failure must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(user,)) for user in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    return [results[user] for user in users]


def test_concurrent_annotators_never_share_an_item(any_engine: Engine) -> None:
    ids = _stock(any_engine)
    with session_scope(any_engine) as session:
        build_queue(session=session, run_id=ids["run"], strategy=LABELS, user_id=None)
        doomed = session.exec(select(RelabelItem).where(RelabelItem.video_id == ids["v-sure"])).one()
        resolve_item(session=session, item_id=int(doomed.id or 0), user_id=ids["ann"], label="covid", now=T0)
    for _ in range(3):  # repeat: a race that goes wrong only sometimes must still be caught
        claimed = _race(any_engine, ids, ["ann", "bea", "cy"])
        assert sorted(claimed, key=str) == ["v-doubt", "v-odd", "v-wrong"]
        with session_scope(any_engine) as session:
            for item in _items(session, ids["run"]):
                item.claimed_by_id = item.claimed_until = None
                session.add(item)
    with session_scope(any_engine) as session:
        for item in _items(session, ids["run"])[:2]:
            item.claimed_by_id, item.claimed_until = ids["cy"], T0 + CLAIM
            session.add(item)
    last = _race(any_engine, ids, ["ann", "bea"])
    assert sorted(last, key=str) == [None, "v-doubt"]  # one free item: exactly one winner


def test_skip_returns_the_item_to_others_and_offers_the_skipper_something_else(
    engine: Engine, stocked: dict[str, int]
) -> None:
    assert _claim(engine, stocked, "ann", T0) == "v-wrong"
    with session_scope(engine) as session:
        item = session.exec(select(RelabelItem).where(RelabelItem.video_id == stocked["v-wrong"])).one()
        skip_item(
            session=session, item_id=int(item.id or 0), user_id=stocked["ann"], now=T0 + timedelta(minutes=1)
        )
    assert _claim(engine, stocked, "ann", T0 + timedelta(minutes=2)) == "v-odd"
    assert _claim(engine, stocked, "bea", T0 + timedelta(minutes=3)) == "v-wrong"
    with session_scope(engine) as session:
        assert (
            session.exec(select(AuditLog).where(AuditLog.action == "relabel.skip")).one().user_id
            == stocked["ann"]
        )


def test_resolve_confirms_or_changes_with_history_and_audit(engine: Engine, stocked: dict[str, int]) -> None:
    _claim(engine, stocked, "ann", T0)
    _claim(engine, stocked, "bea", T0)
    with session_scope(engine) as session:
        first, second = _items(session, stocked["run"])[:2]
    with session_scope(engine) as session, pytest.raises(AnnotationError, match="reason"):
        resolve_item(
            session=session,
            item_id=int(first.id or 0),
            user_id=stocked["ann"],
            label="healthy",
            reason="  ",
            now=T0,
        )
    with session_scope(engine) as session:
        changed = resolve_item(
            session=session,
            item_id=int(first.id or 0),
            user_id=stocked["ann"],
            label="healthy",
            reason="A-lines only, no B-lines",
            now=T0,
        )
        kept = resolve_item(
            session=session, item_id=int(second.id or 0), user_id=stocked["bea"], label="covid", now=T0
        )
    with session_scope(engine) as session:
        history = session.exec(select(VideoLabel).order_by(col(VideoLabel.id))).all()
        items = {item.video_id: item for item in _items(session, stocked["run"])}
        video = session.get_one(Video, stocked["v-wrong"])
        actions = [entry.action for entry in session.exec(select(AuditLog).order_by(col(AuditLog.id)))]
        progress = queue_progress(session=session, run_id=stocked["run"], strategy=LABELS, now=T0)
    assert [(h.label, h.action, h.reason, h.user_id) for h in history] == [
        ("healthy", "change", "A-lines only, no B-lines", stocked["ann"]),
        ("covid", "approve", None, stocked["bea"]),
    ]
    assert video.label == "healthy"
    resolved = items[stocked["v-wrong"]]
    assert (resolved.status, resolved.resolved_by_id, resolved.label_id, resolved.claimed_by_id) == (
        "done",
        stocked["ann"],
        changed.id,
        None,
    )
    assert items[stocked["v-odd"]].label_id == kept.id
    assert actions[-4:] == ["label.change", "relabel.resolve", "label.approve", "relabel.resolve"]
    assert (progress.done, progress.open) == (2, 2)
    with session_scope(engine) as session, pytest.raises(QueueError, match="already resolved"):
        resolve_item(
            session=session, item_id=int(first.id or 0), user_id=stocked["bea"], label="covid", now=T0
        )


def test_rebuild_reranks_open_items_keeps_claims_and_never_touches_resolved(
    engine: Engine, stocked: dict[str, int]
) -> None:
    _claim(engine, stocked, "ann", T0)
    with session_scope(engine) as session:
        top = _items(session, stocked["run"])[0]
        resolve_item(session=session, item_id=int(top.id or 0), user_id=stocked["ann"], label="covid", now=T0)
    _claim(engine, stocked, "bea", T0)  # holds v-odd
    with session_scope(engine) as session:  # the model's opinion of v-sure flips before the rebuild
        row = session.exec(select(Prediction).where(Prediction.video_id == stocked["v-sure"])).one()
        row.probabilities = {"covid": 0.0, "healthy": 1.0}
        session.add(row)
    with session_scope(engine) as session:
        build_queue(session=session, run_id=stocked["run"], strategy=LABELS, user_id=None)
    with session_scope(engine) as session:
        items = {
            name: item
            for name, item in zip(
                _names(stocked, [i.video_id for i in _items(session, stocked["run"])]),
                _items(session, stocked["run"]),
                strict=True,
            )
        }
    assert (
        items["v-wrong"].status == "done"
        and items["v-wrong"].rank == 0
        and items["v-wrong"].label_id is not None
    )
    assert items["v-sure"].rank == 0 and items["v-sure"].status == "open"
    assert items["v-odd"].claimed_by_id == stocked["bea"]
    assert len(items) == 4


def test_rebuild_drops_open_items_the_strategy_can_no_longer_score(
    engine: Engine, stocked: dict[str, int]
) -> None:
    with session_scope(engine) as session:
        session.get_one(Video, stocked["v-doubt"]).label = None  # unlabelled: nothing to contradict
    with session_scope(engine) as session:
        progress = build_queue(session=session, run_id=stocked["run"], strategy=LABELS, user_id=None)
        names = _names(stocked, [item.video_id for item in _items(session, stocked["run"])])
        audit = session.exec(select(AuditLog).order_by(col(AuditLog.id).desc())).first()
    assert names == ["v-wrong", "v-odd", "v-sure"] and progress.total == 3
    assert audit is not None and audit.detail["removed"] == 1


def test_taking_an_item_in_another_queue_releases_the_first_claim(
    engine: Engine, stocked: dict[str, int]
) -> None:
    assert _claim(engine, stocked, "ann", T0) == "v-wrong"
    with session_scope(engine) as session:
        build_queue(session=session, run_id=stocked["run"], strategy=Strategy.ENTROPY, user_id=None)
        other = next_item(
            session=session, run_id=stocked["run"], strategy=Strategy.ENTROPY, user_id=stocked["ann"], now=T0
        )
    assert other is not None and other.strategy == Strategy.ENTROPY.value
    assert _claim(engine, stocked, "bea", T0 + timedelta(minutes=1)) == "v-wrong"


def _entropy_item(engine: Engine, ids: dict[str, int], user: str, at: datetime) -> RelabelItem | None:
    with session_scope(engine) as session:
        return next_item(
            session=session, run_id=ids["run"], strategy=Strategy.ENTROPY, user_id=ids[user], now=at
        )


def test_a_video_held_in_one_queue_is_not_handed_out_by_another_and_resolving_settles_both(
    engine: Engine, stocked: dict[str, int]
) -> None:
    top = stocked[EXPECTED_ORDER[0]]
    with session_scope(engine) as session:
        build_queue(session=session, run_id=stocked["run"], strategy=Strategy.ENTROPY, user_id=None)
        entropy_top = session.exec(
            select(RelabelItem).where(RelabelItem.strategy == "entropy", RelabelItem.video_id == top)
        ).one()
        entropy_top.rank = -1  # the same video first in both queues
        session.add(entropy_top)
    held = _entropy_item(engine, stocked, "bea", T0)
    assert held is not None and held.video_id == top
    # ann's label queue starts with the video bea holds through the entropy queue: she gets the next
    assert _claim(engine, stocked, "ann", T0) == EXPECTED_ORDER[1]
    with session_scope(engine) as session:
        resolve_item(
            session=session, item_id=int(held.id or 0), user_id=stocked["bea"], label="covid", now=T0
        )
    with Session(engine) as session:
        items = session.exec(select(RelabelItem).where(RelabelItem.video_id == top)).all()
        audit = session.exec(select(AuditLog).where(AuditLog.action == "relabel.resolve")).one()
    assert {item.strategy: item.status for item in items} == {"entropy": "done", LABELS.value: "done"}
    assert {item.resolved_by_id for item in items} == {stocked["bea"]}
    assert len({item.label_id for item in items}) == 1
    (settled,) = [item for item in items if item.strategy == LABELS.value]
    assert audit.detail["also_settled"] == [settled.id]
    with session_scope(engine) as session:
        progress = queue_progress(session=session, run_id=stocked["run"], strategy=LABELS)
    assert progress.done == 1
