"""The Streamlit app, driven in-process with AppTest against a real SQLite home."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from sqlmodel import Session
from streamlit.testing.v1 import AppTest

from db.session import make_engine, session_scope
from pages.common import SESSION_ENDED, VIEWER_KEY
from reviewer.settings import Settings
from reviewer.users import authenticate, list_users, set_active
from reviewer.vocab import Role
from tests.code import page_support
from tests.code.page_support import PAGES, stock_template, viewer_of
from tests.code.stock import PASSWORD

TIMEOUT_S = 60  # first runs import SQLAlchemy, Alembic and bcrypt; generous so slow CI never flakes


@pytest.fixture(scope="module")
def stocked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The stock users and videos, built once per module."""
    return stock_template(tmp_path_factory)


home = page_support.home  # a private copy of the stocked home per test


def _app(script: str = "app.py") -> AppTest:
    return AppTest.from_file(str(PAGES / script), default_timeout=TIMEOUT_S)


def _signed_in(username: str, password: str = PASSWORD) -> AppTest:
    at = _app().run()
    at.text_input(key="login_username").input(username)
    at.text_input(key="login_password").input(password)
    return at.button(key="login_submit").click().run()


def _titles(at: AppTest) -> list[str]:
    return [title.value for title in at.title]


def test_strangers_only_get_the_sign_in_page(home: Settings) -> None:
    at = _app().run()
    assert not at.exception
    assert _titles(at) == ["LUS review"]
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("browse.py")


def test_wrong_password_is_refused_without_saying_which_part(home: Settings) -> None:
    at = _signed_in("expert", "not the password")
    assert [error.value for error in at.error] == ["Unknown username or wrong password."]
    assert VIEWER_KEY not in at.session_state


def test_login_lands_on_the_role_page_and_sign_out_forgets_the_user(home: Settings) -> None:
    at = _signed_in("expert")
    assert not at.exception
    assert _titles(at) == ["Your studies"]
    assert "No studies are assigned to you yet" in at.info[0].value
    at.sidebar.button(key="app_sign_out").click().run()
    assert _titles(at) == ["LUS review"]
    assert VIEWER_KEY not in at.session_state


@pytest.mark.parametrize("page", ["admin.py", "browse.py", "models.py", "screening.py", "researcher.py"])
def test_expert_navigation_offers_nothing_that_could_unblind(home: Settings, page: str) -> None:
    at = _signed_in("expert")
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(page)


def test_admin_page_guard_stops_other_roles_even_if_reached_directly(home: Settings) -> None:
    at = _app("admin.py")
    at.session_state[VIEWER_KEY] = viewer_of(2)
    at.run()
    assert [error.value for error in at.error] == ["Your role does not give access to this page."]
    assert not at.title


@pytest.mark.parametrize(
    ("page", "title"),
    [("expert.py", "Your studies"), ("annotator.py", "Labelling"), ("researcher.py", "Statistics")],
)
def test_admin_may_open_every_role_page(home: Settings, page: str, title: str) -> None:
    at = _signed_in("admin")
    assert _titles(at) == ["Administration"]
    at.switch_page(page).run()
    assert not at.exception
    assert _titles(at) == [title]
    assert at.info, "every role page explains what will appear there"


def test_admin_creates_a_user_through_the_form(home: Settings) -> None:
    at = _signed_in("admin")
    at.text_input(key="admin_new_username").input("dr.rossi")
    at.text_input(key="admin_new_display_name").input("Dr. Anna Rossi")
    at.selectbox(key="admin_new_role").select(Role.EXPERT)
    at.text_input(key="admin_new_password").input("a long initial password")
    at.button(key="admin_create_submit").click().run()
    assert not at.error
    assert "dr.rossi" in at.success[0].value
    assert "dr.rossi" in list(at.dataframe[0].value["Username"])
    engine = make_engine(home.database_url)
    with Session(engine) as session:
        created = authenticate(session=session, username="dr.rossi", password="a long initial password")
    engine.dispose()
    assert created is not None
    assert (created.role, created.display_name) == ("expert", "Dr. Anna Rossi")


