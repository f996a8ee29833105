"""Screening: run a finished model ensemble on an uploaded or stored video. A research tool only.

Experts never see this page (their studies are blinded to what the model thinks). The model of a
run is loaded once per server and kept; each screening is one user action.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from pages.common import UPLOAD_TYPES, class_name, plain, require_role, settings, unit_of_work
from reviewer.catalog import list_videos
from reviewer.run_catalog import RunSummary, list_runs
from reviewer.run_uncertainty import PASSES, Progress
from reviewer.screening import Screening, Verdict, overlay_folder, screen_bytes, stored_source
from reviewer.screening_ensemble import RunModel, ScreeningError, load_run_model
from reviewer.screening_plots import probability_figure
from reviewer.screening_progress import Stage, progress_state
from reviewer.settings import Settings
from reviewer.vocab import Role, RunStatus

RESULT_KEY = "screen_result"
CANCELLED_KEY = "screen_cancelled"
MODELS_CACHED = 2  # a run's trunk and heads hold a VGG16: keep few
STORED_LIMIT = 1000
DATE_FORMAT = "%d %b %Y"
DURATION = (
    "The model's answer and heatmap appear below after its first pass (seconds); checking their "
    "stability under small image changes takes about ten times as long (a minute or two per 30 frames "
    "on a small server)."
)
STABILITY_PENDING = "…"
STABILITY_NOTE = "Being checked: see the bar above."
STABILITY_DONE = f"From {PASSES} passes on slightly flipped, rotated and shifted frames."
UPLOAD, STORED = "Upload a video", "A stored video"
WARNING = (
    "**Research tool, not a diagnosis.** These outputs come from a model trained on a small research "
    "data set. They must never be used to diagnose, treat or triage a patient."
)
CONFIDENCE_HELP = (
    "Both confidences are 1 when repeated predictions agree completely and 0 at the largest possible "
    "disagreement. **Model confidence** (epistemic) repeats the prediction with parts of the model "
    "switched off at random: low values mean the model has seen too little like this video. "
    "**Image confidence** (aleatoric) repeats it on slightly flipped, rotated and shifted frames: low "
    "values mean the answer hinges on details of this recording."
)

require_role(Role.ANNOTATOR, Role.RESEARCHER)
home = settings()
st.title("Screening", anchor=False)
st.warning(WARNING, icon=":material/medical_information:")


@st.cache_resource(show_spinner=False, max_entries=MODELS_CACHED)
def _model(database_url: str, run_id: int, _home: Settings) -> RunModel:
    with unit_of_work() as session:
        return load_run_model(session=session, settings=_home, run_id=run_id)


def _cancel() -> None:
    st.session_state[CANCELLED_KEY] = True


@dataclass
class Running:
    """A screening in progress: where it reports its stage, and the panel that shows its verdicts."""

    progress: Progress
    on_verdict: Verdict
    panel: DeltaGenerator
    """Shows the early verdict, then the final one drawn over it: the verdict never blinks out."""
    overlay: Path | None = None
    """The early verdict's overlay video, deleted if the run is stopped before it ends."""


@dataclass(frozen=True)
class Screened:
    """A finished screening and the panel that is to show it."""

    result: Screening
    panel: DeltaGenerator


@contextmanager
def _running() -> Iterator[Running]:
    """A bar and a Cancel button while a screening runs, gone once it ends, above its verdict panel.

    Starting drops the last result, so a cancelled or failed screening never leaves the previous
    video's verdict on show as if it were this one's, and a failed one empties its panel. Cancel needs
    nothing more than its click: Streamlit (fast reruns) starts a new run at once and stops this one
    at its next Streamlit call, the next progress report, so the screening ends within one stage step
    and its early verdict goes with the run that drew it. Screening stores nothing; its one file is
    the overlay video, deleted with a stopped run (even one stopped as the bar is taken away) and with
    the result it belonged to.
    """
    _drop_result()
    slot = st.empty()
    with slot.container():
        bar = st.progress(*progress_state(Stage.LOADING, 1, 1))
        st.caption(DURATION)
        st.button("Cancel", key="screen_cancel", icon=":material/cancel:", on_click=_cancel)
    panel = st.empty()

    def report(stage: str, step: int, total: int) -> None:
        fraction, label = progress_state(stage, step, total)
        bar.progress(fraction, text=label)

    def show_early(verdict: Screening) -> None:
        running.overlay = verdict.overlay_path
        with panel.container():
            _show(verdict, early=True)

    running = Running(report, show_early, panel)
    ended = False
    try:
        yield running
        slot.empty()  # a Cancel can stop the run here too, after the screening itself has ended
        ended = True
    finally:
        if not ended:
            if running.overlay is not None:  # the file goes first: the calls below may stop the run
                running.overlay.unlink(missing_ok=True)
            panel.empty()
            slot.empty()


def _drop_result() -> None:
    """Forget the result on show and delete its overlay video: it belongs to no record."""
    dropped = st.session_state.pop(RESULT_KEY, None)
    if isinstance(dropped, Screening) and dropped.overlay_path is not None:
        dropped.overlay_path.unlink(missing_ok=True)


