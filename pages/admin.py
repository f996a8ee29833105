"""Administration: accounts and data import (models and studies have their own pages).

The Data import tab reuses the annotator's upload block and adds the import of a POCUS-layout folder.
"""

from __future__ import annotations

import streamlit as st

from pages.annot_import import pocus_import_form
from pages.annot_upload import upload_section
from pages.common import FORM_PX, ROLE_NAMES, Viewer, plain, require_role, unit_of_work
from reviewer.users import UserError, create_user, list_users, reset_password, set_active
from reviewer.vocab import Role

UPLOAD_POCUS = [3, 2]  # relative widths: uploads show canvases, the folder import a short form

admin = require_role(Role.ADMIN)
st.title("Administration", anchor=False)
users_tab, import_tab = st.tabs(["Users", "Data import"])


def _create_user_form(actor: Viewer) -> None:
    with st.form("admin_create_user", clear_on_submit=True, width=FORM_PX):
        st.subheader("New account", anchor=False)
        username = st.text_input(
            "Username", key="admin_new_username", help="Lower-case letters, digits, . _ -"
        )
        display_name = st.text_input("Full name", key="admin_new_display_name")
        roles = list(Role)
        role = st.selectbox(
            "Role",
            roles,
            index=roles.index(Role.EXPERT),
            format_func=ROLE_NAMES.__getitem__,
            key="admin_new_role",
        )
        password = st.text_input("Initial password", key="admin_new_password", type="password")
        submitted = st.form_submit_button("Create account", key="admin_create_submit", type="primary")
    if not submitted:
        return
    try:
        with unit_of_work() as session:
            created = create_user(
                session=session,
                username=username,
                password=password,
                role=role,
                display_name=display_name or None,
                actor_id=actor.id,
            )
    except UserError as exc:
        st.error(str(exc), icon=":material/error:")
    else:
        st.success(f"Account **{created.username}** created.", icon=":material/person_add:")


def _manage_account_form(actor: Viewer) -> None:
    with unit_of_work() as session:
        ids = {user.username: user.id for user in list_users(session=session) if user.id is not None}
    with st.form("admin_manage_user", clear_on_submit=True, width=FORM_PX):
        st.subheader("Manage an account", anchor=False)
        username = st.selectbox("Account", list(ids), key="admin_manage_username")
        password = st.text_input(
            "New password", key="admin_reset_password", type="password", autocomplete="new-password"
        )
        reset = st.form_submit_button("Set password", key="admin_reset_submit", icon=":material/key:")
        deactivate = st.form_submit_button("Deactivate", key="admin_deactivate", icon=":material/person_off:")
        reactivate = st.form_submit_button("Reactivate", key="admin_reactivate", icon=":material/person:")
    if username is None or not (reset or deactivate or reactivate):
        return
    try:
        with unit_of_work() as session:
            if reset:
                reset_password(session=session, user_id=ids[username], password=password, actor_id=actor.id)
            else:
                set_active(session=session, user_id=ids[username], active=reactivate, actor_id=actor.id)
    except UserError as exc:
        st.error(str(exc), icon=":material/error:")
    else:
        done = "has a new password" if reset else "is active" if reactivate else "is deactivated"
        st.success(f"Account **{plain(username)}** {done}.", icon=":material/check:")


def _accounts() -> None:
    st.subheader("Accounts", anchor=False)
    with unit_of_work() as session:
        users = list_users(session=session)
    st.dataframe(
        [
            {
                "Username": user.username,
                "Name": user.display_name,
                "Role": ROLE_NAMES[Role(user.role)],
                "Active": user.active,
                "Created": user.created_at,
            }
            for user in users
        ],
        hide_index=True,
    )


with users_tab:
    form_column, list_column = st.columns(2, gap="large")
    with form_column:
        _create_user_form(admin)
        _manage_account_form(admin)
    with list_column:
        _accounts()

with import_tab:
    upload_column, pocus_column = st.columns(UPLOAD_POCUS, gap="large")
    with upload_column:
        st.subheader("Upload videos", anchor=False)
        upload_section("admin_", admin)
    with pocus_column:
        pocus_import_form(admin)
