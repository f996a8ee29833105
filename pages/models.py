"""Models: administrators start training runs and make their CAMs; researchers compare runs and metrics.

Training runs in a background thread (:mod:`reviewer.run_jobs`); this page polls the run row for the
progress bar, so it may be closed and reopened, or watched from another browser, while a run trains.
"""

from __future__ import annotations

import streamlit as st

from pages.common import (
    Viewer,
    class_name,
    engine,
    fragment_guard,
    plain,
    require_role,
    settings,
    unit_of_work,
)
from pages.common import viewer as signed_in
from pages.models_form import config_form
from pages.models_metrics import run_metrics_view
from reviewer.run_catalog import RunSummary, list_runs
from reviewer.run_jobs import JobError, abandon_run, cam_job, is_training_here, start_cams, start_training
from reviewer.training import TrainConfig, TrainingError
from reviewer.vocab import Role, RunStatus

POLL_SECONDS = 2
WATCHING_KEY = "models_watching"
DATE_FORMAT = "%d %b %Y %H:%M"
STATUS_NAMES = {RunStatus.RUNNING: "Training", RunStatus.DONE: "Done", RunStatus.FAILED: "Failed"}

user = require_role(Role.RESEARCHER)
home = settings()
st.title("Models", anchor=False)


def _start(config: TrainConfig, viewer: Viewer) -> None:
    try:
        run_id = start_training(engine=engine(), settings=home, config=config, actor_id=viewer.id)
    except (JobError, TrainingError) as exc:
        st.error(str(exc), icon=":material/error:")
        return
    st.toast(f"Run {run_id} started.", icon=":material/model_training:")


@st.fragment(run_every=POLL_SECONDS)
def _live_progress(viewer: Viewer) -> None:
    """Poll the runs in training; when one ends, redraw the page so the table shows its result."""
    fragment_guard(viewer)
    with unit_of_work() as session:
        running = list_runs(session=session, status=RunStatus.RUNNING)
    was = st.session_state.get(WATCHING_KEY, [])
    st.session_state[WATCHING_KEY] = [run.id for run in running]
    if set(was) - {run.id for run in running}:
        st.rerun(scope="app")
    if not running and viewer.role is Role.ADMIN:
        st.caption("No run is training.")
    for run in running:
        st.progress(run.progress, text=f"Run {run.id}: {plain(run.progress_note or 'starting')}")
        if viewer.role is Role.ADMIN and not is_training_here(run.id):
            _abandon(run.id, viewer)


def _abandon(run_id: int, viewer: Viewer) -> None:
    """A way out for a run whose training process died (it would block new runs for good)."""
    st.caption(f"Run {run_id} is not training in this server; it may run from the command line.")
    if st.button(
        f"Mark run {run_id} as stopped", key=f"models_abandon_{run_id}", icon=":material/stop_circle:"
    ):
        try:
            abandon_run(engine=engine(), run_id=run_id, actor_id=viewer.id)
        except JobError as exc:
            st.error(str(exc), icon=":material/error:")
            return
        st.rerun(scope="app")


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _runs_table(runs: list[RunSummary]) -> None:
    rows = [
        {
            "Run": run.id,
            "Started": run.created_at.strftime(DATE_FORMAT),
            "Status": STATUS_NAMES[run.status],
            "Videos": run.videos,
            "Classes": ", ".join(class_name(c) for c in run.classes),
            "Weights": run.weights,
            "Accuracy (frames)": _share(run.frame_accuracy),
            "Accuracy (videos)": _share(run.video_accuracy),
            "Balanced accuracy (frames)": _share(run.frame_balanced_accuracy),
            "Balanced accuracy (videos)": _share(run.video_balanced_accuracy),
        }
        for run in runs
    ]
    st.dataframe(rows, hide_index=True, key="models_runs_table")
    for run in runs:
        if run.status is RunStatus.FAILED:
            st.caption(f"Run {run.id} failed: {plain(run.error or 'no message')}")


@st.fragment(run_every=POLL_SECONDS)
def _cams(run_id: int) -> None:
    """CAM job of the chosen run: a button for administrators, then its progress."""
    fragment_guard(signed_in())
    job = cam_job(run_id)
    if job is not None and not job.finished:
        st.progress(
            job.done / job.total if job.total else 0.0, text=f"Making CAMs: {job.done} of {job.total} videos"
        )
        return
    if job is not None and job.error:
        st.error(f"Making the CAMs failed: {job.error}", icon=":material/error:")
    elif job is not None:
        st.success(f"{job.assets} CAM assets made for run {run_id}.", icon=":material/check_circle:")
    if st.button("Make CAMs for review", key="models_make_cams", icon=":material/layers:"):
        try:
            start_cams(engine=engine(), settings=home, run_id=run_id)
        except JobError as exc:
            st.error(str(exc), icon=":material/error:")
        st.rerun(scope="fragment")


if user.role is Role.ADMIN:
    form_column, progress_column = st.columns(2, gap="large")
    with form_column:
        new_config = config_form()
    if new_config is not None:
        _start(new_config, user)
    with progress_column:
        st.subheader("Training now", anchor=False)
        _live_progress(user)
else:
    _live_progress(user)

with unit_of_work() as session:
    all_runs = list_runs(session=session)
st.subheader("Runs", anchor=False)
if not all_runs:
    st.info("No model has been trained yet.", icon=":material/model_training:")
    st.stop()
_runs_table(all_runs)
finished = [run.id for run in all_runs if run.status is RunStatus.DONE]
if not finished:
    st.stop()
chosen = st.selectbox("Metrics of run", finished, key="models_chosen_run")
if user.role is Role.ADMIN:
    _cams(chosen)
run_metrics_view(chosen)
