"""The annotator's start page: labelling work and the relabel queue."""

from __future__ import annotations

import streamlit as st

from pages.common import require_role
from reviewer.vocab import Role

require_role(Role.ANNOTATOR)
st.title("Labelling", anchor=False)
st.info(
    "The relabel queue is empty. After a model has been trained, the videos whose labels it doubts most "
    "are queued here for you to confirm or correct, and you can mark patterns on their frames.",
    icon=":material/inbox:",
)
st.page_link("browse.py", label="Meanwhile, browse all videos", icon=":material/video_library:")
