"""The researcher's start page: results of closed expert studies."""

from __future__ import annotations

import streamlit as st

from pages.common import require_role
from reviewer.vocab import Role

require_role(Role.RESEARCHER)
st.title("Statistics", anchor=False)
st.info(
    "No study has answers yet. Once experts have answered, this page shows score distributions, agreement "
    "between experts and re-reads, and how heatmaps of models that saw a video in training compare with "
    "those of models that did not.",
    icon=":material/hourglass_empty:",
)
st.page_link("browse.py", label="Meanwhile, browse all videos", icon=":material/video_library:")