def _run_name(run: RunSummary) -> str:
    accuracy = "" if run.video_accuracy is None else f" · video accuracy {run.video_accuracy:.2f}"
    return f"Run {run.id} · {run.created_at.strftime(DATE_FORMAT)} · {run.videos} videos{accuracy}"


def _screen_upload(run_id: int) -> Screened | None:
    limit = f"Up to {home.max_upload_mb} MB; {', '.join(UPLOAD_TYPES)}."
    upload = st.file_uploader(
        "Video", type=UPLOAD_TYPES, key="screen_upload", help=limit, max_upload_size=home.max_upload_mb
    )
    st.caption(limit)
    clicked = st.button("Screen", key="screen_upload_go", type="primary", disabled=upload is None)
    if upload is None or not clicked:
        return None
    with _running() as running:
        model = _model(home.database_url, run_id, home)
        result = screen_bytes(
            model=model,
            settings=home,
            data=upload.getvalue(),
            name=upload.name,
            overlay_dir=overlay_folder(home),
            progress=running.progress,
            on_verdict=running.on_verdict,
        )
    return Screened(result, running.panel)


def _screen_stored(run_id: int) -> Screened | None:
    with unit_of_work() as session:
        videos = {v.id: v for v in list_videos(session=session, limit=STORED_LIMIT)}
    if not videos:
        st.info("No videos are stored yet.", icon=":material/video_library:")
        return None
    video_id = st.selectbox(
        "Video",
        list(videos),
        format_func=lambda v: f"{videos[v].display_name} ({class_name(videos[v].label)})",
        key="screen_stored_video",
    )
    if not st.button("Screen", key="screen_stored_go", type="primary"):
        return None
    with _running() as running:
        model = _model(home.database_url, run_id, home)
        with unit_of_work() as session:  # read, then screen with no transaction held for minutes
            stored = stored_source(session=session, settings=home, video_id=video_id)
        result = screen_bytes(
            model=model,
            settings=home,
            data=stored.data,
            name=stored.name,
            options=stored.options,
            overlay_dir=overlay_folder(home),
            progress=running.progress,
            on_verdict=running.on_verdict,
        )
    return Screened(result, running.panel)


def _show(result: Screening, *, early: bool = False) -> None:
    """The verdict; an early one (stability still being checked) says its image confidence is pending.

    The early verdict is drawn in the same run as the final one, so its elements get their own ids.
    """
    chart_key = "screen_probabilities_early" if early else "screen_probabilities"
    st.subheader(plain(result.name), anchor=False, divider="gray")
    for warning in result.warnings:
        st.caption(plain(warning))
    verdict, player = st.columns(2, gap="large")
    with verdict:
        st.metric(f"Model output (run {result.run_id})", class_name(result.predicted_class), border=True)
        st.plotly_chart(probability_figure(result.probabilities, result.predicted_class), key=chart_key)
        model_col, image_col = st.columns(2)
        model_col.metric("Model confidence", f"{result.epistemic:.2f}", help=CONFIDENCE_HELP)
        image = STABILITY_PENDING if result.aleatoric is None else f"{result.aleatoric:.2f}"
        image_col.metric("Image confidence", image, help=CONFIDENCE_HELP)
        # Both verdicts draw the same elements: Streamlit keeps the children of a block drawn over
        # one of its kind, so an element only the early verdict had would outlive it.
        image_col.caption(STABILITY_NOTE if result.aleatoric is None else STABILITY_DONE)
        st.caption(CONFIDENCE_HELP)
    with player:
        if result.overlay_path is not None and result.overlay_path.exists():
            alt = f"Heatmap of the evidence for {class_name(result.predicted_class)}"
            alt += " (stability still being checked)" if early else ""
            st.video(str(result.overlay_path), loop=True, autoplay=True, muted=True, alt=alt)
            st.caption(
                f"Where the evidence for {class_name(result.predicted_class)} lies ({result.frames} frames, "
                "mean CAM of all fold models; clear where the map is low)."
            )


with unit_of_work() as session:
    runs = {run.id: run for run in list_runs(session=session, status=RunStatus.DONE)}
if not runs:
    st.info("No model run has finished yet; train one on the Models page.", icon=":material/model_training:")
    st.stop()
run_id = st.selectbox("Model run", list(runs), format_func=lambda r: _run_name(runs[r]), key="screen_run")
source = st.segmented_control("Source", [UPLOAD, STORED], default=UPLOAD, key="screen_source") or UPLOAD
try:
    screened = _screen_upload(run_id) if source == UPLOAD else _screen_stored(run_id)
except ScreeningError as exc:
    st.error(str(exc), icon=":material/error:")
    screened = None
if st.session_state.pop(CANCELLED_KEY, False):  # a click as the screening ended cancels its result too
    _drop_result()
    st.info("Screening cancelled.", icon=":material/cancel:")
if screened is not None:
    st.session_state[RESULT_KEY] = screened.result
result = st.session_state.get(RESULT_KEY)
if isinstance(result, Screening):
    with (screened.panel if screened is not None else st.empty()).container():
        _show(result)