def test_admin_form_shows_why_a_user_cannot_be_created(home: Settings) -> None:
    at = _signed_in("admin")
    at.text_input(key="admin_new_username").input("expert")
    at.text_input(key="admin_new_password").input("another long password")
    at.button(key="admin_create_submit").click().run()
    assert [error.value for error in at.error] == ["The username 'expert' is taken."]


def _browser(role: str = "annotator") -> AppTest:
    return _signed_in(role).switch_page("browse.py").run()


def _listed(at: AppTest) -> list[str]:
    return list(at.dataframe(key="browse_table").value["Name"])


def test_browser_lists_videos_with_counts_per_class(home: Settings) -> None:
    at = _browser()
    assert not at.exception
    assert _listed(at) == ["Cov-Atlas-B-lines.mp4", "Pneu-consolidation.mp4", "Reg-healthy.mp4"]
    counts = {metric.label: metric.value for metric in at.metric}
    assert (counts["COVID-19"], counts["Healthy"], counts["Viral pneumonia"]) == ("1", "1", "0")


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("browse_label_filter", "pneumonia", ["Pneu-consolidation.mp4"]),
        ("browse_probe_filter", "linear", ["Reg-healthy.mp4"]),
        ("browse_pattern_filter", "b_lines", ["Cov-Atlas-B-lines.mp4"]),
        ("browse_source_filter", "pocus", []),
    ],
)
def test_browser_filters_show_the_right_rows(
    home: Settings, key: str, value: str, expected: list[str]
) -> None:
    at = _browser()
    at.selectbox(key=key).set_value(value).run()
    if expected:
        assert _listed(at) == expected
    else:
        assert at.info[-1].value == "No videos match these filters."


def test_browser_text_search_is_case_insensitive(home: Settings) -> None:
    at = _browser()
    at.text_input(key="browse_search").input("HEALTHY").run()
    assert _listed(at) == ["Reg-healthy.mp4"]


def test_browser_refuses_experts_even_if_reached_directly(home: Settings) -> None:
    at = _app("browse.py")
    at.session_state[VIEWER_KEY] = viewer_of(2)
    at.run()
    assert [error.value for error in at.error] == ["Your role does not give access to this page."]
    assert not at.dataframe


def test_browser_shows_the_first_video_with_credit_and_frames(home: Settings) -> None:
    at = _browser("researcher")
    assert (
        at.subheader[0].value == "Cov\\-Atlas\\-B\\-lines\\.mp4"
    )  # names are escaped, never rendered as Markdown
    captions = [caption.value for caption in at.caption]
    assert "Source: https\\://www\\.thepocusatlas\\.com/covid19" in captions
    assert "Licence: CC BY\\-NC 4\\.0" in captions
    assert at.expander[0].label == "Sampled frames (3)"
    assert not at.warning


def test_browser_opens_the_selected_row(home: Settings) -> None:
    at = _browser()
    at.session_state["browse_table"] = {"selection": {"rows": [2], "columns": [], "cells": []}}
    at.run()
    assert at.subheader[0].value == "Reg\\-healthy\\.mp4"


def test_browser_warns_about_missing_files_instead_of_failing(home: Settings) -> None:
    for stored in [*home.videos_dir.rglob("*.mp4"), *home.frames_dir.rglob("*_000.png")]:
        stored.unlink()
    at = _browser()
    assert not at.exception
    warnings = [warning.value for warning in at.warning]
    assert any("is missing from the data folder" in warning for warning in warnings)
    assert "1 of 3 frame files are missing." in warnings
    assert at.expander[0].label == "Sampled frames (2)"


