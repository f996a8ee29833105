"""Second-annotator review of labels, and the label history of a video.

The review list shows only labels made by someone else; approving or changing sends back the id of
the history row the reviewer saw (a callback carries the item it was drawn for), so a label changed
meanwhile is refused rather than overwritten. Widget keys carry that row's id: a new label to review
starts with an empty reason.
"""

from __future__ import annotations

import streamlit as st

from pages.common import THUMBNAIL_PX, Viewer, class_name, plain, settings, unit_of_work
from reviewer.annotation import MAX_REASON, AnnotationError, review_label
from reviewer.annotation_history import PendingReview, label_history, pending_reviews, video_audit
from reviewer.catalog import CatalogError, resolve_file, video_detail
from reviewer.vocab import LusClass

ACTION_NAMES = {"set": "Labelled", "approve": "Approved", "change": "Changed"}
TIME_FORMAT = "%Y-%m-%d %H:%M UTC"
DONE_KEY = "annot_review_done"
REFUSED_KEY = "annot_review_refused"


def review_section(user: Viewer) -> None:
    """The labels waiting for this reviewer, one at a time, with approve and change."""
    done = st.session_state.pop(DONE_KEY, None)
    if done:
        st.success(done, icon=":material/check_circle:")
    refused = st.session_state.pop(REFUSED_KEY, None)
    if refused:
        st.error(refused, icon=":material/error:")
    with unit_of_work() as session:
        pending = {p.video_id: p for p in pending_reviews(session=session, reviewer_id=user.id)}
    if not pending:
        st.info("No labels are waiting for your review.", icon=":material/task_alt:")
        return
    st.caption(f"{len(pending)} label(s) by other annotators wait for a second look, oldest first.")
    video_id = st.selectbox(  # by video, so a label changed meanwhile keeps the same video selected
        "Label to review",
        list(pending),
        format_func=lambda v: _pending_name(pending[v]),
        key="annot_review_pick",
    )
    item = pending[video_id]
    _frames(item.video_id)
    approve_col, change_col = st.columns(2, gap="large")
    with approve_col:
        st.markdown(f"Current class: **{class_name(item.label)}**")
        st.button(  # callbacks carry the label drawn here: a label changed since is refused as stale
            "Approve",
            key=f"annot_review_approve_{item.label_id}",
            type="primary",
            icon=":material/thumb_up:",
            on_click=_decide,
            args=(item, user, False),
        )
    with change_col, st.form(f"annot_review_change_{item.label_id}"):
        classes = [c for c in LusClass if c.value != item.label]
        st.selectbox("Change to", classes, format_func=class_name, key=f"annot_review_class_{item.label_id}")
        st.text_input("Reason", max_chars=MAX_REASON, key=f"annot_review_reason_{item.label_id}")
        st.form_submit_button(
            "Change label",
            key=f"annot_review_change_submit_{item.label_id}",
            on_click=_decide,
            args=(item, user, True),
        )
    history_view(item.video_id)


def _pending_name(item: PendingReview) -> str:
    return f"{item.display_name} · {class_name(item.label)} · by {item.labelled_by or 'import'}"


def history_view(video_id: int) -> None:
    """Every label decision on the video and every audited change, with who and when."""
    with unit_of_work() as session:
        labels = label_history(session=session, video_id=video_id)
        audit = video_audit(session=session, video_id=video_id)
    with st.expander(f"Label history ({len(labels)})", expanded=bool(labels)):
        if not labels:
            st.caption("No label decision has been recorded for this video.")
        st.dataframe(
            [
                {
                    "When": e.at.strftime(TIME_FORMAT),
                    "Who": e.user or "—",
                    "Action": ACTION_NAMES[e.action.value],
                    "Class": class_name(e.label),
                    "Reason": e.reason or "",
                }
                for e in labels
            ],
            hide_index=True,
        )
        st.caption("Audit log")
        st.dataframe(
            [{"When": a.at.strftime(TIME_FORMAT), "Who": a.user or "—", "What": a.action} for a in audit],
            hide_index=True,
        )


def _decide(item: PendingReview, user: Viewer, change: bool) -> None:
    """Approve the label ``item`` showed, or change it to the class and reason given in its form."""
    label = reason = None
    if change:
        chosen = st.session_state.get(f"annot_review_class_{item.label_id}")
        label = LusClass(chosen).value if chosen is not None else None
        reason = st.session_state.get(f"annot_review_reason_{item.label_id}")
    try:
        with unit_of_work() as session:
            row = review_label(
                session=session,
                video_id=item.video_id,
                reviewer_id=user.id,
                expected_label_id=item.label_id,
                label=label,
                reason=reason,
            )
            verdict = f"{ACTION_NAMES[row.action]}: {class_name(row.label)}."
    except AnnotationError as exc:
        st.session_state[REFUSED_KEY] = f"{plain(item.display_name)}: {plain(str(exc))}"
        return
    st.session_state[DONE_KEY] = f"{plain(item.display_name)} · {verdict}"


def _frames(video_id: int) -> None:
    try:
        with unit_of_work() as session:
            frames = video_detail(session=session, video_id=video_id).frames
        paths = [str(resolve_file(settings=settings(), relative_path=f.image_path)) for f in frames]
    except CatalogError as exc:
        st.warning(str(exc), icon=":material/warning:")
        return
    if paths:
        st.image(paths, width=THUMBNAIL_PX)
