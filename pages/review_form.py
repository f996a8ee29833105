"""The answer form of the review page: scores, preference, class guess, patterns, comment, navigation.

The form is a fragment, so a click or an edit saves and redraws the form alone while the three
videos keep playing; only moving to another video reruns the whole page. Every control is a callback
that carries the item it was drawn for, so a press that arrives after the page moved on (``N``
pressed twice) is dropped instead of acting on the next video unseen. Scores and the preference
are rows of buttons because every value needs its own key for the keyboard shortcuts.
"""

from __future__ import annotations

from typing import Literal

import streamlit as st
from streamlit_shortcuts import add_shortcuts

from pages.common import unit_of_work, viewer
from pages.review_state import (
    CURRENT,
    WIDGETS,
    Current,
    change,
    current,
    finish,
    go,
    move,
    shown_item,
    widget_changed,
)
from reviewer.review import next_position
from reviewer.review_form import GUESS_CHOICES, HIGHLIGHTED, MAX_COMMENT, VISIBLE, ReviewError
from reviewer.vocab import SCORE_MAX, SCORE_MIN, UNSURE, LusClass, Pattern, Preference

SCORES = range(SCORE_MIN, SCORE_MAX + 1)
SCORE_KEYS = {"score_a": "1234567", "score_b": "asdfghj"}
PREFERENCE_NAMES = {Preference.A.value: "A", Preference.EQUAL.value: "Equal", Preference.B.value: "B"}
PREFERENCE_KEYS = {Preference.A.value: "8", Preference.EQUAL.value: "9", Preference.B.value: "0"}
NEXT_KEY, PREVIOUS_KEY = "n", "p"
ANCHORS = (
    f"{SCORE_MIN} the heatmap is only distracting · {SCORE_MAX} the heatmap is very helpful for diagnosis"
)
LEGEND = (
    "Keys: score A `1`…`7` (−3…+3) · score B `A` `S` `D` `F` `G` `H` `J` (−3…+3) · "
    "prefer A `8`, equal `9`, B `0` · finish and next `N` · previous `P` · play/pause `K` · frame `,` `.`"
)
COMMENT_PX = 90


def score_key(name: str, value: int) -> str:
    """Widget key of one score button, e.g. ``review_a_m3`` for score A = -3."""
    return f"review_{name[-1]}_{'m' if value < 0 else 'p'}{abs(value)}"


def shortcuts() -> dict[str, str]:
    """Widget key to keyboard key, as ``streamlit_shortcuts.add_shortcuts`` takes them."""
    keys = {score_key(n, v): k for n, row in SCORE_KEYS.items() for v, k in zip(SCORES, row, strict=True)}
    keys |= {f"review_pref_{p}": k for p, k in PREFERENCE_KEYS.items()}
    return keys | {"review_next": NEXT_KEY, "review_prev": PREVIOUS_KEY}


def add_keys() -> None:
    """Register the shortcuts (once per page run) and show their legend."""
    add_shortcuts(**shortcuts())
    st.caption(LEGEND)


def _shown() -> tuple[int, int]:
    loaded = current()
    return loaded.study_id, loaded.position


def _guess_label(value: str) -> str:
    return "Unsure" if value == UNSURE else LusClass(value).label


def _pattern_label(value: str) -> str:
    pattern = Pattern(value)
    return f"{pattern.label} (off-target)" if pattern.off_target else pattern.label


def _buttons(name: str, options: dict[str, str] | dict[int, str], keys: list[str], chosen: object) -> None:
    with st.container(horizontal=True, gap="xxsmall"):
        for (value, label), key in zip(options.items(), keys, strict=True):
            kind: Literal["primary", "secondary"] = "primary" if value == chosen else "secondary"
            st.button(
                label, key=key, type=kind, width="stretch", on_click=change, args=(_shown(), name, value)
            )


def _score(name: str, title: str) -> None:
    st.markdown(f"**{title}**")
    labels = {v: f"{v:+d}" if v else "0" for v in SCORES}
    _buttons(name, labels, [score_key(name, v) for v in SCORES], getattr(current().draft, name))
    st.caption(ANCHORS)


