"""The annotator's label form: class, probe, patterns and comment of one video, saved as one action.

The form remembers the stored values it was opened with and sends them back with the save, so a
save made after someone else changed the video is refused (with a reload button) instead of quietly
reverting their edit. Reloading moves the widgets to new keys, so they start from the stored values.
"""

from __future__ import annotations

import streamlit as st

from pages.common import PROBE_NAMES, Viewer, class_name, pattern_name, unit_of_work
from reviewer.annotation import AnnotationError
from reviewer.annotation_form import (
    MAX_COMMENT,
    AnnotationForm,
    AnnotationState,
    StaleAnnotationError,
    annotation_state,
    save_annotation,
)
from reviewer.vocab import LusClass, Pattern, Probe

LOADED_KEY = "annot_form_loaded"  # the stored values the form's widgets started from
ROUND_KEY = "annot_form_round"  # bumped by a reload, so the widgets start again from stored values
STALE_KEY = "annot_form_stale"  # the video whose save was refused as stale, until it is reloaded


def label_form(video_id: int, user: Viewer) -> None:
    """Class, probe, patterns and comment; a changed class needs a reason."""
    key = f"annot_{video_id}_{st.session_state.get(ROUND_KEY, 0)}"
    loaded = _loaded(video_id, user, key)
    with st.form(f"annot_label_form_{video_id}"):
        form = _form_fields(loaded, key)
        submitted = st.form_submit_button("Save label", key=f"annot_label_save_{video_id}", type="primary")
    if submitted:
        _save(loaded, form, user)
    if st.session_state.get(STALE_KEY) == video_id and st.button(
        "Reload the stored values", key=f"annot_label_reload_{video_id}", icon=":material/refresh:"
    ):
        st.session_state[ROUND_KEY] = st.session_state.get(ROUND_KEY, 0) + 1
        st.rerun()


def _loaded(video_id: int, user: Viewer, key: str) -> AnnotationState:
    """The values the form's widgets started from: kept while they live, read afresh when they start."""
    kept = st.session_state.get(LOADED_KEY)
    if isinstance(kept, AnnotationState) and kept.video_id == video_id and f"{key}_class" in st.session_state:
        return kept
    with unit_of_work() as session:
        state = annotation_state(session=session, video_id=video_id, user_id=user.id)
    st.session_state[LOADED_KEY] = state
    st.session_state.pop(STALE_KEY, None)  # fresh values: nothing left to reload
    return state


def _save(loaded: AnnotationState, form: AnnotationForm, user: Viewer) -> None:
    try:
        with unit_of_work() as session:
            changed = save_annotation(session=session, loaded=loaded, form=form, actor_id=user.id)
            saved = annotation_state(session=session, video_id=loaded.video_id, user_id=user.id)
    except StaleAnnotationError as exc:
        st.session_state[STALE_KEY] = loaded.video_id
        st.error(str(exc), icon=":material/sync_problem:")
    except AnnotationError as exc:
        st.error(str(exc), icon=":material/error:")
    else:
        st.session_state[LOADED_KEY] = saved  # what the widgets now show is what is stored
        st.success(
            f"Saved: {', '.join(changed)}." if changed else "Nothing had changed.", icon=":material/save:"
        )


def _form_fields(state: AnnotationState, key: str) -> AnnotationForm:
    classes = [None, *LusClass]
    label = st.selectbox(
        "Class",
        classes,
        index=classes.index(LusClass(state.label) if state.label else None),
        format_func=class_name,
        key=f"{key}_class",
    )
    probe = st.radio(
        "Probe",
        list(Probe),
        index=list(Probe).index(Probe(state.probe)),
        format_func=PROBE_NAMES.__getitem__,
        horizontal=True,
        key=f"{key}_probe",
    )
    patterns = st.multiselect(
        "Patterns visible",
        list(Pattern),
        default=[Pattern(p) for p in state.patterns],
        format_func=pattern_name,
        key=f"{key}_patterns",
    )
    comment = st.text_area("Comment", value=state.comment or "", max_chars=MAX_COMMENT, key=f"{key}_comment")
    reason = st.text_input("Reason (needed when an existing class changes)", key=f"{key}_reason")
    return AnnotationForm(
        label=label.value if label else None,
        probe=probe.value,
        patterns=tuple(p.value for p in patterns),
        comment=comment,
        reason=reason,
    )
