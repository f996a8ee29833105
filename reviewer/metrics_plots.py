"""How a run's metrics are shown: tables laid out like the paper's, and plotly figures.

Everything here reads the stored :class:`~reviewer.metrics.RunMetrics` (``ModelRun.metrics``), so
the model page and the CLI show a run without recomputing anything. No streamlit here: pages pass
the tables to ``st.dataframe`` and the figures to ``st.plotly_chart``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import hex_to_rgb, qualitative

from reviewer.metrics_curves import CLASS_METRICS, CurveKind
from reviewer.metrics_types import LEVELS, Level, RunMetrics, Stat
from reviewer.vocab import LusClass

Normalise = Literal["none", "true", "pred"]

LEVEL_LABELS: dict[Level, str] = {
    "frame": "Frames",
    "video_mean": "Videos (mean probability)",
    "video_vote": "Videos (majority vote)",
}
METRIC_LABELS: dict[str, str] = {
    "recall": "Recall",
    "precision": "Precision",
    "f1": "F1-score",
    "specificity": "Specificity",
    "mcc": "MCC",
    "roc_auc": "ROC-AUC",
    "average_precision": "Average precision",
}
_CLASS_LABELS = {member.value: member.label for member in LusClass}
_CURVE_TEXTS: dict[CurveKind, tuple[str, str, str, str]] = {
    "roc": ("roc_auc", "ROC curves", "False positive rate", "Sensitivity"),
    "pr": ("average_precision", "Precision-recall curves", "Recall", "Precision"),
}
"""Per curve kind: the metric shown in the legend, the title, and the x and y axis titles."""


def class_label(name: str) -> str:
    """Name of a class as clinicians write it; classes outside the vocabulary keep their name."""
    return _CLASS_LABELS.get(name, name)


def format_stat(stat: Stat, n_folds: int, digits: int = 2) -> str:
    """Write a fold summary as "mean ± sd", flagging values that only some folds define.

    A mean over 3 of 5 folds is not comparable to one over 5, so the count is shown whenever it
    is not all folds; "n/a" means no fold defines the value.
    """
    if stat["mean"] is None or stat["sd"] is None:
        return "n/a"
    text = f"{stat['mean']:.{digits}f} ± {stat['sd']:.{digits}f}"
    return text if stat["n"] == n_folds else f"{text} ({stat['n']}/{n_folds} folds)"


def class_table(metrics: RunMetrics, level: Level = "frame", digits: int = 2) -> pd.DataFrame:
    """Per-class metrics as "mean ± sd" over folds, laid out like the paper's Table 2.

    Args:
        metrics: Output of :func:`reviewer.metrics.evaluate`, e.g. read back from the database.
        level: Frames, or videos by mean probability or by majority vote.
        digits: Decimals shown.

    Returns:
        One row per class (clinical names), one column per metric.
    """
    per_class = metrics["levels"][level]["summary"]["per_class"]
    rows = {
        class_label(name): {
            METRIC_LABELS[metric]: format_stat(per_class[name][metric], metrics["n_folds"], digits)
            for metric in CLASS_METRICS
        }
        for name in metrics["classes"]
    }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("Class")


def overall_table(metrics: RunMetrics, digits: int = 2) -> pd.DataFrame:
    """Accuracy and balanced accuracy per level, to compare frames with videos as in Table 3."""
    rows = {}
    for level in LEVELS:
        summary = metrics["levels"][level]["summary"]
        rows[LEVEL_LABELS[level]] = {
            "Accuracy": format_stat(summary["accuracy"], metrics["n_folds"], digits),
            "Balanced accuracy": format_stat(summary["balanced_accuracy"], metrics["n_folds"], digits),
        }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("Level")


def roc_figure(metrics: RunMetrics, level: Level = "frame") -> go.Figure:
    """ROC curve per class (mean ± sd over folds), with chance as a dashed diagonal."""
    figure = _curve_figure(metrics, level, "roc")
    chance = go.Scatter(
        x=[0, 1], y=[0, 1], mode="lines", name="Chance", line={"dash": "dash", "color": "grey"}
    )
    return figure.add_trace(chance)


def pr_figure(metrics: RunMetrics, level: Level = "frame") -> go.Figure:
    """Precision-recall curve per class (mean ± sd over folds), with average precision in the legend."""
    return _curve_figure(metrics, level, "pr")


def confusion_figure(metrics: RunMetrics, level: Level = "frame", normalise: Normalise = "none") -> go.Figure:
    """Confusion matrix heatmap: true class in rows, predicted class in columns.

    Counts are summed over all folds. Normalised matrices (rows by true class, i.e. sensitivity;
    columns by prediction, i.e. precision) are mean ± sd over the folds, as in the paper, because
    a share of pooled counts would let large folds dominate.

    Args:
        metrics: Output of :func:`reviewer.metrics.evaluate`.
        level: Frames, or videos by mean probability or by majority vote.
        normalise: "none" for counts, "true" by row, "pred" by column.

    Returns:
        A heatmap with each cell's value written on it; undefined cells are blank.
    """
    names = [class_label(name) for name in metrics["classes"]]
    level_metrics = metrics["levels"][level]
    if normalise == "none":
        counts = level_metrics["pooled"]["confusion"]["absolute"]
        z: list[list[float | None]] = [[float(count) for count in row] for row in counts]
        text = [[str(count) for count in row] for row in counts]
        title, zmax = "counts, all folds", None
    else:
        cells = level_metrics["summary"]["confusion"]["by_true" if normalise == "true" else "by_pred"]
        z = [[cell["mean"] for cell in row] for row in cells]
        text = [[format_stat(cell, metrics["n_folds"]) for cell in row] for row in cells]
        title, zmax = f"share of each {'true' if normalise == 'true' else 'predicted'} class, mean ± sd", 1.0
    heatmap = go.Heatmap(
        z=z,
        x=names,
        y=names,
        text=text,
        texttemplate="%{text}",
        colorscale="Blues",
        zmin=0.0,
        zmax=zmax,
        hovertemplate="True: %{y}<br>Predicted: %{x}<br>%{text}<extra></extra>",
    )
    figure = go.Figure(heatmap)
    figure.update_layout(title=f"Confusion matrix, {LEVEL_LABELS[level]}: {title}")
    figure.update_xaxes(title="Predicted class")
    figure.update_yaxes(title="True class", autorange="reversed")
    return figure


def _curve_figure(metrics: RunMetrics, level: Level, kind: CurveKind) -> go.Figure:
    """One mean line and one shaded ± sd band per class; classes without any curve are named."""
    metric, title, x_title, y_title = _CURVE_TEXTS[kind]
    summary = metrics["levels"][level]["summary"]
    figure = go.Figure()
    for index, name in enumerate(metrics["classes"]):
        color = qualitative.Plotly[index % len(qualitative.Plotly)]
        band = summary["curves"][name][kind]
        if band is None:
            figure.add_trace(
                go.Scatter(x=[None], y=[None], name=f"{class_label(name)}: no curve in any fold")
            )
            continue
        score = format_stat(summary["per_class"][name][metric], metrics["n_folds"])
        mean, sd = np.asarray(band["mean"]), np.asarray(band["sd"])
        red, green, blue = hex_to_rgb(color)
        figure.add_trace(
            go.Scatter(
                x=band["grid"] + band["grid"][::-1],
                y=np.clip(mean + sd, 0.0, 1.0).tolist() + np.clip(mean - sd, 0.0, 1.0)[::-1].tolist(),
                fill="toself",
                fillcolor=f"rgba({red}, {green}, {blue}, 0.2)",
                line={"width": 0},
                hoverinfo="skip",
                showlegend=False,
                legendgroup=name,
            )
        )
        figure.add_trace(
            go.Scatter(
                x=band["grid"],
                y=band["mean"],
                mode="lines",
                name=f"{class_label(name)} ({score})",
                line={"color": color},
                legendgroup=name,
            )
        )
    figure.update_layout(
        title=f"{title}, {LEVEL_LABELS[level]}", legend_title=f"Class ({METRIC_LABELS[metric]})"
    )
    figure.update_xaxes(title=x_title, range=[0.0, 1.0])
    return figure.update_yaxes(title=y_title, range=[0.0, 1.02])
