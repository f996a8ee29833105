"""Sign-in page: the only page a signed-out visitor can reach."""

from __future__ import annotations

import streamlit as st

from pages.common import APP_ICON, APP_TITLE, FORM_PX, engine, settings, sign_in
from reviewer.sign_in import attempt_sign_in

st.title(APP_TITLE, anchor=False)
st.caption(
    "Expert review of the heatmaps of a lung-ultrasound model. "
    "Sign in with the account your administrator gave you."
)

with st.form("login_form", border=True, width=FORM_PX):
    st.subheader("Sign in", anchor=False)
    username = st.text_input("Username", key="login_username", autocomplete="username")
    password = st.text_input(
        "Password", key="login_password", type="password", autocomplete="current-password"
    )
    submitted = st.form_submit_button("Sign in", key="login_submit", type="primary", icon=APP_ICON)

if submitted:
    # The service opens its own short transactions: none may stay open while bcrypt runs.
    attempt = attempt_sign_in(engine=engine(), settings=settings(), username=username, password=password)
    if attempt.user is None:
        st.error(attempt.refusal, icon=":material/error:")
    else:
        sign_in(attempt.user)
        st.rerun()
