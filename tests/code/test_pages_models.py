"""The models page, driven with AppTest on a real SQLite home with finished, failed and running runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine
from sqlmodel import select
from streamlit.testing.v1 import AppTest

from db.models import ModelRun, User
from db.session import session_scope
from pages.common import VIEWER_KEY
from reviewer.metrics import FoldPredictions, evaluate
from reviewer.run_jobs import wait_for
from reviewer.settings import Settings
from reviewer.vocab import LusClass, Role
from tests.code.page_support import viewer_of

PAGE = Path(__file__).resolve().parents[2] / "pages" / "models.py"
TIMEOUT_S = 60  # first runs import SQLAlchemy, Alembic, pandas and plotly


def _metrics() -> dict[str, object]:
    rng = np.random.default_rng(0)
    folds = []
    for fold in range(3):
        y = np.repeat([0, 1], 6)
        proba = np.eye(2)[y] * 0.3 + rng.uniform(0, 0.7, (12, 2))
        proba /= proba.sum(axis=1, keepdims=True)
        folds.append(FoldPredictions(y_true=y, proba=proba, video_ids=np.repeat(np.arange(4) + 4 * fold, 3)))
    return dict(evaluate(folds, ["covid", "healthy"]))


def _add_run(engine: Engine, **fields: object) -> int:
    with session_scope(engine) as session:
        run = ModelRun(classes=["covid", "healthy"], config={"weights": "hed"}, **fields)
        session.add(run)
        session.flush()
        return int(run.id or 0)


@pytest.fixture
def world(engine: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setenv("LUSREVIEW_HOME", str(settings.home))
    monkeypatch.delenv("LUSREVIEW_DB_URL", raising=False)
    with session_scope(engine) as session:  # real accounts: actions are audited under their ids
        for role in (Role.ADMIN, Role.RESEARCHER):
            session.add(
                User(username=role.value, display_name=role.value, password_hash="-", role=role.value)
            )
    snapshot = [{"video_id": i, "label": "covid"} for i in range(12)]
    _add_run(engine, status="done", metrics=_metrics(), data_snapshot=snapshot, progress=1.0)
    _add_run(engine, status="failed", error="BackboneWeightsError: no such file")
    return engine


def _page(role: Role) -> AppTest:
    at = AppTest.from_file(str(PAGE), default_timeout=TIMEOUT_S)
    user_id = [Role.ADMIN, Role.RESEARCHER].index(role) + 1
    at.session_state[VIEWER_KEY] = viewer_of(user_id, role)
    return at.run()


def test_researchers_read_runs_and_metrics_but_cannot_start_runs(world: Engine) -> None:
    at = _page(Role.RESEARCHER)
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["Run"]) == [2, 1] and list(table["Status"]) == ["Failed", "Done"]
    assert table["Videos"].tolist() == [0, 12] and table["Accuracy (frames)"][1] != "–"
    assert "no such file" in at.caption[0].value
    per_class = at.dataframe[1].value
    assert list(per_class.index) == ["COVID-19", "Healthy"] and "±" in per_class["Recall"].iloc[0]
    assert len(at.get("plotly_chart")) == 3  # ROC, PR, confusion
    assert not [b for b in at.button if b.key in {"models_start", "models_make_cams"}]


def test_the_training_section_shows_early_stopping_or_says_the_run_predates_it(world: Engine) -> None:
    at = _page(Role.RESEARCHER)  # run 1 was stored before runs recorded their training
    assert at.expander[0].label == "Training (early stopping)"
    assert "predates" in at.expander[0].caption[0].value
    assert len(at.get("plotly_chart")) == 3
    history = [
        {"epoch": e, "loss": 1.0 / e, "val_loss": [0.9, 0.5, 0.7][e - 1], "val_accuracy": 0.6}
        for e in (1, 2, 3)
    ]
    training = [{"fold": f, "best_epoch": 2, "epochs_run": 3, "history": history} for f in range(3)]
    snapshot = [{"video_id": i, "label": "covid"} for i in range(12)]
    _add_run(world, status="done", metrics=_metrics() | {"training": training}, data_snapshot=snapshot)
    at = _page(Role.RESEARCHER)  # the newest finished run is shown
    assert not at.exception
    section = at.expander[0]
    assert "lowest validation loss" in section.caption[0].value
    assert len(section.get("plotly_chart")) == 1 and len(at.get("plotly_chart")) == 4
    table = section.dataframe[0].value
    assert list(table.index) == [1, 2, 3] and set(table["Kept epoch"]) == {2}
    assert table["Validation loss"].tolist() == [0.5, 0.5, 0.5]


def test_the_level_choice_changes_the_metrics_shown(world: Engine) -> None:
    at = _page(Role.RESEARCHER)
    frames = at.dataframe[1].value
    at.segmented_control(key="models_level").set_value("video_vote").run()
    videos = at.dataframe[1].value
    assert not frames.equals(videos)


@pytest.mark.parametrize(
    ("widget", "value", "message"),
    [
        ("models_classes", [LusClass.COVID], "at least two classes"),
        ("models_input_size", 40, "multiple of 16"),
        ("models_weights", "file", "path of the local weights file"),
    ],
)
def test_the_new_run_form_refuses_bad_settings(
    world: Engine, widget: str, value: object, message: str
) -> None:
    at = _page(Role.ADMIN)
    if widget == "models_classes":
        at.multiselect(key=widget).set_value(value)
    elif widget == "models_input_size":
        at.number_input(key=widget).set_value(value)
    else:
        at.selectbox(key=widget).set_value(value)
    at.button(key="models_start").click().run()
    assert [e.value for e in at.error] and message in at.error[0].value
    with session_scope(world) as session:
        assert len(session.exec(select(ModelRun)).all()) == 2  # nothing started


def test_a_valid_form_reaches_the_service_which_explains_why_it_cannot_train(world: Engine) -> None:
    at = _page(Role.ADMIN)
    at.button(key="models_start").click().run()
    assert "No labelled convex videos" in at.error[0].value


def test_a_running_run_shows_its_progress_and_blocks_a_second_one(world: Engine) -> None:
    _add_run(world, status="running", progress=0.45, progress_note="Training fold 2 of 5: epoch 3 of 40")
    at = _page(Role.ADMIN)
    bars = at.get("progress")
    assert len(bars) == 1 and bars[0].proto.value == 45
    assert "Run 3: Training fold 2 of 5" in bars[0].proto.text
    at.button(key="models_start").click().run()
    assert "Run 3 is still training (45%)" in at.error[0].value


def test_an_admin_can_release_a_run_whose_process_died(world: Engine) -> None:
    stuck = _add_run(world, status="running", progress=0.2, progress_note="Computing trunk features")
    at = _page(Role.ADMIN)
    at.button(key=f"models_abandon_{stuck}").click().run()
    assert not at.exception
    with session_scope(world) as session:
        run = session.get_one(ModelRun, stuck)
        assert run.status == "failed" and run.error is not None and "Abandoned" in run.error
    assert not at.get("progress")
    assert not [b for b in at.button if b.key == f"models_abandon_{stuck}"]


def test_admins_start_cams_in_the_background_and_see_how_it_ended(world: Engine) -> None:
    at = _page(Role.ADMIN)
    at.button(key="models_make_cams").click().run()
    wait_for(1)
    at.run()
    assert "Making the CAMs failed" in at.error[0].value  # run 1 has metrics but no frames or weights
    assert [b for b in at.button if b.key == "models_make_cams"]  # it can be tried again
