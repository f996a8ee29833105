"""Screening (being built)."""

from __future__ import annotations

import streamlit as st

from pages.common import require_role
from reviewer.vocab import Role

require_role(Role.ANNOTATOR, Role.RESEARCHER)
st.title("Screening", anchor=False)
st.info("Screening a video with the model ensemble will appear here.", icon=":material/construction:")
