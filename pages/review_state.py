"""What the review page remembers between reruns, and the one place it saves answers.

Every change the expert makes goes through :func:`save` at once (autosave), with the revision the
page last saw: if another tab saved in between, the service refuses and the page says so instead of
overwriting. The time since the previous save is sent with every save, capped so that a coffee break
with the page open does not count as reading time.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import streamlit as st

from pages.common import unit_of_work, viewer
from reviewer.review import AnswerForm, FormError, ReviewError, ReviewItem, StaleAnswerError, save_answer

CURRENT = "review_current"
STUDY = "review_study"
POSITION = "review_position"
DONE = "review_all_done"
IDLE_AFTER_S = 300.0
"""A gap between two saves longer than this counts as this long: the expert was away, not reading."""
WIDGETS = {
    "class_guess": "review_class_guess",
    "patterns_visible": "review_visible",
    "patterns_a": "review_patterns_a",
    "patterns_b": "review_patterns_b",
    "comment": "review_comment",
}


@dataclass
class Current:
    """The item on screen: its token stays on the server, only positions reach the browser."""

    study_id: int
    position: int
    total: int
    token: str
    revision: int | None
    complete: bool
    draft: AnswerForm
    clock: float = field(default_factory=time.monotonic)
    saved_at: str | None = None
    stale: str | None = None
    problems: tuple[str, ...] = ()


def current() -> Current:
    """The item the page has loaded; pages call this only after :func:`load`."""
    loaded = st.session_state[CURRENT]
    assert isinstance(loaded, Current)
    return loaded


def load(item: ReviewItem) -> None:
    """Put the stored answer of a newly shown item into the widgets; the same item keeps its edits."""
    loaded = st.session_state.get(CURRENT)
    if isinstance(loaded, Current) and (loaded.study_id, loaded.position) == (item.study_id, item.position):
        return
    saved = item.answer
    form = saved.form if saved is not None else AnswerForm()
    st.session_state[CURRENT] = Current(
        study_id=item.study_id,
        position=item.position,
        total=item.total,
        token=item.item_token,
        revision=None if saved is None else saved.revision,
        complete=saved is not None and saved.complete,
        draft=form,
    )
    for name, key in WIDGETS.items():
        value = getattr(form, name)
        st.session_state[key] = list(value) if isinstance(value, tuple) else value
    st.session_state[WIDGETS["comment"]] = form.comment or ""


def forget() -> None:
    """Drop the loaded item, so the next run reads it (and its latest revision) from the database."""
    st.session_state.pop(CURRENT, None)


def go(position: int) -> None:
    """Show another position of the list next; the run that follows loads it."""
    st.session_state[POSITION] = position
    forget()


def change(shown: tuple[int, int], name: str, value: object) -> None:
    """Set one form value of the item ``shown`` (study, position) and autosave it as a draft.

    A click that arrives from a page drawn for another item (a key pressed while the next video was
    still loading) is dropped with a note, never applied to the item now loaded.
    """
    loaded = st.session_state.get(CURRENT)
    if not isinstance(loaded, Current) or (loaded.study_id, loaded.position) != shown:
        st.toast("The page was still loading; please make that choice again.", icon=":material/hourglass:")
        return
    values: dict[str, Any] = {name: tuple(value) if isinstance(value, list) else value}
    loaded.draft = dataclasses.replace(loaded.draft, **values)
    save(complete=False)


def widget_changed(shown: tuple[int, int], name: str) -> None:
    """Callback of the keyed widgets: copy the widget's value into the draft and autosave."""
    change(shown, name, st.session_state[WIDGETS[name]])


def save(*, complete: bool) -> bool:
    """Store the draft (as complete if asked); on refusal keep the reason for the page to show."""
    loaded, user = current(), viewer()
    if user is None:
        return False
    now = time.monotonic()
    form = dataclasses.replace(loaded.draft, seconds_spent=round(min(now - loaded.clock, IDLE_AFTER_S), 1))
    try:
        with unit_of_work() as session:
            answer = save_answer(
                session=session,
                study_id=loaded.study_id,
                expert_id=user.id,
                item_token=loaded.token,
                form=form,
                complete=complete,
                expected_revision=loaded.revision,
            )
            revision, stored_complete = answer.revision, answer.complete
    except StaleAnswerError as error:
        loaded.stale = str(error)
        return False
    except FormError as error:
        loaded.problems = error.problems
        return False
    except ReviewError as error:
        loaded.problems = (str(error),)
        return False
    loaded.revision, loaded.complete, loaded.clock = revision, stored_complete, now
    loaded.saved_at, loaded.problems = datetime.now().strftime("%H:%M:%S"), ()
    return True
