"""The demo pipeline on phantom videos: a real (tiny) model run, its CAMs and both demo studies."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable

import numpy as np
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, func, select

from db.models import Answer, CamAsset, ModelRun, RelabelItem, Study, StudyExpert, StudyItem, User
from db.session import session_scope
from reviewer.demo_answers import SIMULATED_COMMENT, ItemTruth, PanelTruth, panel_truth, simulate_answer
from reviewer.demo_job import start_demo_pipeline
from reviewer.demo_pipeline import DemoError, DemoStopped, run_demo_pipeline
from reviewer.demo_studies import OPEN_STUDY, SIMULATED_STUDY
from reviewer.settings import Settings
from reviewer.stats_records import load_study_data
from reviewer.study_base import row_id
from reviewer.training import TrainConfig
from reviewer.vocab import SCORE_MAX, SCORE_MIN, Pattern, RunStatus, StudyState

TABLES = (ModelRun, CamAsset, RelabelItem, Study, StudyItem, Answer)
TINY = TrainConfig(weights="hed", folds=3, input_size=32, epochs=1, augmentations=1, patience=1, seed=6)


def _count(session: Session, table: type) -> int:
    return int(session.exec(select(func.count()).select_from(table)).one())


def _study(session: Session, name: str) -> Study:
    return session.exec(select(Study).where(Study.name == name)).one()


def _usernames(session: Session, study: Study) -> set[str]:
    ids = select(StudyExpert.user_id).where(StudyExpert.study_id == study.id)
    return set(session.exec(select(User.username).where(col(User.id).in_(ids))))


def test_pipeline_trains_makes_cams_and_both_studies_then_is_a_no_op(
    phantom_engine: Engine, settings: Settings
) -> None:
    lines: list[str] = []
    first = run_demo_pipeline(engine=phantom_engine, settings=settings, config=TINY, echo=lines.append)
    assert first.trained and first.studies_created == (OPEN_STUDY, SIMULATED_STUDY)
    assert any("training model run" in line for line in lines) and "ready" in lines[-1]
    with Session(phantom_engine) as session:
        run = session.get_one(ModelRun, first.run_id)
        assert run.status == RunStatus.DONE.value and run.progress == 1.0
        videos = {row["video_id"] for row in run.data_snapshot}
        assets = session.exec(select(CamAsset).where(CamAsset.run_id == run.id)).all()
        assert {(a.video_id, a.kind) for a in assets} == {(v, k) for v in videos for k in ("train", "test")}
        assert first.cam_assets == len(assets) == 2 * len(videos)
        assert first.queue_ranked == _count(session, RelabelItem) == len(videos)

        waiting = _study(session, OPEN_STUDY)
        assert waiting.state == StudyState.OPEN.value and _usernames(session, waiting) == {
            "expert1",
            "expert2",
        }
        per_expert = session.exec(
            select(StudyItem.expert_id, func.count())
            .where(StudyItem.study_id == waiting.id)
            .group_by(col(StudyItem.expert_id))
        ).all()
        assert len(per_expert) == 2 and all(n > 0 for _, n in per_expert)
        assert session.get_one(User, waiting.reference_expert_id).username == "expert1"

        simulated = _study(session, SIMULATED_STUDY)
        assert simulated.state == StudyState.CLOSED.value
        assert "answers are simulated" in simulated.description and waiting.description
        items = session.exec(select(StudyItem).where(StudyItem.study_id == simulated.id)).all()
        answers = session.exec(select(Answer).where(col(Answer.item_id).in_([i.id for i in items]))).all()
        assert sorted(a.item_id for a in answers) == sorted(row_id(i) for i in items)  # one each
        assert all(a.complete and a.comment == SIMULATED_COMMENT for a in answers)
        assert all(
            SCORE_MIN <= s <= SCORE_MAX for a in answers for s in (a.score_a, a.score_b) if s is not None
        )
        assert len(load_study_data(session=session, study_id=simulated.id or 0, viewer_id=None).frame) > 0
        totals = [_count(session, t) for t in TABLES]

    again = run_demo_pipeline(engine=phantom_engine, settings=settings, config=TINY)
    assert (again.run_id, again.trained, again.cam_assets) == (first.run_id, False, 0)
    assert (again.queue_ranked, again.studies_created) == (0, ())
    with Session(phantom_engine) as session:
        assert [_count(session, t) for t in TABLES] == totals


def _stop_when_training() -> tuple[threading.Event, Callable[[str], None]]:
    """A stop event set as soon as training starts, as if the server were closed just then."""
    halt = threading.Event()

    def echo(line: str) -> None:
        if "training model run" in line:
            halt.set()

    return halt, echo


def test_a_run_left_running_by_a_killed_demo_is_abandoned_but_a_foreign_one_blocks(
    phantom_engine: Engine, settings: Settings
) -> None:
    foreign = dataclasses.replace(TINY, seed=8)
    with session_scope(phantom_engine) as session:
        session.add(ModelRun(config=foreign.as_dict(), classes=[], data_snapshot=[]))
    with pytest.raises(DemoError, match="is training"):
        run_demo_pipeline(engine=phantom_engine, settings=settings, config=TINY)
    with Session(phantom_engine) as session:
        assert _count(session, ModelRun) == 1  # nothing was started beside it
    halt, echo = _stop_when_training()
    with pytest.raises(DemoStopped):  # now the running run has the demo settings: a killed demo's
        run_demo_pipeline(engine=phantom_engine, settings=settings, config=foreign, echo=echo, stop=halt)
    with Session(phantom_engine) as session:
        runs = session.exec(select(ModelRun).order_by(col(ModelRun.id))).all()
    assert [r.status for r in runs] == [RunStatus.FAILED.value] * 2
    assert "Abandoned" in (runs[0].error or "") and "DemoStopped" in (runs[1].error or "")
    report = run_demo_pipeline(engine=phantom_engine, settings=settings, config=foreign)
    assert report.trained and report.run_id not in {r.id for r in runs}  # a stopped run is not reused


def test_a_failing_pipeline_is_reported_and_leaves_the_data_alone(engine: Engine, settings: Settings) -> None:
    lines: list[str] = []
    job = start_demo_pipeline(engine=engine, settings=settings, echo=lines.append, config=TINY)
    job.thread.join(120)
    assert not job.thread.is_alive()
    assert any("failed" in line and "seeded data stays usable" in line for line in lines)
    with Session(engine) as session:
        assert _count(session, ModelRun) == 0


def test_panel_truth_counts_peaks_on_lung_patterns_and_names_what_they_hit() -> None:
    b_lines = np.zeros((3, 8, 8), np.bool_)
    b_lines[:, 2:6, 4] = True
    skin = np.zeros((3, 8, 8), np.bool_)
    skin[:, 0, :] = True
    truth = panel_truth([[4, 3], [4, 2], [1, 0]], {Pattern.B_LINES: b_lines, Pattern.SKIN: skin})
    assert truth.on_lung == pytest.approx(2 / 3)
    assert truth.hit == (Pattern.B_LINES.value, Pattern.SKIN.value)
    assert panel_truth([[0, 0]], {}) == PanelTruth(on_lung=0.5, hit=())
    no_peak = panel_truth([[4, 3], [], [4, 4]], {Pattern.B_LINES: b_lines, Pattern.SKIN: skin})
    assert no_peak == PanelTruth(on_lung=pytest.approx(2 / 3), hit=(Pattern.B_LINES.value,))


def test_simulated_answers_are_seeded_complete_and_follow_the_heatmaps() -> None:
    good, bad = PanelTruth(1.0, ("b_lines",)), PanelTruth(0.0, ("rib_shadow",))
    truth = ItemTruth("covid", ("b_lines",), good, bad)
    forms = [
        simulate_answer(truth, rng=np.random.default_rng(seed), bias=0.0, reference=True)
        for seed in range(20)
    ]
    again = simulate_answer(truth, rng=np.random.default_rng(0), bias=0.0, reference=True)
    assert forms[0] == again
    assert np.mean([f.score_a for f in forms]) > np.mean([f.score_b for f in forms]) + 3
    assert {f.preferred for f in forms} == {"a"}
    assert all(f.patterns_visible == ("b_lines",) and f.comment == SIMULATED_COMMENT for f in forms)
