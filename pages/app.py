"""Entrypoint of the web app: page config, role-based navigation and the account sidebar.

Run with ``lusreview serve`` (or ``streamlit run pages/app.py``); the home folder comes from
``LUSREVIEW_HOME``. Signed-out visitors only get the sign-in page; everyone else gets their role's
pages plus the data pages, and administrators get every page.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from pages.common import APP_ICON, APP_TITLE, ROLE_NAMES, Viewer, plain, sign_out, viewer
from pages.review_state import leave
from reviewer.vocab import Role

st.set_page_config(page_title=APP_TITLE, page_icon=APP_ICON, layout="wide")

A, E, N, R = Role.ADMIN, Role.EXPERT, Role.ANNOTATOR, Role.RESEARCHER


@dataclass(frozen=True, slots=True)
class PageSpec:
    """One page of the app: its script, title, icon, the roles that see it and its sidebar group."""

    script: str
    title: str
    icon: str
    roles: tuple[Role, ...]
    group: str = "Work"


PAGES = (
    PageSpec("expert.py", "Your studies", ":material/visibility:", (E,)),
    PageSpec("annotator.py", "Labelling", ":material/edit_note:", (N,)),
    PageSpec("queue.py", "Relabel queue", ":material/fact_check:", (N,)),
    PageSpec("researcher.py", "Statistics", ":material/query_stats:", (R,)),
    PageSpec("admin.py", "Administration", ":material/admin_panel_settings:", (A,)),
    PageSpec("studies.py", "Studies", ":material/assignment:", (A,)),
    PageSpec("models.py", "Models", ":material/model_training:", (A, R)),
    PageSpec("screening.py", "Screening", ":material/troubleshoot:", (A, N, R), "Data"),
    PageSpec("browse.py", "Data browser", ":material/video_library:", (A, N, R), "Data"),
    PageSpec("account.py", "My account", ":material/manage_accounts:", (A, E, N, R), "Account"),
)
# Experts never see Models, Screening or the Data browser: predictions and labels would tell them
# what the model thinks and what the videos they judge are.
REVIEW_PAGE = PAGES[0]


def _pages_for(user: Viewer) -> dict[str, list[st.Page]]:
    home = next(spec for spec in PAGES if user.role in spec.roles)
    groups: dict[str, list[st.Page]] = {}
    for spec in PAGES:
        if user.role is Role.ADMIN or user.role in spec.roles:
            page = st.Page(spec.script, title=spec.title, icon=spec.icon, default=spec is home)
            groups.setdefault(spec.group, []).append(page)
    return groups


def _account_sidebar(user: Viewer) -> None:
    with st.sidebar:
        st.caption(f"Signed in as **{plain(user.username)}** · {ROLE_NAMES[user.role]}")
        if st.button("Sign out", key="app_sign_out", icon=":material/logout:"):
            leave()  # an expert's reading time of the video shown, before the session is cleared
            sign_out()
            st.rerun()


current = viewer()
if current is None:
    page = st.navigation([st.Page("login.py", title="Sign in", icon=":material/login:")], position="hidden")
else:
    page = st.navigation(_pages_for(current))
    if page.title != REVIEW_PAGE.title:
        leave()  # an expert who opened another page keeps the reading time of the video shown
    _account_sidebar(current)
page.run()
