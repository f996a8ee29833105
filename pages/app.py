"""Entrypoint of the web app: page config, role-based navigation and the account sidebar.

Run with ``lusreview serve`` (or ``streamlit run pages/app.py``); the home folder comes from
``LUSREVIEW_HOME``. Signed-out visitors only get the sign-in page; everyone else gets their role's
page plus the data browser, and administrators get every page.
"""

from __future__ import annotations

import streamlit as st

from pages.common import APP_ICON, APP_TITLE, ROLE_NAMES, Viewer, plain, sign_out, viewer
from reviewer.vocab import Role

st.set_page_config(page_title=APP_TITLE, page_icon=APP_ICON, layout="wide")

ROLE_PAGES: dict[Role, dict[str, str]] = {
    Role.ADMIN: {"page": "admin.py", "title": "Administration", "icon": ":material/admin_panel_settings:"},
    Role.EXPERT: {"page": "expert.py", "title": "Your studies", "icon": ":material/visibility:"},
    Role.ANNOTATOR: {"page": "annotator.py", "title": "Labelling", "icon": ":material/edit_note:"},
    Role.RESEARCHER: {"page": "researcher.py", "title": "Statistics", "icon": ":material/query_stats:"},
}


def _pages_for(user: Viewer) -> dict[str, list[st.Page]]:
    roles = list(Role) if user.role is Role.ADMIN else [user.role]
    work = [st.Page(**ROLE_PAGES[role], default=role is user.role) for role in roles]
    data = [st.Page("browse.py", title="Data browser", icon=":material/video_library:")]
    return {"Work": work, "Data": data}


def _account_sidebar(user: Viewer) -> None:
    with st.sidebar:
        st.caption(f"Signed in as **{plain(user.username)}** · {ROLE_NAMES[user.role]}")
        if st.button("Sign out", key="app_sign_out", icon=":material/logout:"):
            sign_out()
            st.rerun()


current = viewer()
if current is None:
    page = st.navigation([st.Page("login.py", title="Sign in", icon=":material/login:")], position="hidden")
else:
    page = st.navigation(_pages_for(current))
    _account_sidebar(current)
page.run()
