"""How a run's early stopping is shown: per-fold loss curves and the epoch each fold's head kept.

Reads the ``"training"`` record that :func:`reviewer.run_folds.fit_folds` adds to
``ModelRun.metrics``, so an administrator can see whether heads stopped early, ran to the epoch
limit, or kept a first-epoch model that never learned. Runs stored before the record existed have
no such key; every function here then returns None. No streamlit here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict

import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative

EpochLog = dict[str, float | None]
"""One epoch of a fold: "epoch", "loss" and, with a validation split, "val_loss", "val_accuracy"."""


class FoldTraining(TypedDict):
    """One fold's entry of ``metrics["training"]``; undefined numbers are stored as None."""

    fold: int
    best_epoch: int
    epochs_run: int
    history: list[EpochLog]


def training_record(metrics: Mapping[str, Any]) -> list[FoldTraining] | None:
    """The per-fold training record of a run, or None for a run stored before it was recorded."""
    record: list[FoldTraining] | None = metrics.get("training") or None
    return record


def training_table(metrics: Mapping[str, Any]) -> pd.DataFrame | None:
    """One row per fold: epochs run, the kept epoch and its validation loss and accuracy.

    Folds are numbered from 1 as in the training progress. Validation values are None when the
    fold had no validation split (it then keeps its last epoch).
    """
    record = training_record(metrics)
    if record is None:
        return None
    rows = []
    for fold in record:
        kept = _kept_epoch(fold)
        rows.append(
            {
                "Fold": fold["fold"] + 1,
                "Epochs run": fold["epochs_run"],
                "Kept epoch": fold["best_epoch"],
                "Validation loss": kept.get("val_loss"),
                "Validation accuracy": kept.get("val_accuracy"),
            }
        )
    return pd.DataFrame(rows).set_index("Fold")


def training_figure(metrics: Mapping[str, Any]) -> go.Figure | None:
    """Training (dashed) and validation (solid) loss per epoch, one colour per fold.

    A marker sits on each fold's kept epoch, on its validation loss (or its training loss when the
    fold had no validation split), so a late stop and an early one read at a glance.
    """
    record = training_record(metrics)
    if record is None:
        return None
    figure = go.Figure()
    for fold in record:
        color = qualitative.Plotly[fold["fold"] % len(qualitative.Plotly)]
        name = f"Fold {fold['fold'] + 1}"
        epochs = [log["epoch"] for log in fold["history"]]
        lines = [("loss", "training", "dash")]
        if any(log.get("val_loss") is not None for log in fold["history"]):
            lines.append(("val_loss", "validation", "solid"))
        for key, label, dash in lines:
            figure.add_trace(
                go.Scatter(
                    x=epochs,
                    y=[log.get(key) for log in fold["history"]],
                    mode="lines",
                    name=f"{name} {label}",
                    line={"color": color, "dash": dash},
                    legendgroup=name,
                )
            )
        kept = _kept_epoch(fold)
        figure.add_trace(
            go.Scatter(
                x=[fold["best_epoch"]],
                y=[kept.get(lines[-1][0])],
                mode="markers",
                name=f"{name} kept epoch",
                marker={"color": color, "size": 11, "symbol": "star"},
                legendgroup=name,
            )
        )
    figure.update_layout(title="Training and validation loss per fold", legend_title="Fold")
    figure.update_xaxes(title="Epoch")
    return figure.update_yaxes(title="Cross-entropy loss")


def _kept_epoch(fold: FoldTraining) -> EpochLog:
    """The history entry of the epoch whose weights the fold's head kept (empty if not logged)."""
    kept = fold["best_epoch"]
    return next((log for log in fold["history"] if log.get("epoch") == kept), {})
