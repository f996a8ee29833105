"""Models (being built)."""

from __future__ import annotations

import streamlit as st

from pages.common import require_role
from reviewer.vocab import Role

require_role(Role.RESEARCHER)
st.title("Models", anchor=False)
st.info("Training runs, their metrics and plots will appear here.", icon=":material/construction:")
