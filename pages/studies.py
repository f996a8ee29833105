"""Studies (being built)."""

from __future__ import annotations

import streamlit as st

from pages.common import require_role
from reviewer.vocab import Role

require_role(Role.ADMIN)
st.title("Studies", anchor=False)
st.info(
    "Setting up, opening and closing blinded expert studies will appear here.", icon=":material/construction:"
)
