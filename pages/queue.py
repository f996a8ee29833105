"""Relabel queue (annotators): the videos a model run doubts most, one at a time, confirmed or corrected.

The annotator picks a finished run and a strategy, ranks the queue, and works through it: each item
is claimed for them in the database (nobody else gets it until they decide, skip or the claim
expires). "Retrain with current labels" trains a new run with the same settings on today's labels
and moves the queue to it when it is done. The item itself is drawn by :mod:`pages.queue_item`.
"""

from __future__ import annotations

from datetime import timedelta

import streamlit as st

from pages.common import Viewer, engine, fragment_guard, require_role, settings, unit_of_work
from pages.queue_item import REFUSAL_KEY, show_item
from reviewer.relabel_claims import QueueError, next_item
from reviewer.relabel_queue import QueueProgress, build_queue, queue_progress
from reviewer.relabel_strategies import Strategy
from reviewer.relabel_view import QueueRun, ViewError, queue_runs, retrain_config, run_state
from reviewer.run_jobs import JobError, start_training
from reviewer.training import TrainingError
from reviewer.vocab import Role, RunStatus

RUN_KEY, STRATEGY_KEY = "queue_run", "queue_strategy"
TRAINING_KEY, SWITCH_KEY = "queue_training", "queue_switch_to"
NOTICE_KEY = "queue_notice"
POLL_SECONDS = 2
DATE_FORMAT = "%d %b %Y %H:%M"
STRATEGIES: list[Strategy] = list(Strategy)
CONTROL_WIDTHS = (3, 3, 2)  # run, strategy, rank button

user = require_role(Role.ANNOTATOR)
home = settings()
st.title("Relabel queue", anchor=False)
if SWITCH_KEY in st.session_state:  # a retraining finished: show its queue (before the widget exists)
    st.session_state[RUN_KEY] = st.session_state.pop(SWITCH_KEY)
if NOTICE_KEY in st.session_state:
    st.success(st.session_state.pop(NOTICE_KEY), icon=":material/check_circle:")
if REFUSAL_KEY in st.session_state:
    st.error(st.session_state.pop(REFUSAL_KEY), icon=":material/error:")


def _run_name(run: QueueRun) -> str:
    when = run.finished_at.strftime(DATE_FORMAT) if run.finished_at else "unfinished"
    return f"Run {run.id} · {when} · {run.videos} videos"


def _rank(run_id: int, strategy: Strategy, viewer: Viewer) -> str | None:
    """Build the queue; returns the refusal to show, if any."""
    try:
        with unit_of_work() as session:
            built = build_queue(session=session, run_id=run_id, strategy=strategy, user_id=viewer.id)
    except QueueError as exc:
        return str(exc)
    st.toast(f"{built.total} videos ranked, {built.done} already resolved.", icon=":material/sort:")
    return None


def _progress(progress: QueueProgress) -> None:
    others = f" · {progress.claimed} being looked at" if progress.claimed else ""
    st.progress(progress.done / progress.total, text=f"{progress.done} of {progress.total} resolved{others}")


def _retrain(run_id: int, viewer: Viewer) -> None:
    try:
        with unit_of_work() as session:
            config = retrain_config(session=session, run_id=run_id)
        new_run = start_training(engine=engine(), settings=home, config=config, actor_id=viewer.id)
    except (JobError, TrainingError, ViewError) as exc:
        st.error(str(exc), icon=":material/error:")
        return
    st.session_state[TRAINING_KEY] = new_run


def _training_status(strategy: Strategy, viewer: Viewer) -> None:
    """Poll the retraining run; when it is done, rank its queue and switch the page to it."""
    fragment_guard(viewer)
    run_id = st.session_state[TRAINING_KEY]
    with unit_of_work() as session:
        state = run_state(session=session, run_id=run_id)
    if state.status is RunStatus.RUNNING:
        st.progress(state.progress, text=state.note or f"Run {run_id} is starting")
        return
    del st.session_state[TRAINING_KEY]
    if state.status is RunStatus.FAILED:
        st.error(f"Run {run_id} failed: {state.error}", icon=":material/error:")
        return
    refusal = _rank(run_id, strategy, viewer)
    st.session_state[SWITCH_KEY] = run_id
    st.session_state[NOTICE_KEY] = f"Run {run_id} is trained; the queue now comes from it."
    if refusal:
        st.session_state[REFUSAL_KEY] = refusal
    st.rerun(scope="app")


with unit_of_work() as session:
    runs = {run.id: run for run in queue_runs(session=session)}
if not runs:
    st.info(
        "No model run has finished yet. Once a model is trained, this page lists the videos whose "
        "labels it doubts most.",
        icon=":material/model_training:",
    )
    st.stop()

run_col, strategy_col, build_col = st.columns(CONTROL_WIDTHS, vertical_alignment="bottom")
run_id = run_col.selectbox("Model run", list(runs), format_func=lambda r: _run_name(runs[r]), key=RUN_KEY)
strategy = strategy_col.selectbox("Strategy", STRATEGIES, format_func=lambda s: s.label, key=STRATEGY_KEY)
st.caption(f"Videos come first where: {strategy.explanation[0].lower()}{strategy.explanation[1:]}")
with unit_of_work() as session:
    progress = queue_progress(session=session, run_id=run_id, strategy=strategy)
build_label = "Re-rank (keeps decisions)" if progress.total else "Rank videos"
if build_col.button(build_label, key="queue_build", icon=":material/sort:", width="stretch"):
    refusal = _rank(run_id, strategy, user)
    if refusal:
        st.error(refusal, icon=":material/error:")
    with unit_of_work() as session:
        progress = queue_progress(session=session, run_id=run_id, strategy=strategy)

if progress.total:
    with unit_of_work() as session:
        item = next_item(
            session=session,
            run_id=run_id,
            strategy=strategy,
            user_id=user.id,
            claim_for=timedelta(minutes=home.relabel_claim_minutes),
        )
        progress = queue_progress(session=session, run_id=run_id, strategy=strategy)
    _progress(progress)
    if item is not None:
        show_item(int(item.id or 0), strategy, user, total=progress.total)
    elif progress.open:
        st.info(
            "Every remaining video is being looked at by someone else; they come back if their "
            "claims expire.",
            icon=":material/group:",
        )
    else:
        st.success(
            "This queue is done: every video has been confirmed or corrected.", icon=":material/done_all:"
        )
else:
    st.info("Rank the videos to start this queue.", icon=":material/sort:")

st.divider()
st.subheader("Retrain with current labels", anchor=False)
st.caption(f"Trains a new run with the settings of run {run_id} on the labels as they are now.")
if st.button(
    "Retrain",
    key="queue_retrain",
    icon=":material/model_training:",
    disabled=TRAINING_KEY in st.session_state,
):
    _retrain(run_id, user)
if TRAINING_KEY in st.session_state:  # poll only while a run trains
    st.fragment(run_every=POLL_SECONDS)(_training_status)(strategy, user)
