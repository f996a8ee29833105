"""The annotator's page: upload and crop new videos, label them and draw regions, review others' labels."""

from __future__ import annotations

import streamlit as st

from pages.annot_form import label_form
from pages.annot_label import pick_video, region_editor
from pages.annot_review import history_view, review_section
from pages.annot_upload import upload_section
from pages.common import require_role
from reviewer.vocab import Role

PREFIX = "annot_"
FORM_REGIONS = [2, 3]  # relative widths: the region canvas gets more room than the form

user = require_role(Role.ANNOTATOR)
st.title("Labelling", anchor=False)
upload_tab, label_tab, review_tab = st.tabs(["Upload", "Label and regions", "Review"])

with upload_tab:
    st.caption(
        "Each file shows its first frame with the suggested crop; adjust it, choose the class and "
        "patterns, then store. Every file is stored on its own: a bad file does not stop the others."
    )
    upload_section(PREFIX, user)

with label_tab:
    video_id = pick_video(st.session_state.get(f"{PREFIX}recent_ids", []))
    if video_id is not None:
        form_col, region_col = st.columns(FORM_REGIONS, gap="large")
        with form_col:
            label_form(video_id, user)
            history_view(video_id)
        with region_col:
            region_editor(video_id, user)

with review_tab:
    review_section(user)
