"""The early-stopping record of a run as a figure and a table, from hand-made metrics dicts."""

from __future__ import annotations

from typing import Any

import pytest

from reviewer.training_plots import training_figure, training_table

VALIDATED = {
    "fold": 0,
    "best_epoch": 2,
    "epochs_run": 4,
    "history": [
        {"epoch": 1, "loss": 1.0, "val_loss": 0.9, "val_accuracy": 0.5},
        {"epoch": 2, "loss": 0.8, "val_loss": 0.6, "val_accuracy": 0.75},
        {"epoch": 3, "loss": 0.6, "val_loss": 0.7, "val_accuracy": 0.7},
        {"epoch": 4, "loss": 0.4, "val_loss": 0.8, "val_accuracy": None},
    ],
}
UNVALIDATED = {  # no validation split: every epoch runs and the last one is kept
    "fold": 1,
    "best_epoch": 3,
    "epochs_run": 3,
    "history": [{"epoch": 1, "loss": 1.1}, {"epoch": 2, "loss": 0.9}, {"epoch": 3, "loss": 0.7}],
}
METRICS: dict[str, Any] = {
    "classes": ["covid", "healthy"],
    "n_folds": 2,
    "training": [VALIDATED, UNVALIDATED],
}


def test_each_fold_has_dashed_training_solid_validation_and_a_marker_on_its_kept_epoch() -> None:
    figure = training_figure(METRICS)
    assert figure is not None
    traces = {trace.name: trace for trace in figure.data}
    assert set(traces) == {
        "Fold 1 training",
        "Fold 1 validation",
        "Fold 1 kept epoch",
        "Fold 2 training",
        "Fold 2 kept epoch",
    }
    assert traces["Fold 1 training"].line.dash == "dash" and traces["Fold 1 validation"].line.dash == "solid"
    assert list(traces["Fold 1 validation"].y) == [0.9, 0.6, 0.7, 0.8]
    assert list(traces["Fold 2 training"].x) == [1, 2, 3]
    assert traces["Fold 1 training"].line.color == traces["Fold 1 kept epoch"].marker.color
    assert traces["Fold 1 training"].line.color != traces["Fold 2 training"].line.color
    assert (traces["Fold 1 kept epoch"].x, traces["Fold 1 kept epoch"].y) == ((2,), (0.6,))
    assert (traces["Fold 2 kept epoch"].x, traces["Fold 2 kept epoch"].y) == ((3,), (0.7,))  # training loss


def test_the_table_gives_each_fold_its_kept_epoch_and_validation_scores() -> None:
    table = training_table(METRICS)
    assert table is not None
    assert list(table.index) == [1, 2]
    assert table.loc[1, "Epochs run"] == 4 and table.loc[1, "Kept epoch"] == 2
    assert table.loc[1, "Validation loss"] == pytest.approx(0.6)
    assert table.loc[1, "Validation accuracy"] == pytest.approx(0.75)
    assert (
        table.loc[2, "Kept epoch"] == 3
        and table.loc[2, ["Validation loss", "Validation accuracy"]].isna().all()
    )


@pytest.mark.parametrize("metrics", [{"classes": ["covid"], "n_folds": 2}, {"training": []}])
def test_runs_without_a_training_record_have_no_figure_or_table(metrics: dict[str, Any]) -> None:
    assert training_figure(metrics) is None and training_table(metrics) is None
