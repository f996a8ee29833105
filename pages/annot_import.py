"""The administrator's import of a POCUS-layout folder on the server, with progress and a report.

The import opens one transaction per video itself (a bad file never stops the others), so it is
given the server's cached engine rather than one unit of work.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from pages.common import FORM_PX, Viewer, engine, plain, settings
from reviewer.pocus_import import ImportReport, import_pocus
from reviewer.pocus_metadata import PocusImportError

SHOWN_PROBLEMS = 20  # the full list is in the JSON report below; the page shows the first ones


def pocus_import_form(user: Viewer) -> None:
    """A folder field and the import button; the report stays visible until the next import."""
    st.subheader("Import a POCUS-layout folder", anchor=False)
    with st.form("admin_pocus_form", width=FORM_PX):
        folder = st.text_input(
            "Folder on the server",
            key="admin_pocus_folder",
            placeholder="/data/pocus",
            help="The folder holding dataset_metadata.csv and the videos (any sub-folders).",
        )
        submitted = st.form_submit_button("Import", key="admin_pocus_submit", icon=":material/download:")
    if submitted:
        _run(folder.strip(), user)
    report = st.session_state.get("admin_pocus_report")
    if isinstance(report, ImportReport):
        _show(report)


def _run(folder: str, user: Viewer) -> None:
    if not folder:
        st.error("Enter the folder to import.", icon=":material/error:")
        return
    bar = st.progress(0.0, text="Importing…")

    def progress(_stage: str, done: int, total: int) -> None:
        bar.progress(done / max(total, 1), text=f"Imported {done} of {total} files")

    try:
        report = import_pocus(
            engine=engine(), settings=settings(), root=Path(folder), progress=progress, user_id=user.id
        )
    except PocusImportError as exc:
        st.error(plain(str(exc)), icon=":material/error:")
        return
    finally:
        bar.empty()
    st.session_state["admin_pocus_report"] = report


def _show(report: ImportReport) -> None:
    st.success(
        f"{report.imported} videos imported, {report.skipped_duplicates} already stored, "
        f"{len(report.failed)} failed.",
        icon=":material/check_circle:",
    )
    for name, message in report.failed[:SHOWN_PROBLEMS]:
        st.error(f"**{plain(name)}**: {plain(message)}", icon=":material/error:")
    for warning in report.warnings[:SHOWN_PROBLEMS]:
        st.warning(plain(warning), icon=":material/warning:")
    with st.expander("Full report"):
        st.json(report.as_dict())
