"""The three exports of a study: the tidy CSV, the JSON of every statistic, and a self-contained HTML report.

The CSV has one row per (study item, expert, CAM side) with the unblinded CAM type and readable
columns (video file, class, expert name), so it opens in a spreadsheet or R without the database.
The HTML report embeds plotly.js once (no CDN): it opens offline, e.g. attached to an e-mail.
"""

from __future__ import annotations

import html
import json

import pandas as pd
import plotly.io as pio

from reviewer.csv_safe import spreadsheet_cell
from reviewer.stats_json import statistics_json
from reviewer.stats_plots import readable
from reviewer.stats_report import StudyStatistics
from reviewer.stats_sections import report_sections
from reviewer.vocab import UNSURE

CSV_COLUMNS = {
    "study_item_id": "study_item_id",
    "position": "position",
    "is_reread": "re_read",
    "reread_of": "re_read_of_item",
    "video_id": "video_id",
    "video_name": "video_file",
    "label": "class",
    "predicted": "model_prediction",
    "expert_id": "expert_id",
    "expert_name": "expert_name",
    "is_reference": "reference_expert",
    "side": "cam_side",
    "cam_type": "cam_type",
    "score": "score",
    "preferred_type": "preferred",
    "class_guess": "class_guess",
    "patterns_visible": "patterns_visible",
    "patterns_highlighted": "patterns_highlighted",
    "seconds_spent": "seconds_spent",
}
READABLE = ("label", "predicted", "class_guess")
MAX_STEM = 120  # file systems take 255 bytes; leave room for the suffix and a browser's "(1)"
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; color: #222; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.5rem; text-align: left; }
.warning { background: #fff3cd; border: 1px solid #e0c060; padding: 0.75rem; }
.description { white-space: pre-wrap; border-left: 3px solid #999; padding-left: 0.75rem; }
"""


def tidy_frame(stats: StudyStatistics) -> pd.DataFrame:
    """The export table: one row per study item, expert and CAM side, ordered by expert and position."""
    frame = stats.frame.sort_values(["expert_name", "position", "side"]).copy()
    for column in READABLE:
        frame[column] = frame[column].map(_class_name)
    for column in ("patterns_visible", "patterns_highlighted"):
        frame[column] = frame[column].map(lambda patterns: "; ".join(readable(p) for p in patterns))
    frame.insert(0, "study", stats.data.name)
    return frame[["study", *CSV_COLUMNS]].rename(columns=CSV_COLUMNS)


def _class_name(value: object) -> str | None:
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    return "Unsure" if value == UNSURE else readable(str(value))


def tidy_csv(stats: StudyStatistics) -> str:
    """The tidy table as CSV text (UTF-8, comma-separated, header row), safe to open in a spreadsheet."""
    text: str = tidy_frame(stats).map(spreadsheet_cell).to_csv(index=False)
    return text


def statistics_text(stats: StudyStatistics) -> str:
    """The JSON of every statistic, indented and with sorted keys so that two exports diff cleanly."""
    return json.dumps(statistics_json(stats), indent=2, sort_keys=True, allow_nan=False)


def html_report(stats: StudyStatistics) -> str:
    """A single HTML file with the study header, warnings, every table and every chart of the page."""
    data = stats.data
    parts = [f"<h1>Study {html.escape(data.name)}: statistics</h1>"]
    parts.append(f"<p>Run {data.run_id} · state {html.escape(data.state)} · {_filters(stats)}</p>")
    if data.description:
        parts.append(f'<p class="description">{html.escape(data.description)}</p>')
    parts += [f'<p class="warning">{html.escape(m)}</p>' for m in stats.messages]
    plotly_js = True  # embed plotly.js with the first chart only
    for section in report_sections(stats):
        parts.append(f"<h2>{html.escape(section.title)}</h2><p>{html.escape(section.intro)}</p>")
        for title, frame in section.tables:
            parts.append(f"<h3>{html.escape(title)}</h3>")
            parts.append(_cells(frame).to_html(index=False, escape=True, border=0))
        for figure in section.figures:
            parts.append(pio.to_html(figure, include_plotlyjs=plotly_js, full_html=False))
            plotly_js = False
    body = "\n".join(parts)
    title = html.escape(f"{data.name}: statistics")
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{STYLE}</style></head><body>\n{body}\n</body></html>\n"
    )


def _cells(frame: pd.DataFrame) -> pd.DataFrame:
    """Numbers to four significant digits and undefined values blank, as a reader wants them printed."""
    return frame.map(lambda v: "" if v is None else f"{v:.4g}" if isinstance(v, float) else v)


def export_stem(stats: StudyStatistics) -> str:
    """A file name stem naming the study and any filter: a filtered export is never taken for the whole.

    Only letters, digits and ``_`` (every other character becomes ``_``), at most ``MAX_STEM`` long.
    """
    parts = [stats.data.name]
    for name, values in (
        ("experts", stats.filters.experts),
        ("classes", stats.filters.classes),
        ("cam", stats.filters.cam_types),
    ):
        if values:
            parts.append(f"{name}-{'-'.join(values)}")
    return "_".join("".join(c if c.isalnum() else "_" for c in part) for part in parts)[:MAX_STEM]


def _filters(stats: StudyStatistics) -> str:
    chosen = [
        f"{name}: {', '.join(readable(v) for v in values)}"
        for name, values in (
            ("experts", stats.filters.experts),
            ("classes", stats.filters.classes),
            ("CAM types", stats.filters.cam_types),
        )
        if values
    ]
    return html.escape("; ".join(chosen) if chosen else "all answers")
