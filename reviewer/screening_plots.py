"""The screening page's probability chart (plotly, no streamlit), in the clinicians' class names."""

from __future__ import annotations

import plotly.graph_objects as go

from reviewer.metrics_plots import class_label

PREDICTED_COLOUR, OTHER_COLOUR = "#d62728", "#9aa5b1"


def probability_figure(probabilities: dict[str, float], predicted: str) -> go.Figure:
    """Horizontal bars of the ensemble's class probabilities, the predicted class highlighted.

    The axis always spans 0-1 so a 0.4 never looks like a certainty.
    """
    names = list(probabilities)
    figure = go.Figure(
        go.Bar(
            x=[probabilities[n] for n in names],
            y=[class_label(n) for n in names],
            orientation="h",
            marker_color=[PREDICTED_COLOUR if n == predicted else OTHER_COLOUR for n in names],
            text=[f"{probabilities[n]:.2f}" for n in names],
            textposition="auto",
        )
    )
    figure.update_layout(
        xaxis={"range": [0, 1], "title": "Probability"},
        yaxis={"autorange": "reversed"},
        height=60 + 40 * len(names),
        margin={"l": 10, "r": 10, "t": 10, "b": 40},
    )
    return figure
