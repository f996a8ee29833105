"""Studies (administrators): create blinded expert studies, open and close them, read their key.

Every action is one call into ``reviewer`` inside one unit of work; refusals come back as
``StudyError`` messages and are shown as they are. The key is only fetched once a study is closed.
Opening a study also starts preparing its videos' clips in the background
(:mod:`reviewer.review_warm`), so experts do not wait on first views. The creation form lives in
:mod:`pages.study_form`.
"""

from __future__ import annotations

from dataclasses import asdict

import streamlit as st

from pages.common import engine, plain, require_role, settings, unit_of_work
from pages.study_form import DATE_FORMAT, DESCRIPTION_HELP, DESCRIPTION_LABEL, new_study_form
from reviewer.review_warm import start_warming
from reviewer.study_admin import StudySummary, balance_report, list_studies
from reviewer.study_setup import MAX_DESCRIPTION, StudyError, close_study, open_study, set_description
from reviewer.study_unblind import key_csv, key_rows
from reviewer.vocab import Role, StudyState

STATE_NAMES = {StudyState.DRAFT: "Draft", StudyState.OPEN: "Open", StudyState.CLOSED: "Closed"}
MOVES = {  # state -> (button, question, confirm button, service, done)
    StudyState.DRAFT: (
        "Open study",
        "Open **{name}**? Its experts can start answering, and the lists can no longer change.",
        "Yes, open it",
        open_study,
        "opened",
    ),
    StudyState.OPEN: (
        "Close study",
        "Close **{name}**? Answers are frozen for good and the key becomes visible.",
        "Yes, close it",
        close_study,
        "closed",
    ),
}
NOTICE_KEY = "studies_notice"
CONFIRM_KEY = "studies_confirm"
PICK_KEY = "studies_pick"
NEXT_PICK_KEY = "studies_pick_next"

admin = require_role(Role.ADMIN)
st.title("Studies", anchor=False)
if notice := st.session_state.pop(NOTICE_KEY, None):
    st.success(notice, icon=":material/check_circle:")


def _done(message: str, pick: int) -> None:
    """Remember what happened and which study to show, then redraw with fresh data."""
    st.session_state[NOTICE_KEY] = message
    st.session_state[NEXT_PICK_KEY] = pick
    st.session_state.pop(CONFIRM_KEY, None)
    st.rerun()


def _overview(studies: list[StudySummary]) -> None:
    rows = [
        {
            "Study": s.name,
            "State": STATE_NAMES[StudyState(s.state)],
            "Run": s.run_id,
            "Experts": len(s.experts),
            "Answered": sum(e.done for e in s.experts) / max(sum(e.items for e in s.experts), 1),
            "Created": s.created_at.strftime(DATE_FORMAT),
        }
        for s in studies
    ]
    answered = st.column_config.ProgressColumn("Answered", format="percent", min_value=0, max_value=1)
    st.dataframe(rows, hide_index=True, column_config={"Answered": answered})


def _progress(study: StudySummary) -> None:
    st.subheader("Progress", anchor=False)
    rows = [
        {
            "Expert": e.username + (" (reference)" if e.reference else ""),
            "Answered": f"{e.done} / {e.items}",
            "Share": e.done / max(e.items, 1),
        }
        for e in study.experts
    ]
    share = st.column_config.ProgressColumn("Share", format="percent", min_value=0, max_value=1)
    st.dataframe(rows, hide_index=True, column_config={"Share": share})


def _balance(study_id: int) -> None:
    st.subheader("Balance check", anchor=False)
    st.caption("Each heatmap type should be on the left in half of an expert's items, give or take one.")
    with unit_of_work() as session:
        report = balance_report(session=session, study_id=study_id)
    rows = [
        {
            "Expert": r.username,
            "Items": r.items,
            "Train-CAM left": r.train_left,
            "Test-CAM left": r.test_left,
            "Hidden re-reads": r.rereads,
            "Balanced": "✓" if r.balanced else "✗",
        }
        for r in report
    ]
    st.dataframe(rows, hide_index=True)


