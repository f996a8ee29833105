"""Statistics of closed expert studies: the paper's section 4.1 for one study, with filters and exports.

Researchers see closed studies only; an administrator may tick "preview" to analyse an open study,
and every number then sits under a warning. The page only lays out what
:func:`reviewer.stats_sections.report_sections` returns, so it shows exactly what the HTML report holds.
"""

from __future__ import annotations

import streamlit as st

from pages.common import class_name, plain, require_role, unit_of_work
from reviewer.stats_data import CAM_TYPES
from reviewer.stats_export import export_stem, html_report, statistics_text, tidy_csv
from reviewer.stats_plots import readable
from reviewer.stats_records import StudyData, analysable_studies, load_study_data
from reviewer.stats_report import Filters, StudyStatistics, compute_statistics
from reviewer.stats_sections import report_sections
from reviewer.vocab import Role

EXPORTS = (
    ("Tidy CSV", tidy_csv, "csv", "text/csv", ":material/table:"),
    ("All statistics (JSON)", statistics_text, "json", "application/json", ":material/data_object:"),
    ("HTML report", html_report, "html", "text/html", ":material/description:"),
)
CACHE_KEY = "stats_computed"  # the last closed study's statistics: closed studies never change


def _pick_study(viewer_id: int, may_preview: bool) -> StudyData | None:
    """The study picker (closed studies; open ones too when an administrator ticks preview)."""
    preview = may_preview and st.checkbox(
        "Preview an open study", key="stats_preview", help="Administrators only; numbers are not final."
    )
    with unit_of_work() as session:
        choices = analysable_studies(session=session, viewer_id=viewer_id, include_open=preview)
    if not choices:
        st.info(
            "No study is closed yet. Once a study is closed, this page shows its scores, tests, agreement "
            "between experts, pattern highlights, reading times and CAM locations.",
            icon=":material/hourglass_empty:",
        )
        return None
    choice = st.selectbox("Study", choices, format_func=lambda c: c.title, key="stats_study")
    try:
        with unit_of_work() as session:
            return load_study_data(
                session=session, study_id=choice.study_id, viewer_id=viewer_id, preview=preview
            )
    except ValueError as exc:  # StatsAccessError, or answers that break the tidy contract
        st.error(plain(str(exc)), icon=":material/block:")
        return None


def _filters(data: StudyData) -> Filters:
    experts, classes, kinds = st.columns(3)
    return Filters(
        experts=tuple(
            experts.multiselect(
                "Experts",
                sorted(set(data.frame["expert_name"])),
                key="stats_experts",
                placeholder="All experts",
            )
        ),
        classes=tuple(
            classes.multiselect(
                "Classes",
                list(data.classes),
                format_func=class_name,
                key="stats_classes",
                placeholder="All classes",
            )
        ),
        cam_types=tuple(
            kinds.multiselect(
                "CAM types", list(CAM_TYPES), format_func=readable, key="stats_cam_types", placeholder="Both"
            )
        ),
    )


def _statistics(data: StudyData, filters: Filters) -> StudyStatistics:
    """Compute once per closed study and filter choice; previews are never cached.

    An open study's answers change until it is closed, so a preview kept here would later be served
    as the closed study's numbers; the state is part of the key as well.
    """
    key = (data.study_id, data.name, data.state, filters)
    cached = st.session_state.get(CACHE_KEY)
    if not data.preview and cached is not None and cached[0] == key:
        stats: StudyStatistics = cached[1]
        return stats
    with st.spinner("Computing statistics (bootstrap and permutation tests)..."):
        stats = compute_statistics(data, filters=filters)
    if not data.preview:
        st.session_state[CACHE_KEY] = (key, stats)
    return stats


def _downloads(stats: StudyStatistics) -> None:
    """The three exports, each made only when its button is clicked (the HTML report is several MB)."""
    stem = export_stem(stats)
    for column, (label, make, suffix, mime, icon) in zip(st.columns(len(EXPORTS)), EXPORTS, strict=True):
        column.download_button(
            label,
            lambda make=make: make(stats),
            f"{stem}.{suffix}",
            mime,
            key=f"stats_download_{suffix}",
            on_click="ignore",
            icon=icon,
        )


def _show(stats: StudyStatistics) -> None:
    for message in stats.messages:
        st.warning(plain(message), icon=":material/warning:")
    frame = stats.frame
    answers, videos, experts = st.columns(3)
    rereads = frame["is_reread"].astype(bool)
    answers.metric(
        "Answers (first reads)",
        frame.loc[~rereads, "study_item_id"].nunique(),
        help=f"Besides: {frame.loc[rereads, 'study_item_id'].nunique()} re-reads, used only for "
        "intra-rater agreement and reading times.",
    )
    videos.metric("Videos", frame["video_id"].nunique())
    experts.metric("Experts", frame["expert_name"].nunique())
    sections = report_sections(stats)
    for tab, section in zip(st.tabs([s.title for s in sections]), sections, strict=True):
        with tab:
            st.caption(section.intro)
            for title, table in section.tables:
                st.markdown(f"**{plain(title)}**")
                st.dataframe(table, hide_index=True)
            for number, figure in enumerate(section.figures):
                st.plotly_chart(figure, key=f"stats_chart_{section.title}_{number}")


viewer = require_role(Role.RESEARCHER)
st.title("Statistics", anchor=False)
study = _pick_study(viewer.id, viewer.role is Role.ADMIN)
if study is None:
    st.page_link("browse.py", label="Meanwhile, browse all videos", icon=":material/video_library:")
    st.stop()
if study.description:  # e.g. that the answers are simulated: it must not pass unnoticed
    st.info(plain(study.description), icon=":material/info:")
results = _statistics(study, _filters(study))
_downloads(results)
_show(results)
