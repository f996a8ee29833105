"""What the review page remembers between reruns, and the one place it saves answers.

Every change the expert makes goes through :func:`save` at once (autosave), with the revision the
page last saw: if another tab saved in between, the service refuses and the page says so instead of
overwriting. The time since the previous save is sent with every save, capped so that a coffee break
with the page open does not count as reading time; leaving a video for another one stores its time
too, and a video shown again after a run without the page (another page) starts a new clock.

Streamlit forgets the values of keyed widgets that a run did not draw, so whenever the form's widget
values are missing the page reads the answer from the database again: the form always shows what is
stored, and an autosave never sends the empty values of a forgotten widget.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import streamlit as st

from pages.common import still_signed_in, unit_of_work, viewer
from reviewer.review import AnswerForm, FormError, ReviewError, ReviewItem, StaleAnswerError, save_answer
from reviewer.review_form import missing_fields

CURRENT = "review_current"
STUDY = "review_study"
POSITION = "review_position"
# A gap between two saves longer than this counts as this long: the expert was away, not reading.
IDLE_AFTER_S = 300.0
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
    unfinished: tuple[str, ...] = ()
    """Required values a refused "finish" still lacked; the draft was saved, unless nothing was given."""
    reload: bool = False
    """Set by "Reload the latest version": the next run reads the answer again, keeping the clock."""


def current() -> Current:
    """The item the page has loaded; pages call this only after :func:`load`."""
    loaded = st.session_state[CURRENT]
    assert isinstance(loaded, Current)
    return loaded


def load(item: ReviewItem) -> None:
    """Put the stored answer into the widgets when the item is new, reloaded or its widgets forgotten.

    The same item otherwise keeps its edits. Widget values go missing when a run did not draw the
    form (the expert visited another page); the answer is then read again from the database, and
    the clock restarts so that the time away does not count as reading time.
    """
    loaded, shown = st.session_state.get(CURRENT), (item.study_id, item.position)
    if not isinstance(loaded, Current) or (loaded.study_id, loaded.position) != shown:
        loaded = None
    if loaded is not None and not loaded.reload and all(key in st.session_state for key in WIDGETS.values()):
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
        clock=loaded.clock if loaded is not None and loaded.reload else time.monotonic(),
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


def shown_item(shown: tuple[int, int]) -> Current | None:
    """The loaded item if it is the one ``shown`` (study, position) on the page that sent a click.

    A click that arrives from a page drawn for another item (a key pressed twice, or while the next
    video was still loading) gets None and a note, so it is never applied to the item now loaded.
    """
    loaded = st.session_state.get(CURRENT)
    if not isinstance(loaded, Current) or (loaded.study_id, loaded.position) != shown:
        st.toast("The page was still loading; please make that choice again.", icon=":material/hourglass:")
        return None
    return loaded


def change(shown: tuple[int, int], name: str, value: object) -> None:
    """Set one form value of the item ``shown`` and autosave it as a draft."""
    loaded = shown_item(shown)
    if loaded is None:
        return
    values: dict[str, Any] = {name: tuple(value) if isinstance(value, list) else value}
    loaded.draft = dataclasses.replace(loaded.draft, **values)
    save(complete=False)


def keep_time() -> None:
    """Store the reading time since the last save before the page leaves the loaded item.

    Only an answer that exists gets the time: opening a video and moving on creates no empty answer,
    and a refused (stale) answer is not touched.
    """
    loaded = st.session_state.get(CURRENT)
    if isinstance(loaded, Current) and loaded.revision is not None and loaded.stale is None:
        save(complete=False)


def leave() -> None:
    """Store the reading time of the video shown and drop it: the expert leaves the review (another
    study, another page, signing out), and time spent elsewhere must not count as reading time."""
    keep_time()
    forget()


def move(shown: tuple[int, int], position: int) -> None:
    """Callback of the ways to another video of the list: keep the time of the one shown, then go."""
    if shown_item(shown) is not None:
        keep_time()
        go(position)


def widget_changed(shown: tuple[int, int], name: str) -> None:
    """Callback of the keyed widgets: copy the widget's value into the draft and autosave."""
    change(shown, name, st.session_state[WIDGETS[name]])


def save(*, complete: bool) -> bool:
    """Store the draft (as complete if asked); on refusal keep the reason for the page to show."""
    loaded, user = current(), viewer()
    if user is None or not still_signed_in(user):  # a callback: the page's guard has not run
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
    loaded.saved_at, loaded.problems, loaded.unfinished = datetime.now().strftime("%H:%M:%S"), (), ()
    return True


def finish() -> bool:
    """Complete the answer; when required values are missing, save the draft and its time instead,
    and keep what is left to do, so the expert reads "not finished yet" rather than "not saved".

    A video left untouched stores nothing (no empty answer, as :func:`keep_time`): it stays "not
    started", and an answer another tab stored meanwhile is refused as stale at the first change.
    """
    loaded = current()
    missing = tuple(missing_fields(loaded.draft))
    if not missing:
        return save(complete=True)
    untouched = loaded.revision is None and loaded.draft == AnswerForm()  # no empty answer, as keep_time
    if untouched or save(complete=False):
        loaded.unfinished = missing
    return False
