"""Models: administrators start training runs and make their CAMs; researchers compare runs and metrics.

Training runs in a background thread (:mod:`reviewer.run_jobs`); this page polls the run row for the
progress bar, so it may be closed and reopened, or watched from another browser, while a run trains.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from pages.common import (
    FORM_PX,
    PROBE_NAMES,
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
from reviewer.metrics_plots import (
    LEVEL_LABELS,
    class_table,
    confusion_figure,
    overall_table,
    pr_figure,
    roc_figure,
)
from reviewer.run_catalog import RunNotFound, RunSummary, list_runs, run_metrics
from reviewer.run_jobs import JobError, abandon_run, cam_job, is_training_here, start_cams, start_training
from reviewer.training import INPUT_STEP, LIMITS, PAPER_CLASSES, TrainConfig, TrainingError
from reviewer.training_plots import training_figure, training_table
from reviewer.vocab import LusClass, Probe, Role, RunStatus

POLL_SECONDS = 2
WATCHING_KEY = "models_watching"
DATE_FORMAT = "%d %b %Y %H:%M"
DEFAULTS = TrainConfig()
WEIGHTS = {
    "hed": "HED VGG16 (offline default)",
    "imagenet": "ImageNet VGG16 (the paper's; downloads once)",
    "file": "Local weights file",
}
NORMALISE = {"none": "Counts", "true": "Share of true class", "pred": "Share of predicted class"}
STATUS_NAMES = {RunStatus.RUNNING: "Training", RunStatus.DONE: "Done", RunStatus.FAILED: "Failed"}
TRAINABLE_CLASSES = (*PAPER_CLASSES, LusClass.VIRAL, LusClass.UNINFORMATIVE)
KEPT_EPOCH_TEXT = (
    "Each fold's head keeps the weights of its kept epoch: the one with the lowest validation loss "
    "on held-out training videos (never the fold's test videos)."
)

user = require_role(Role.RESEARCHER)
home = settings()
st.title("Models", anchor=False)


def _number(label: str, name: str, help_text: str, step: int = 1) -> int:
    low, high = LIMITS[name]
    value = st.number_input(
        label, low, high, int(getattr(DEFAULTS, name)), step, key=f"models_{name}", help=help_text
    )
    return int(value)


def _config_form() -> TrainConfig | None:
    """The new-run form; returns the config once submitted (the service validates it again)."""
    with st.form("models_new_run", width=FORM_PX):
        st.subheader("New training run", anchor=False)
        weights = st.selectbox(
            "Backbone weights", list(WEIGHTS), format_func=WEIGHTS.__getitem__, key="models_weights"
        )
        path = st.text_input("Weights file (for a local file)", key="models_weights_path")
        trainable = st.toggle(
            "Fine-tune block5_conv3 (the paper)", DEFAULTS.trainable_conv, key="models_trainable"
        )
        augmentations = _number(
            "Augmented copies per frame (K)", "augmentations", "K = epochs re-creates per-epoch augmentation"
        )
        epochs = _number("Epochs (at most; early stopping)", "epochs", "The paper trains up to 40")
        folds = _number("Folds", "folds", "Videos are split by video, stratified by class")
        size = _number(
            "Input size (px)", "input_size", f"A multiple of {INPUT_STEP}; the paper uses 224", INPUT_STEP
        )
        seed = _number("Seed", "seed", "The same seed and data give the same run")
        probe = st.selectbox("Probe", list(Probe), format_func=PROBE_NAMES.__getitem__, key="models_probe")
        classes = st.multiselect(
            "Classes", TRAINABLE_CLASSES, list(DEFAULTS.classes), format_func=class_name, key="models_classes"
        )
        submitted = st.form_submit_button("Start training", key="models_start", type="primary")
    if not submitted:
        return None
    if weights == "file" and not path.strip():
        st.error("Give the path of the local weights file, or choose other weights.", icon=":material/error:")
        return None
    return TrainConfig(
        weights=path.strip() if weights == "file" else weights,
        trainable_conv=trainable,
        augmentations=augmentations,
        epochs=epochs,
        folds=folds,
        input_size=size,
        seed=seed,
        probe=probe,
        classes=tuple(classes),
    )


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


def _metrics(run_id: int) -> None:
    try:
        with unit_of_work() as session:
            metrics: Any = run_metrics(session=session, run_id=run_id)
    except RunNotFound as exc:
        st.warning(str(exc), icon=":material/warning:")
        return
    level = (
        st.segmented_control(
            "Level",
            list(LEVEL_LABELS),
            format_func=LEVEL_LABELS.__getitem__,
            default="frame",
            key="models_level",
        )
        or "frame"
    )
    st.markdown(f"**Per class** (mean ± sd over {metrics['n_folds']} folds)")
    st.dataframe(class_table(metrics, level), key="models_class_table")
    st.markdown("**Overall**")
    st.dataframe(overall_table(metrics), key="models_overall_table")
    roc, pr, confusion = st.tabs(["ROC", "Precision-recall", "Confusion"])
    roc.plotly_chart(roc_figure(metrics, level), key="models_roc")
    pr.plotly_chart(pr_figure(metrics, level), key="models_pr")
    with confusion:
        norm = st.radio(
            "Show", list(NORMALISE), format_func=NORMALISE.__getitem__, horizontal=True, key="models_norm"
        )
        st.plotly_chart(confusion_figure(metrics, level, norm), key="models_confusion")
    _training(metrics)


def _training(metrics: Any) -> None:
    """What early stopping did in each fold; runs stored before this was recorded say so."""
    with st.expander("Training (early stopping)", icon=":material/trending_down:"):
        figure, table = training_figure(metrics), training_table(metrics)
        if figure is None or table is None:
            st.caption("This run predates the per-fold training record, so there is nothing to show.")
            return
        st.caption(KEPT_EPOCH_TEXT)
        st.plotly_chart(figure, key="models_training")
        st.dataframe(table, key="models_training_table")


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
        new_config = _config_form()
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
_metrics(chosen)
