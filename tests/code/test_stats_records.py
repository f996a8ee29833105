"""The database service behind the statistics: a real study, answered blind through the services."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from db.session import session_scope
from reviewer.stats_records import (
    StatsAccessError,
    StudyData,
    analysable_studies,
    load_study_data,
)
from reviewer.study_setup import close_study, study_key
from tests.code.stock_stats import WRONG, StatsWorld, admin_expert_study, answered_study, expected
from tests.code.stock_study import CLASSES


def load(engine: Engine, world: StatsWorld, viewer: int | None, *, preview: bool = False) -> StudyData:
    with session_scope(engine) as session:
        return load_study_data(session=session, study_id=world.study_id, viewer_id=viewer, preview=preview)


def test_closed_study_unblinds_every_answer_as_given(any_engine: Engine) -> None:
    engine = any_engine
    world = answered_study(engine, n_videos=6, experts=2)
    data = load(engine, world, world.researcher)
    frame = data.frame
    assert (data.name, data.state, data.preview, data.notes) == ("Pilot study", "closed", False, ())
    assert data.reference_expert == "Dr. Expert 0" and data.classes == CLASSES
    assert len(frame) == 6 * 2 * 2  # videos x experts x CAM sides
    with session_scope(engine) as session:
        key = {
            k.item_id: k.left_kind
            for k in study_key(session=session, study_id=world.study_id, viewer=world.admin)
        }
    order = {v: n for n, v in enumerate(world.videos)}
    for row in frame.itertuples():
        number = world.experts.index(row.expert_id)
        truth = expected(number, order[row.video_id], row.label)
        assert row.score == truth[row.cam_type]
        assert row.preferred_type == truth["preferred"]
        assert (row.side == "A") == (key[row.study_item_id] == row.cam_type)
        assert row.expert_name == f"Dr. Expert {number}" and row.is_reference == (number == 0)
        assert row.video_name == f"run{world.run_id}-video{order[row.video_id]}.mp4"
        assert row.label == CLASSES[order[row.video_id] % 3]
        assert row.predicted == ("healthy" if order[row.video_id] in WRONG else row.label)
    assert set(frame.loc[frame["cam_type"] == "test", "patterns_highlighted"].map(tuple)) == {
        ("b_lines",),
        ("skin",),
    }
    assert set(frame.loc[frame["cam_type"] == "train", "patterns_highlighted"].map(tuple)) == {()}


def test_peaks_come_from_the_pinned_assets(engine: Engine) -> None:
    world = answered_study(engine, n_videos=3, experts=1)
    peaks = load(engine, world, world.admin).peaks
    assert len(peaks) == 3 * 2 * 2  # videos x CAM types x frames
    first = peaks[(peaks["video_id"] == world.videos[0]) & (peaks["cam_type"] == "test")]
    assert first[["x", "y"]].to_numpy().tolist() == [[11.0, 11.0], [13.0, 12.0]]
    assert set(peaks["label"]) == set(CLASSES)


def test_open_study_is_refused_to_researchers_and_previewed_for_admins(engine: Engine) -> None:
    world = answered_study(engine, n_videos=3, experts=2, close=False, skip_last=True)
    with pytest.raises(StatsAccessError, match="is open: statistics are shown once it is closed"):
        load(engine, world, world.researcher)
    with pytest.raises(StatsAccessError, match="is open"):
        load(engine, world, world.researcher, preview=True)
    with pytest.raises(StatsAccessError, match="is open"):
        load(engine, world, world.admin)
    data = load(engine, world, world.admin, preview=True)
    assert data.preview and data.state == "open"
    assert data.notes == ("1 item(s) without a complete answer left out",)
    assert data.frame["study_item_id"].nunique() == 3 * 2 - 1
    assert load(engine, world, None, preview=True).preview  # the command line administers the database


def test_experts_never_get_statistics(engine: Engine) -> None:
    world = answered_study(engine, n_videos=3, experts=1)
    with pytest.raises(StatsAccessError, match="Only researchers and administrators"):
        load(engine, world, world.experts[0])
    with session_scope(engine) as session, pytest.raises(StatsAccessError, match="Only researchers"):
        analysable_studies(session=session, viewer_id=world.experts[0])


def test_study_picker(engine: Engine) -> None:
    world = answered_study(engine, n_videos=3, experts=1, close=False)
    with session_scope(engine) as session:
        assert analysable_studies(session=session, viewer_id=world.researcher) == []
        with pytest.raises(StatsAccessError, match="Only administrators may preview"):
            analysable_studies(session=session, viewer_id=world.researcher, include_open=True)
        [choice] = analysable_studies(session=session, viewer_id=world.admin, include_open=True)
        assert choice.title == "Pilot study (open)"


def test_an_admin_who_is_an_expert_of_an_open_study_may_not_preview_it(engine: Engine) -> None:
    world = answered_study(engine, n_videos=3, experts=1, close=False)
    own_id = admin_expert_study(engine, world)
    with session_scope(engine) as session, pytest.raises(StatsAccessError, match="You are an expert of"):
        load_study_data(session=session, study_id=own_id, viewer_id=world.admin, preview=True)
    assert load(engine, world, world.admin, preview=True).preview  # a study the admin does not take part in
    with session_scope(engine) as session:
        assert load_study_data(session=session, study_id=own_id, viewer_id=None, preview=True).preview
        close_study(session=session, study_id=own_id, actor_id=world.admin)
    with session_scope(engine) as session:
        closed = load_study_data(session=session, study_id=own_id, viewer_id=world.admin)
    assert closed.state == "closed"  # once closed, the expert-administrator may analyse it