def _actions(study: StudySummary) -> None:
    move = MOVES.get(StudyState(study.state))
    if move is None:
        return
    button, question, confirm, service, done = move
    if st.session_state.get(CONFIRM_KEY) != study.id:
        if st.button(button, key="studies_move", type="primary"):
            st.session_state[CONFIRM_KEY] = study.id
            st.rerun()
        return
    done_items, all_items = sum(e.done for e in study.experts), sum(e.items for e in study.experts)
    answered = f" {done_items} of {all_items} answers are in." if study.state == StudyState.OPEN else ""
    st.warning(question.format(name=plain(study.name)) + answered, icon=":material/warning:")
    yes, no = st.columns(2)
    if no.button("Cancel", key="studies_move_cancel"):
        st.session_state.pop(CONFIRM_KEY)
        st.rerun()
    if yes.button(confirm, key="studies_move_confirm", type="primary"):
        try:
            with unit_of_work() as session:
                service(session=session, study_id=study.id, actor_id=admin.id)
        except StudyError as exc:
            st.session_state.pop(CONFIRM_KEY)
            st.error(str(exc), icon=":material/error:")
        else:
            if service is open_study:  # committed: experts may start while the clips are prepared
                start_warming(engine=engine(), settings=settings(), study_id=study.id)
            _done(f"Study **{plain(study.name)}** {done}.", study.id)


def _description(study: StudySummary) -> None:
    """The experts' instructions: editable while draft or open, then kept as they were answered under."""
    if study.state == StudyState.CLOSED:
        if study.description:
            st.text(study.description)
        return
    key = f"studies_description_{study.id}"
    text = st.text_area(
        DESCRIPTION_LABEL, study.description, max_chars=MAX_DESCRIPTION, help=DESCRIPTION_HELP, key=key
    )
    if not st.button("Save description", key="studies_description_save"):
        return
    try:
        with unit_of_work() as session:
            set_description(session=session, study_id=study.id, description=text, actor_id=admin.id)
    except StudyError as exc:
        st.error(str(exc), icon=":material/error:")
    else:
        st.session_state.pop(key, None)  # show the stored (stripped) text
        _done(f"Description of **{plain(study.name)}** saved.", study.id)


def _key(study: StudySummary) -> None:
    st.subheader("Key", anchor=False)
    with unit_of_work() as session:
        rows = key_rows(session=session, study_id=study.id, viewer=admin.id)
    st.dataframe([asdict(r) for r in rows], hide_index=True)
    st.download_button(
        "Download the key (CSV)",
        key_csv(rows),
        file_name=f"study-{study.id}-key.csv",
        mime="text/csv",
        key="studies_key_csv",
        icon=":material/download:",
    )


def _details(study: StudySummary) -> None:
    reference = plain(next((e.username for e in study.experts if e.reference), "none"))
    st.caption(
        f"{STATE_NAMES[StudyState(study.state)]} · run {study.run_id} · reference expert {reference} · "
        f"re-read share {study.reread_share:.0%} · washout {study.washout} · seed {study.seed}"
    )
    _description(study)
    _progress(study)
    if study.state != StudyState.CLOSED and any(e.expert_id == admin.id for e in study.experts):
        st.caption(
            "You are an expert of this study, so its balance check is shown to you once it is closed: "
            "even counts of sides could hint at what you are about to judge."
        )
    else:
        _balance(study.id)
    _actions(study)
    if study.state == StudyState.CLOSED:
        _key(study)
    else:
        st.caption("The key (which heatmap was on which side) is shown here once the study is closed.")


def _choice(study: StudySummary) -> str:
    return f"{study.name} ({STATE_NAMES[StudyState(study.state)]})"


def _studies_tab() -> None:
    with unit_of_work() as session:
        studies = list_studies(session=session)
    if not studies:
        st.info("No studies yet. Create one in the **New study** tab.", icon=":material/assignment:")
        return
    _overview(studies)
    by_id = {s.id: s for s in studies}
    if (pending := st.session_state.pop(NEXT_PICK_KEY, None)) in by_id:
        st.session_state[PICK_KEY] = pending
    picked = st.selectbox("Study", list(by_id), format_func=lambda i: _choice(by_id[i]), key=PICK_KEY)
    if picked is not None:
        _details(by_id[picked])


studies_tab, new_tab = st.tabs(["Studies", "New study"])
with studies_tab:
    _studies_tab()
with new_tab:
    created = new_study_form(actor_id=admin.id)
    if created is not None:
        _done(f"Draft study **{plain(created.name)}** created; check the balance, then open it.", created.id)
