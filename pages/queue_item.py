"""The current relabel-queue item: video and CAM, label and prediction, and the decision buttons.

Widget keys carry the item id, so a new item always starts with its own label and an empty reason.
"""

from __future__ import annotations

import streamlit as st

from pages.common import THUMBNAIL_PX, Viewer, class_name, plain, settings, unit_of_work
from reviewer.annotation import MAX_REASON, AnnotationError
from reviewer.catalog import CatalogError, resolve_file
from reviewer.relabel_claims import QueueError, skip_item
from reviewer.relabel_queue import resolve_item
from reviewer.relabel_strategies import Strategy
from reviewer.relabel_view import ItemView, ViewError, item_view
from reviewer.vocab import LusClass

# A refusal shown at the top of the page after a rerun (e.g. someone else resolved the item first).
REFUSAL_KEY = "queue_refusal"
# A decision the services refused that the annotator can fix in the form (e.g. a missing reason).
PROBLEM_KEY = "queue_problem"
PROBABILITY = "Probability"
NOT_STORED = "not stored"
LAYOUT = (3, 2)  # media wider than the facts and decision column


def _play(relative: str, caption: str) -> None:
    try:
        path = resolve_file(settings=settings(), relative_path=relative)
    except CatalogError as exc:
        st.warning(str(exc), icon=":material/warning:")
        return
    st.video(str(path), loop=True, muted=True)
    st.caption(caption)


def _confidence(value: float | None) -> str:
    return NOT_STORED if value is None else f"{value:.0%}"


def _facts(view: ItemView) -> None:
    st.markdown(f"Current label: **{class_name(view.label)}**")
    st.markdown(f"Ensemble prediction: **{class_name(view.predicted_class)}**")
    st.dataframe(
        [{"Class": class_name(c), PROBABILITY: p} for c, p in view.probabilities.items()],
        hide_index=True,
        column_config={
            PROBABILITY: st.column_config.ProgressColumn(min_value=0.0, max_value=1.0, format="percent")
        },
        key=f"queue_probabilities_{view.item_id}",
    )
    epistemic, aleatoric = st.columns(2)
    epistemic.metric(
        "Epistemic confidence",
        _confidence(view.confidence_epistemic),
        help="MC dropout: 100% = every pass agrees.",
    )
    aleatoric.metric(
        "Aleatoric confidence",
        _confidence(view.confidence_aleatoric),
        help="Test-time augmentation: 100% = small image changes never change the prediction.",
    )


def _frames(view: ItemView) -> None:
    images, captions = [], []
    for hint in view.frames:
        try:
            images.append(str(resolve_file(settings=settings(), relative_path=hint.image_path)))
        except CatalogError:
            continue
        captions.append(f"Frame {hint.index + 1}: {class_name(hint.predicted_class)} {hint.probability:.0%}")
    if images:
        with st.expander("Frames to look at first", expanded=False):
            st.image(images, caption=captions, width=THUMBNAIL_PX)


def _decide(view: ItemView, viewer: Viewer) -> None:
    current = LusClass(view.label) if view.label else None
    options = list(LusClass)
    chosen = st.selectbox(
        "Label",
        options,
        index=options.index(current) if current else None,
        format_func=lambda c: c.label,
        key=f"queue_label_{view.item_id}",
    )
    st.text_area(
        "Reason (needed to change the label)", max_chars=MAX_REASON, key=f"queue_reason_{view.item_id}"
    )
    problem = st.session_state.pop(PROBLEM_KEY, None)
    if problem:
        st.error(problem, icon=":material/error:")
    text = f"Confirm {chosen.label}" if chosen is not None and chosen == current else "Change label"
    save, skip = st.columns(2)
    save.button(  # callbacks run before the next script run, so they act on the item shown here
        text,
        key=f"queue_save_{view.item_id}",
        type="primary",
        disabled=chosen is None,
        width="stretch",
        on_click=_act,
        args=(view, viewer, True),
    )
    skip.button(
        "Skip for now",
        key=f"queue_skip_{view.item_id}",
        icon=":material/skip_next:",
        width="stretch",
        on_click=_act,
        args=(view, viewer, False),
    )


def _act(view: ItemView, viewer: Viewer, resolve: bool) -> None:
    """Resolve (with the chosen label and reason) or skip; the next run shows the outcome."""
    chosen = st.session_state.get(f"queue_label_{view.item_id}")
    try:
        with unit_of_work() as session:
            if not resolve:
                skip_item(session=session, item_id=view.item_id, user_id=viewer.id)
            elif chosen is not None:
                resolve_item(
                    session=session,
                    item_id=view.item_id,
                    user_id=viewer.id,
                    label=LusClass(chosen).value,
                    reason=st.session_state.get(f"queue_reason_{view.item_id}"),
                    expected_label_id=view.label_id,
                )
    except QueueError as exc:  # the item is gone or taken: the page moves on and says why
        st.session_state[REFUSAL_KEY] = str(exc)
        return
    except AnnotationError as exc:  # fixable here, e.g. a missing reason: the form stays as it is
        st.session_state[PROBLEM_KEY] = str(exc)
        return
    st.toast(f"Saved: {class_name(chosen)}." if resolve else "Skipped.", icon=":material/check:")


def show_item(item_id: int, strategy: Strategy, viewer: Viewer, *, total: int) -> None:
    """Draw the item the annotator holds; the claim was made by the caller."""
    try:
        with unit_of_work() as session:
            view = item_view(session=session, item_id=item_id)
    except ViewError as exc:
        st.error(str(exc), icon=":material/error:")
        return
    st.subheader(plain(view.display_name), anchor=False, divider="gray")
    st.caption(
        f"Place {view.rank + 1} of {total} by {strategy.label.lower()} · ranking score {view.score:.3f} "
        "(the higher, the earlier; first in the queue means least like the rest, not necessarily unsure)"
    )
    media, facts = st.columns(LAYOUT, gap="large")
    with media:
        video_tab, cam_tab = st.tabs(["Video", "CAM overlay"])
        with video_tab:
            _play(view.file_path, "The stored video")
        with cam_tab:
            if view.overlay_path:
                _play(view.overlay_path, f"Where the ensemble looks for {class_name(view.overlay_class)}")
            else:
                st.info("No CAMs have been made for this run yet.", icon=":material/hide_image:")
        _frames(view)
    with facts:
        _facts(view)
        _decide(view, viewer)
