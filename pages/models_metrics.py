"""The Models page's metrics of one run: the paper's tables, ROC / PR / confusion plots, training record.

Figures and tables come from :mod:`reviewer.metrics_plots` and :mod:`reviewer.training_plots`; this
module only lays them out.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from pages.common import unit_of_work
from reviewer.metrics_plots import (
    LEVEL_LABELS,
    class_table,
    confusion_figure,
    overall_table,
    pr_figure,
    roc_figure,
)
from reviewer.run_catalog import RunNotFound, run_metrics
from reviewer.training_plots import training_figure, training_table

NORMALISE = {"none": "Counts", "true": "Share of true class", "pred": "Share of predicted class"}
KEPT_EPOCH_TEXT = (
    "Each fold's head keeps the weights of its kept epoch: the one with the lowest validation loss "
    "on held-out training videos (never the fold's test videos)."
)


def run_metrics_view(run_id: int) -> None:
    """One finished run's metrics at the level the reader picks, as in the paper's Tables 2 and 3."""
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
