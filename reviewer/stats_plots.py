"""Plotly figures of the study statistics.

Figures take the result objects of the ``stats_*`` modules (raw frames only where the chart is the
raw distribution), so the page, the HTML report and the tests draw the same numbers. Undefined
results become a figure that shows their message instead of an empty or broken chart.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from reviewer.stats_data import CAM_TYPES, CLASSES, SCORE_RANGE, first_reads
from reviewer.stats_locations import MmdResult
from reviewer.stats_patterns import GuessResult, HighlightRatio
from reviewer.stats_preference import PreferenceResult, VideoPreferenceResult
from reviewer.stats_scores import ScoreSummary
from reviewer.stats_times import TimeSummary
from reviewer.vocab import CamKind, LusClass, Pattern, values

CAM_NAMES = {CamKind.TRAIN.value: "train-CAM", CamKind.TEST.value: "test-CAM"}
PATTERNS = frozenset(values(Pattern))
CAM_COLORS = {CamKind.TRAIN.value: "#4c78a8", CamKind.TEST.value: "#f58518"}


def readable(value: str) -> str:
    """Clinicians' name of a class, pattern or CAM type value; other values (names, bins) unchanged."""
    if value in CAM_NAMES:
        return CAM_NAMES[value]
    if value in CLASSES:
        return LusClass(value).label
    if value in PATTERNS:
        return Pattern(value).label
    return value


def message_figure(message: str) -> go.Figure:
    """An empty chart that says why there is nothing to draw."""
    figure = go.Figure()
    figure.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    return figure


def score_distribution_figure(df: pd.DataFrame) -> go.Figure:
    """Counts of each score -3..3 for the train- and the test-CAM side by side (first reads)."""
    data = first_reads(df)
    if data.empty:
        return message_figure("no scores yet")
    figure = go.Figure()
    for kind in CAM_TYPES:
        counts = data.loc[data["cam_type"] == kind, "score"].value_counts().reindex(SCORE_RANGE, fill_value=0)
        figure.add_bar(
            x=list(SCORE_RANGE), y=counts.tolist(), name=CAM_NAMES[kind], marker_color=CAM_COLORS[kind]
        )
    figure.update_layout(
        barmode="group", title="Score distribution", xaxis_title="score", yaxis_title="answers"
    )
    return figure


def _cam_bars(rows: Sequence[ScoreSummary] | Sequence[HighlightRatio], values: str) -> go.Figure:
    """One bar per group and CAM type, train and test side by side; ``values`` names the bar heights."""
    figure = go.Figure()
    for kind in CAM_TYPES:
        mine = [row for row in rows if row.cam_type == kind]
        summaries = [row for row in mine if isinstance(row, ScoreSummary)]
        ratios = [row for row in mine if isinstance(row, HighlightRatio)]
        figure.add_bar(
            x=[readable(s.group) for s in summaries] + [readable(r.pattern) for r in ratios],
            y=[getattr(row, values) for row in mine],
            error_y={"type": "data", "array": [s.sd or 0.0 for s in summaries]} if summaries else None,
            text=[r.fraction for r in ratios] or None,
            name=CAM_NAMES[kind],
            marker_color=CAM_COLORS[kind],
        )
    return figure.update_layout(barmode="group")


def score_bar_figure(summaries: Sequence[ScoreSummary], *, title: str = "Mean score by class") -> go.Figure:
    """Mean score with sd error bars per group (class or expert) and CAM type."""
    defined = [s for s in summaries if s.mean is not None]
    if not defined:
        return message_figure("no scores to summarise")
    figure = _cam_bars(defined, "mean")
    return figure.update_layout(title=title, yaxis={"title": "mean score", "range": [-3, 3]})


def highlight_ratio_figure(
    ratios: Sequence[HighlightRatio], *, title: str = "Pattern highlights"
) -> go.Figure:
    """Share of videos with a pattern in which experts say the CAM highlights it, labelled k/n."""
    defined = [r for r in ratios if r.ratio is not None]
    if not defined:
        return message_figure("the reference expert listed none of these patterns as visible")
    figure = _cam_bars(defined, "ratio")
    return figure.update_layout(title=title, yaxis={"range": [0, 1], "tickformat": ".0%"})


def preference_figure(result: PreferenceResult) -> go.Figure:
    """Answers preferring each CAM type or neither, with their exact binomial test in the title.

    Its ``scope`` says whether the answers are independent (one expert) or pooled (they are not).
    """
    if result.n_answers == 0:
        return message_figure(result.message or "no answers")
    counts = {"test-CAM": result.n_test, "train-CAM": result.n_train, "equal": result.n_equal}
    test = f"binomial test, {result.scope}, equal answers excluded"
    return _preference_bars(counts, "answers", f"Preferred CAM per answer{_tested(test, result.p_value)}")


