"""The researcher's statistics page, driven with AppTest on a real study answered through the services."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from db.models import Study
from db.session import session_scope
from pages.common import VIEWER_KEY
from reviewer.settings import Settings
from reviewer.study_setup import close_study
from reviewer.vocab import Role
from tests.code.page_support import viewer_of
from tests.code.stock_stats import StatsWorld, admin_expert_study, answered_study

APP = Path(__file__).resolve().parents[2] / "pages" / "app.py"
TIMEOUT_S = 120  # the page runs 1000 bootstrap and permutation draws; generous for a loaded machine


@pytest.fixture
def home(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("LUSREVIEW_HOME", str(settings.home))
    monkeypatch.delenv("LUSREVIEW_DB_URL", raising=False)
    return settings


def page(user_id: int, role: Role) -> AppTest:
    """The statistics page as the app's navigation opens it for a signed-in user."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT_S)
    at.session_state[VIEWER_KEY] = viewer_of(user_id, role)
    return at.switch_page("researcher.py").run()


def warnings(at: AppTest) -> list[str]:
    """Warning texts without the Markdown escapes the page adds (names are shown, never interpreted)."""
    return [w.value.replace("\\", "") for w in at.warning]


def test_closed_study_shows_every_section_and_the_exports(home: Settings, engine: Engine) -> None:
    world = answered_study(engine, n_videos=6, experts=2)
    at = page(world.researcher, Role.RESEARCHER)
    assert not at.exception and not at.error
    assert [t.label for t in at.tabs][:3] == ["Scores", "Train- versus test-CAM", "Agreement between experts"]
    assert warnings(at) == []
    assert [m.value for m in at.metric] == ["12", "6", "2"]
    wilcoxon = at.tabs[1].dataframe[0].value
    assert wilcoxon["scope"].iloc[0] == "per video (mean over experts)"
    assert wilcoxon["scope"].iloc[-1].endswith("pairs not independent")
    class_table = at.dataframe[0].value
    assert list(class_table["name"]) == ["COVID-19", "Bacterial pneumonia", "Healthy"]
    assert list(class_table["test mean"]) == [1.75, 1.75, 1.75]
    assert len(at.get("plotly_chart")) >= 10
    assert {b.proto.label for b in at.get("download_button")} == {
        "Tidy CSV",
        "All statistics (JSON)",
        "HTML report",
    }
    with pytest.raises(KeyError):
        at.checkbox(key="stats_preview")  # researchers cannot preview open studies


def test_the_studys_description_is_shown_above_its_numbers(home: Settings, engine: Engine) -> None:
    world = answered_study(engine, n_videos=3, experts=2)
    with session_scope(engine) as session:
        session.get_one(Study, world.study_id).description = "Simulated answers: *no person* gave them."
    at = page(world.researcher, Role.RESEARCHER)
    assert [i.value.replace("\\", "") for i in at.info] == ["Simulated answers: *no person* gave them."]


def test_the_answer_count_is_first_reads_and_names_the_rereads(home: Settings, engine: Engine) -> None:
    world = answered_study(engine, n_videos=6, experts=2, reread_share=0.5)
    at = page(world.researcher, Role.RESEARCHER)
    answers = at.metric[0]
    assert (answers.label, answers.value) == ("Answers (first reads)", "12")
    rereads = int(re.search(r"Besides: (\d+) re-reads", answers.proto.help)[1])
    assert rereads > 0


def test_filters_narrow_the_numbers(home: Settings, engine: Engine) -> None:
    world = answered_study(engine, n_videos=6, experts=2)
    at = page(world.researcher, Role.RESEARCHER)
    at.multiselect(key="stats_experts").select("Dr. Expert 1").run()
    assert [m.value for m in at.metric] == ["6", "6", "1"]
    assert "Only one expert answered" in warnings(at)[0]


def test_open_study_is_refused_to_researchers_and_previewed_by_admins(home: Settings, engine: Engine) -> None:
    world: StatsWorld = answered_study(engine, n_videos=3, experts=2, close=False)
    at = page(world.researcher, Role.RESEARCHER)
    assert not at.exception and "No study is closed yet" in at.info[0].value
    assert not at.tabs
    admin = page(world.admin, Role.ADMIN)
    assert "No study is closed yet" in admin.info[0].value
    admin.checkbox(key="stats_preview").check().run()
    assert not admin.exception
    assert admin.selectbox(key="stats_study").value.title == "Pilot study (open)"
    assert warnings(admin)[0].startswith("Preview: study 'Pilot study' is open")
    assert [m.value for m in admin.metric] == ["6", "3", "2"]


def test_single_expert_study_says_why_agreement_is_missing(home: Settings, engine: Engine) -> None:
    world = answered_study(engine, n_videos=3, experts=1)
    at = page(world.researcher, Role.RESEARCHER)
    assert not at.exception
    assert warnings(at) == ["Only one expert answered: there is no agreement between experts to compute."]
    kappa = at.tabs[2].dataframe[0].value
    assert list(kappa["cam type"]) == ["train-CAM", "test-CAM", "both, pooled (secondary)"]
    assert set(kappa["note"]) == {"fewer than two experts: no agreement between experts"}


def test_a_preview_is_never_served_once_the_study_is_closed(home: Settings, engine: Engine) -> None:
    world = answered_study(engine, n_videos=3, experts=2, close=False)
    admin = page(world.admin, Role.ADMIN)
    admin.checkbox(key="stats_preview").check().run()
    assert warnings(admin)[0].startswith("Preview: study 'Pilot study' is open")
    with session_scope(engine) as session:
        close_study(session=session, study_id=world.study_id, actor_id=world.admin)
    admin.checkbox(key="stats_preview").uncheck().run()
    assert not admin.exception
    assert admin.selectbox(key="stats_study").value.title == "Pilot study"
    assert not [w for w in warnings(admin) if w.startswith("Preview")]


def test_an_admin_who_is_an_expert_of_an_open_study_cannot_preview_it(home: Settings, engine: Engine) -> None:
    world = answered_study(engine, n_videos=3, experts=1, close=False)
    admin_expert_study(engine, world)
    admin = page(world.admin, Role.ADMIN)
    admin.checkbox(key="stats_preview").check().run()
    assert admin.selectbox(key="stats_study").value.title == "Admin joins (open)"
    assert not admin.exception and not admin.tabs and not admin.get("download_button")
    assert "You are an expert of study 'Admin joins'" in admin.error[0].value.replace("\\", "")
