"""The JSON shape of a run's metrics (``ModelRun.metrics``), shared by scoring and display.

:mod:`reviewer.metrics` fills it; plots and pages read it. Typed dicts rather than classes because
the value is stored as JSON and read back as plain dicts.
"""

from __future__ import annotations

from typing import Literal, TypedDict

from reviewer.metrics_curves import Band, ClassCurves

Level = Literal["frame", "video_mean", "video_vote"]
LEVELS: tuple[Level, ...] = ("frame", "video_mean", "video_vote")
Matrix = list[list[float | None]]


class Stat(TypedDict):
    """Mean and sd over the folds that define a value; ``n`` says how many did."""

    mean: float | None
    sd: float | None
    n: int


class Confusion(TypedDict):
    """Rows are true classes, columns predicted; normalised cells are None for empty rows/columns."""

    absolute: list[list[int]]
    by_true: Matrix
    by_pred: Matrix


class Report(TypedDict):
    """All metrics of one set of predictions (a fold, or all folds pooled) at one level."""

    n: int
    accuracy: float
    balanced_accuracy: float
    support: dict[str, int]
    per_class: dict[str, dict[str, float | None]]
    undefined: dict[str, dict[str, str]]
    confusion: Confusion
    curves: dict[str, ClassCurves]


class ConfusionStats(TypedDict):
    """Normalised confusion matrices as mean +- sd over folds, cell by cell, as in the paper."""

    by_true: list[list[Stat]]
    by_pred: list[list[Stat]]


class BandPair(TypedDict):
    """Fold-averaged ROC and PR curves of one class."""

    roc: Band | None
    pr: Band | None


class Summary(TypedDict):
    """Mean +- sd over folds of every fold-level value."""

    accuracy: Stat
    balanced_accuracy: Stat
    per_class: dict[str, dict[str, Stat]]
    confusion: ConfusionStats
    curves: dict[str, BandPair]


class LevelMetrics(TypedDict):
    """One level: each fold, everything pooled, and the summary over folds."""

    folds: list[Report]
    pooled: Report
    summary: Summary


class RunMetrics(TypedDict):
    """What :func:`reviewer.metrics.evaluate` returns; ``ModelRun.metrics`` adds one key.

    ``"training"``: what early stopping did per fold (:class:`reviewer.training_plots.FoldTraining`).
    """

    classes: list[str]
    n_folds: int
    levels: dict[Level, LevelMetrics]