def test_sign_in_page_locks_a_username_after_repeated_failures(
    home: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LUSREVIEW_LOGIN_MAX_FAILURES", "2")
    at = _signed_in("expert", "not the password")
    at.button(key="login_submit").click().run()
    assert [error.value for error in at.error] == ["Unknown username or wrong password."]
    at.text_input(key="login_password").input(PASSWORD)
    at.button(key="login_submit").click().run()
    [locked] = [error.value for error in at.error]
    assert locked.startswith("Too many failed attempts; try again in ") and locked.endswith(" minutes.")
    assert VIEWER_KEY not in at.session_state


def test_everyone_changes_their_own_password_on_my_account(home: Settings) -> None:
    at = _signed_in("annotator").switch_page("account.py").run()
    assert _titles(at) == ["My account"]
    [form] = at.get("form")
    assert form.proto.form.clear_on_submit  # the browser empties the fields: passwords never shown back
    for current, new, repeat, message in [
        (
            "not the password",
            "a fresh long password",
            "a fresh long password",
            "The current password is wrong.",
        ),
        (PASSWORD, "a fresh long password", "a fresh long passwort", "The two new passwords differ."),
        (PASSWORD, "a fresh long password", "a fresh long password", None),
    ]:
        at.text_input(key="account_current").input(current)
        at.text_input(key="account_new").input(new)
        at.text_input(key="account_repeat").input(repeat)
        at.button(key="account_submit").click().run()
        assert [error.value for error in at.error] == ([message] if message else [])
    assert at.success[0].value.startswith("Your password is changed")
    at.sidebar.button(key="app_sign_out").click().run()
    assert _titles(_signed_in("annotator", "a fresh long password")) == ["Labelling"]
    assert VIEWER_KEY not in _signed_in("annotator").session_state


def test_admin_resets_a_password_and_deactivates_an_account_but_not_their_own(home: Settings) -> None:
    at = _signed_in("admin")
    at.selectbox(key="admin_manage_username").select("expert")
    at.text_input(key="admin_reset_password").input("handed over in person")
    at.button(key="admin_reset_submit").click().run()
    assert at.success[0].value == "Account **expert** has a new password."
    at.selectbox(key="admin_manage_username").select("admin")
    at.button(key="admin_deactivate").click().run()
    assert [error.value for error in at.error] == ["You cannot deactivate your own account."]
    at.selectbox(key="admin_manage_username").select("expert")
    at.button(key="admin_deactivate").click().run()
    assert at.success[0].value == "Account **expert** is deactivated."
    table = at.dataframe[0].value
    assert dict(zip(table["Username"], table["Active"], strict=True)) == {
        "admin": True,
        "annotator": True,
        "expert": False,
        "researcher": True,
    }
    assert [error.value for error in _signed_in("expert", "handed over in person").error] == [
        "Unknown username or wrong password."
    ]
    at.selectbox(key="admin_manage_username").select("expert")
    at.button(key="admin_reactivate").click().run()
    assert at.success[0].value == "Account **expert** is active."
    assert _titles(_signed_in("expert", "handed over in person")) == ["Your studies"]


def test_deactivating_an_account_ends_the_sessions_it_already_has(home: Settings) -> None:
    at = _signed_in("annotator")
    assert _titles(at) == ["Labelling"]
    with session_scope(make_engine(home.database_url)) as session:
        ids = {user.username: int(user.id or 0) for user in list_users(session=session)}
        set_active(session=session, user_id=ids["annotator"], active=False, actor_id=ids["admin"])
    at.run()
    assert [warning.value for warning in at.warning] == [SESSION_ENDED]
    assert VIEWER_KEY not in at.session_state


@pytest.mark.parametrize("script", sorted(p.name for p in PAGES.glob("*.py")), ids=str)
def test_no_page_module_holds_a_bare_string_that_streamlit_magic_would_show(script: str) -> None:
    """Streamlit writes every bare expression of a page script on the page ("magic"), strings too.

    An attribute docstring under a constant reads as documentation in a module, but on a page it is
    text every user sees. Exempt, as magic exempts them: the module's and functions' docstrings, and
    class bodies (magic enters only their methods). Modules a page imports keep the same rule, since
    code moves between them.
    """
    tree = ast.parse((PAGES / script).read_text(encoding="utf-8"))
    exempt = {id(node) for node in tree.body[:1]}
    for owner in ast.walk(tree):
        if isinstance(owner, ast.FunctionDef | ast.AsyncFunctionDef):
            exempt.add(id(owner.body[0]))
        elif isinstance(owner, ast.ClassDef):
            exempt.update(id(node) for node in owner.body)
    shown = [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and id(node) not in exempt
    ]
    assert shown == [], f"{script}: bare strings at lines {shown} would be shown (use # comments)"
