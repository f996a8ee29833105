"""The medical expert's start page: the blinded studies they are invited to."""

from __future__ import annotations

import streamlit as st

from pages.common import require_role
from reviewer.vocab import Role

require_role(Role.EXPERT)
st.title("Your studies", anchor=False)
st.info(
    "No studies are assigned to you yet. When an administrator opens a study that lists you, it appears "
    "here with your progress. In a study you compare two heatmaps per video without knowing which model "
    "made them, and you can pause and resume at any time.",
    icon=":material/inbox:",
)