def video_preference_figure(result: VideoPreferenceResult) -> go.Figure:
    """Videos by their experts' net preference, the unit of the primary sign test named in the title.

    Tied videos lean neither way and are left out of the test, so the title counts the videos it used.
    """
    if result.n_videos == 0:
        return message_figure(result.message or "no answers")
    counts = {"test-CAM": result.n_test, "train-CAM": result.n_train, "tied": result.n_tied}
    tied = f"; {result.n_tied} tied excluded" if result.n_tied else ""
    test = f"sign test over {result.n_test + result.n_train} of {result.n_videos} videos{tied}"
    return _preference_bars(counts, "videos", f"Preferred CAM per video{_tested(test, result.p_value)}")


def _tested(test: str, p_value: float | None) -> str:
    return "" if p_value is None else f" ({test}: p = {p_value:.3g})"


def _preference_bars(counts: dict[str, int], unit: str, title: str) -> go.Figure:
    """Bars of test-CAM, train-CAM and neither, each labelled with its share of all ``unit``."""
    total = sum(counts.values())
    colors = [CAM_COLORS[CamKind.TEST.value], CAM_COLORS[CamKind.TRAIN.value], "#9d9d9d"]
    shares = [f"{count / total:.0%}" for count in counts.values()]
    figure = go.Figure(go.Bar(x=list(counts), y=list(counts.values()), text=shares, marker_color=colors))
    return figure.update_layout(title=title, yaxis_title=unit)


def peak_figure(peaks: pd.DataFrame) -> go.Figure:
    """Per class, the frame-wise CAM peak locations as points over their density contours."""
    classes = [c for c in CLASSES if c in set(peaks["label"])]
    if not classes:
        return message_figure("no CAM peak locations")
    figure = make_subplots(
        rows=1,
        cols=len(classes),
        shared_xaxes="all",  # one image frame for every class, so locations compare
        shared_yaxes="all",
        subplot_titles=[readable(c) for c in classes],
    )
    for column, label in enumerate(classes, start=1):
        points = peaks[peaks["label"] == label]
        density = go.Histogram2dContour(x=points["x"], y=points["y"], colorscale="Blues", showscale=False)
        dots = go.Scatter(
            x=points["x"], y=points["y"], mode="markers", marker={"size": 3, "color": "black", "opacity": 0.4}
        )
        figure.add_trace(density, row=1, col=column)
        figure.add_trace(dots, row=1, col=column)
    figure.update_yaxes(autorange="reversed")  # image rows grow downwards
    figure.update_layout(title="CAM peak locations", showlegend=False)
    return figure


def mmd_null_figure(result: MmdResult) -> go.Figure:
    """Histogram of the permutation null of MMD² with the observed value as a vertical line."""
    if result.observed is None:
        return message_figure(result.message or "MMD undefined")
    figure = go.Figure(go.Histogram(x=result.null, name="permutation null", marker_color="#9d9d9d"))
    figure.add_vline(
        x=result.observed, line_color="#e45756", annotation_text=f"observed, p = {result.p_value:.3g}"
    )
    classes = f"{readable(result.class_a)} vs {readable(result.class_b)}"
    figure.update_layout(title=f"MMD² of peak locations: {classes}", xaxis_title="MMD²", yaxis_title="draws")
    return figure


def time_figure(times: Sequence[TimeSummary], *, title: str = "Median seconds per video") -> go.Figure:
    """Median answering time per group, e.g. position bins to see fatigue."""
    defined = [t for t in times if t.median_seconds is not None]
    if not defined:
        return message_figure("no answering times")
    figure = go.Figure(go.Bar(x=[readable(t.group) for t in defined], y=[t.median_seconds for t in defined]))
    figure.update_layout(title=title, yaxis_title="median seconds")
    return figure


def confusion_figure(result: GuessResult) -> go.Figure:
    """Heatmap of class guesses (columns, with 'unsure') against the label or the model's prediction."""
    if result.n_answers == 0:
        return message_figure(result.message or "no class guesses")
    matrix = result.confusion
    figure = go.Figure(
        go.Heatmap(
            z=matrix.to_numpy(),
            x=[readable(c) for c in matrix.columns],
            y=[readable(c) for c in matrix.index],
            colorscale="Blues",
            texttemplate="%{z}",
        )
    )
    figure.update_layout(
        title=f"Class guesses vs {result.versus}", xaxis_title="guess", yaxis_title=result.versus
    )
    figure.update_yaxes(autorange="reversed")
    return figure
