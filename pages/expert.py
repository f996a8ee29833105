"""The medical expert's page: their open studies, and the blinded review of one video at a time.

The page only shows what the review services hand out: positions, progress, the expert's own
answers and opaque media. The chosen study is kept in the address (``?study=<id>``), so a bookmark
or a reload after signing in again comes back to the first video still to be answered.
"""

from __future__ import annotations

import streamlit as st

from pages.common import Viewer, plain, require_role, settings, unit_of_work
from pages.review_form import add_keys, answer_form
from pages.review_player import show_player
from pages.review_state import POSITION, STUDY, forget, leave, load, move
from reviewer.review import ReviewError, expert_studies, item_states, next_position, review_item
from reviewer.review_media import player_media
from reviewer.study_description import expert_descriptions
from reviewer.vocab import Role

STUDY_PARAM = "study"
STATE_MARKS = {True: "finished", False: "draft", None: "not started"}
# The video on screen is marked as such, not by its state: its first autosave redraws only the form,
# so a state would read "not started" while the expert answers it (the form says what is saved).
HERE_MARK = "this video"
HEADER_COLUMNS = (3, 1)  # title and progress wide, the jump list narrow
INSTRUCTIONS = "Instructions for this study"


def _open(study_id: int) -> None:
    st.session_state[STUDY] = study_id
    st.session_state.pop(POSITION, None)
    st.query_params[STUDY_PARAM] = str(study_id)
    forget()


def _leave() -> None:
    leave()
    for key in (STUDY, POSITION):
        st.session_state.pop(key, None)
    st.query_params.pop(STUDY_PARAM, None)


def _chosen_study() -> int | None:
    """The study in the session, else the one in the address; junk in the address is ignored."""
    chosen = st.session_state.get(STUDY)
    if isinstance(chosen, int):
        return chosen
    given = st.query_params.get(STUDY_PARAM, "")
    return int(given) if given.isdecimal() else None


def _study_list(user: Viewer) -> None:
    st.title("Your studies", anchor=False)
    with unit_of_work() as session:
        studies = expert_studies(session=session, expert_id=user.id)
        descriptions = expert_descriptions(session=session, expert_id=user.id)
    if not studies:
        st.info(
            "No studies are assigned to you yet. When an administrator opens a study that lists you, it "
            "appears here with your progress. In a study you compare two heatmaps per video without "
            "knowing which model made them, and you can pause and resume at any time.",
            icon=":material/inbox:",
        )
        return
    for study in studies:
        with st.container(border=True):
            st.subheader(plain(study.name), anchor=False)
            _describe(descriptions.get(study.study_id, ""))
            st.progress(study.done / study.total if study.total else 1.0, text=f"{study.label} answered")
            verb = "Start" if study.done == 0 else "Resume" if study.done < study.total else "Review answers"
            st.button(
                verb,
                key=f"review_open_{study.study_id}",
                type="primary",
                on_click=_open,
                args=(study.study_id,),
            )


def _describe(description: str) -> None:
    """The administrator's instructions, as typed: ``st.text`` parses neither Markdown nor HTML."""
    if description:
        st.text(description, width="stretch")


def _review(user: Viewer, study_id: int) -> None:
    try:
        with unit_of_work() as session:
            position = st.session_state.get(POSITION)
            if not isinstance(position, int):
                position = next_position(session=session, study_id=study_id, expert_id=user.id) or 0
            item = review_item(session=session, study_id=study_id, expert_id=user.id, position=position)
            states = item_states(session=session, study_id=study_id, expert_id=user.id)
            names = {s.study_id: s.name for s in expert_studies(session=session, expert_id=user.id)}
            description = expert_descriptions(session=session, expert_id=user.id).get(study_id, "")
            media = player_media(session=session, settings=settings(), item=item)
    except ReviewError as error:
        st.title("Your studies", anchor=False)
        st.error(str(error), icon=":material/block:")
        st.button("Back to your studies", key="review_back_refused", on_click=_leave)
        return
    st.session_state[POSITION] = position
    load(item)
    _header((study_id, position), names.get(study_id, ""), states)
    if description:  # open until the first answer; then folded, so the scores fit on a laptop screen
        started = any(state is not None for state in states)
        with st.expander(INSTRUCTIONS, expanded=not started, icon=":material/info:"):
            _describe(description)
    show_player(media)
    answer_form()
    add_keys()


def _header(shown: tuple[int, int], name: str, states: list[bool | None]) -> None:
    position, done = shown[1], sum(1 for state in states if state)
    top, jump = st.columns(HEADER_COLUMNS, vertical_alignment="bottom")
    with top:
        st.button("Your studies", key="review_back", icon=":material/arrow_back:", on_click=_leave)
        st.subheader(f"{plain(name)} · video {position + 1} of {len(states)}", anchor=False)
    with jump:
        st.selectbox(
            "Go to video",
            range(len(states)),
            index=position,
            format_func=lambda p: f"{p + 1} ({HERE_MARK if p == position else STATE_MARKS[states[p]]})",
            key=f"review_jump_{position}",
            on_change=lambda: move(shown, st.session_state[f"review_jump_{position}"]),
        )
    st.progress(done / len(states), text=f"{done} / {len(states)} answered")
    if done == len(states):
        st.success(
            "Every video of this study is answered. You can still revise answers while the study is open."
        )


user = require_role(Role.EXPERT)
chosen = _chosen_study()
if chosen is None:
    _study_list(user)
else:
    _review(user, chosen)
