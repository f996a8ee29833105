"""The studies page's creation form: a finished run, its videos, the experts and the blinding options.

A separate module only to keep ``pages/studies.py`` short; it holds no state of its own.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import streamlit as st

from pages.common import class_name, unit_of_work
from reviewer.study_admin import RunChoice, run_videos, study_runs
from reviewer.study_setup import (
    DEFAULT_WASHOUT,
    MAX_DESCRIPTION,
    MAX_REREAD_SHARE,
    MAX_SEED,
    MAX_WASHOUT,
    StudyError,
    create_study,
    row_id,
)
from reviewer.users import list_users
from reviewer.vocab import Role

DATE_FORMAT = "%Y-%m-%d %H:%M"
DEFAULT_REREAD_SHARE = 0.1  # the example: one video in ten shown again
REREAD_STEP = 0.05
SELECTIONS = {
    "correct": "Correctly classified (as in the paper)",
    "all": "All videos with both heatmaps",
    "picked": "Hand-picked",
}


DESCRIPTION_LABEL = "Description for the experts"
DESCRIPTION_HELP = "Instructions shown above the study to its experts, as plain text; editable until closing"


class Created(NamedTuple):
    """The study just stored, for the page's notice and picker."""

    id: int
    name: str


def _label(run: RunChoice) -> str:
    when = run.finished_at.strftime(DATE_FORMAT)
    accuracy = f"video accuracy {run.video_accuracy:.0%}" if run.video_accuracy is not None else "no metrics"
    return f"Run {run.run_id} · {when} · {accuracy} · {run.correct} of {run.with_cams} videos correct"


def _video_choice(run_id: int) -> Any:
    mode = st.radio("Videos", list(SELECTIONS), format_func=SELECTIONS.__getitem__, key="studies_videos_mode")
    if mode != "picked":
        return mode
    with unit_of_work() as session:
        videos = {v.video_id: v for v in run_videos(session=session, run_id=run_id)}

    def label(video_id: int) -> str:
        v = videos[video_id]
        return f"{v.name} · {class_name(v.label)}" + ("" if v.correct else " · misclassified")

    return st.multiselect("Hand-picked videos", list(videos), format_func=label, key="studies_videos")


def new_study_form(*, actor_id: int) -> Created | None:
    """The creation form; returns the new draft study once it is stored, else shows why not."""
    with unit_of_work() as session:
        runs = {r.run_id: r for r in study_runs(session=session)}
        experts = {u.id: u.username for u in list_users(session=session, role=Role.EXPERT) if u.active}
    if not runs:
        st.info(
            "A study needs a finished model run with heatmaps: train one (`lusreview train`) and make "
            "its CAMs (`lusreview cams RUN`).",
            icon=":material/model_training:",
        )
        return None
    options = _options(runs, experts)
    if not st.button("Create study", key="studies_create", type="primary"):
        return None
    try:
        with unit_of_work() as session:
            study = create_study(session=session, actor_id=actor_id, **options)
            created = Created(row_id(study), study.name)
    except StudyError as exc:
        st.error(str(exc), icon=":material/error:")
        return None
    return created


def _options(runs: dict[int, RunChoice], experts: dict[int | None, str]) -> dict[str, Any]:
    """The form's widgets in two columns (what is studied, who reads it); values as ``create_study`` takes."""
    what, who = st.columns(2, gap="large")
    with what:
        label = {r: _label(run) for r, run in runs.items()}
        run_id = st.selectbox("Model run", list(runs), format_func=label.__getitem__, key="studies_run")
        name = st.text_input("Study name", key="studies_name")
        description = st.text_area(
            DESCRIPTION_LABEL, max_chars=MAX_DESCRIPTION, help=DESCRIPTION_HELP, key="studies_description"
        )
        selection = _video_choice(run_id)
    with who:
        readers = _readers(experts)
    return {
        "name": name,
        "description": description,
        "run_id": run_id,
        "video_selection": selection,
        **readers,
    }


def _readers(experts: dict[int | None, str]) -> dict[str, Any]:
    chosen = st.multiselect("Experts", list(experts), format_func=experts.__getitem__, key="studies_experts")
    reference = st.selectbox(
        "Reference expert",
        chosen,
        index=None,
        format_func=experts.__getitem__,
        placeholder="The senior expert whose 'patterns visible' answers are ground truth",
        key="studies_reference",
    )
    share_column, washout_column, seed_column = st.columns(3)
    share = share_column.number_input(
        "Hidden re-read share",
        0.0,
        MAX_REREAD_SHARE,
        DEFAULT_REREAD_SHARE,
        REREAD_STEP,
        help="Share of the videos shown a second time near the end, not marked as repeats",
        key="studies_reread",
    )
    washout = washout_column.number_input(
        "Washout",
        0,
        MAX_WASHOUT,
        DEFAULT_WASHOUT,
        help="Least other items before a re-read",
        key="studies_washout",
    )
    seed = seed_column.number_input(
        "Seed", 0, MAX_SEED, 0, help="The same seed gives the same orders and sides", key="studies_seed"
    )
    return {
        "expert_ids": chosen,
        "reference_expert_id": reference,
        "reread_share": float(share),
        "washout": int(washout),
        "seed": int(seed),
    }
