"""Relabel queue (being built)."""

from __future__ import annotations

import streamlit as st

from pages.common import require_role
from reviewer.vocab import Role

require_role(Role.ANNOTATOR)
st.title("Relabel queue", anchor=False)
st.info("The active-learning relabel queue will appear here.", icon=":material/construction:")
