"""Second-annotator review of labels, and the label history of a video.

The review list shows only labels made by someone else; approving or changing sends back the id of
the history row the reviewer saw, so a label changed meanwhile is refused rather than overwritten.
"""

from __future__ import annotations

import streamlit as st

from pages.common import THUMBNAIL_PX, Viewer, class_name, plain, settings, unit_of_work
from reviewer.annotation import AnnotationError, review_label
from reviewer.annotation_history import PendingReview, label_history, pending_reviews, video_audit
from reviewer.catalog import CatalogError, resolve_file, video_detail
from reviewer.vocab import LusClass

ACTION_NAMES = {"set": "Labelled", "approve": "Approved", "change": "Changed"}
TIME_FORMAT = "%Y-%m-%d %H:%M UTC"
DONE_KEY = "annot_review_done"


def review_section(user: Viewer) -> None:
    """The labels waiting for this reviewer, one at a time, with approve and change."""
    done = st.session_state.pop(DONE_KEY, None)
    if done:
        st.success(done, icon=":material/check_circle:")
    with unit_of_work() as session:
        pending = pending_reviews(session=session, reviewer_id=user.id)
    if not pending:
        st.info("No labels are waiting for your review.", icon=":material/task_alt:")
        return
    st.caption(f"{len(pending)} label(s) by other annotators wait for a second look, oldest first.")
    item = st.selectbox(
        "Label to review",
        pending,
        format_func=lambda p: f"{p.display_name} · {class_name(p.label)} · by {p.labelled_by or 'import'}",
        key="annot_review_pick",
    )
    _frames(item.video_id)
    approve_col, change_col = st.columns(2, gap="large")
    with approve_col:
        st.markdown(f"Current class: **{class_name(item.label)}**")
        if st.button("Approve", key="annot_review_approve", type="primary", icon=":material/thumb_up:"):
            _decide(item, user, label=None, reason=None)
    with change_col, st.form("annot_review_change"):
        classes = [c for c in LusClass if c.value != item.label]
        label = st.selectbox("Change to", classes, format_func=class_name, key="annot_review_class")
        reason = st.text_input("Reason", key="annot_review_reason")
        if st.form_submit_button("Change label", key="annot_review_change_submit"):
            _decide(item, user, label=label.value, reason=reason)
    history_view(item.video_id)


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


def _decide(item: PendingReview, user: Viewer, *, label: str | None, reason: str | None) -> None:
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
        st.error(plain(str(exc)), icon=":material/error:")
        return
    st.session_state[DONE_KEY] = f"{plain(item.display_name)} · {verdict}"
    st.rerun()


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
