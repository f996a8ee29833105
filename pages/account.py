"""My account: every signed-in user can change their own password here."""

from __future__ import annotations

import streamlit as st

from pages.common import FORM_PX, ROLE_NAMES, engine, plain, require_role, settings, sign_in
from reviewer.sign_in import change_password
from reviewer.users import UserError

me = require_role()
st.title("My account", anchor=False)
st.caption(f"Signed in as **{plain(me.username)}** ({plain(me.display_name)}) · {ROLE_NAMES[me.role]}")

# Cleared on submit: passwords are never shown back, not even after a mistake.
with st.form("account_password_form", clear_on_submit=True, border=True, width=FORM_PX):
    st.subheader("Change password", anchor=False)
    current = st.text_input(
        "Current password", key="account_current", type="password", autocomplete="current-password"
    )
    new = st.text_input("New password", key="account_new", type="password", autocomplete="new-password")
    repeat = st.text_input(
        "Repeat the new password", key="account_repeat", type="password", autocomplete="new-password"
    )
    submitted = st.form_submit_button("Change password", key="account_submit", type="primary")

if submitted:
    try:
        if new != repeat:
            raise UserError("The two new passwords differ.")
        # A wrong current password counts towards the sign-in lock of this account.
        sign_in(
            change_password(engine=engine(), settings=settings(), user_id=me.id, current=current, new=new)
        )
    except UserError as exc:
        st.error(str(exc), icon=":material/error:")
    else:
        st.success(
            "Your password is changed; use the new one next time you sign in. "
            "Your other signed-in browsers are signed out.",
            icon=":material/key:",
        )