def _patterns(name: str, label: str, options: tuple[str, ...]) -> None:
    st.multiselect(
        label,
        options,
        format_func=_pattern_label,
        key=WIDGETS[name],
        on_change=widget_changed,
        args=(_shown(), name),
        placeholder="None",
    )


@st.fragment
def answer_form() -> None:
    """The whole form for the loaded item, saved on every change."""
    if CURRENT not in st.session_state:
        st.rerun()  # a callback moved to another video: the whole page draws it
    loaded = current()
    video, heat_a, heat_b = st.columns(3, gap="medium")
    with video:
        st.radio(
            "Your class guess",
            GUESS_CHOICES,
            index=None,
            format_func=_guess_label,
            key=WIDGETS["class_guess"],
            on_change=widget_changed,
            args=(_shown(), "class_guess"),
        )
        _patterns("patterns_visible", "Patterns visible in the video", VISIBLE)
    with heat_a:
        _score("score_a", "Score A")
        _patterns("patterns_a", "Patterns highlighted by A", HIGHLIGHTED)
    with heat_b:
        _score("score_b", "Score B")
        _patterns("patterns_b", "Patterns highlighted by B", HIGHLIGHTED)
    st.markdown("**Preferred heatmap**")
    keys = [f"review_pref_{p}" for p in PREFERENCE_NAMES]
    _buttons("preferred", PREFERENCE_NAMES, keys, loaded.draft.preferred)
    st.text_area(
        "Comment (optional)",
        key=WIDGETS["comment"],
        max_chars=MAX_COMMENT,
        height=COMMENT_PX,
        on_change=widget_changed,
        args=(_shown(), "comment"),
    )
    _navigation(loaded)
    _status(loaded)


def _navigation(loaded: Current) -> None:
    last = loaded.position + 1 >= loaded.total
    with st.container(horizontal=True):
        st.button(
            "Previous",
            key="review_prev",
            icon=":material/arrow_back:",
            disabled=loaded.position == 0,
            on_click=move,
            args=(_shown(), loaded.position - 1),
        )
        st.button(
            "Finish" if last else "Finish and next",
            key="review_next",
            type="primary",
            icon=":material/check:" if last else ":material/arrow_forward:",
            on_click=_finish,
            args=(_shown(),),
        )


def _finish(shown: tuple[int, int]) -> None:
    """Complete the answer of the video ``shown``; then the next video, or from the last one the
    first video still unfinished. A refusal stays on the video with its reasons."""
    loaded, user = shown_item(shown), viewer()
    if loaded is None or user is None or not finish():
        return
    if loaded.position + 1 < loaded.total:
        go(loaded.position + 1)
        return
    try:
        with unit_of_work() as session:
            first_open = next_position(session=session, study_id=loaded.study_id, expert_id=user.id)
    except ReviewError as error:
        loaded.problems = (str(error),)
        return
    go(loaded.position if first_open is None else first_open)


def _status(loaded: Current) -> None:
    if loaded.stale:
        st.error(loaded.stale, icon=":material/sync_problem:")
        if st.button("Reload the latest version", key="review_reload", icon=":material/refresh:"):
            loaded.reload = True
            st.rerun()
        return
    for problem in loaded.problems:
        st.warning(f"Not saved: {problem}", icon=":material/warning:")
    if loaded.unfinished:
        st.info(
            f"Not finished yet: please give the {', '.join(loaded.unfinished)}."
            + (" Your other answers are saved." if loaded.revision is not None else ""),
            icon=":material/pending:",
        )
    if loaded.saved_at is not None:
        state = "finished" if loaded.complete else "draft"
        st.caption(f":material/cloud_done: Saved at {loaded.saved_at} ({state})")
    elif loaded.revision is not None:
        st.caption(
            "Finished earlier; changes are saved as you make them." if loaded.complete else "Draft saved."
        )
