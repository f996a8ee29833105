"""Metrics of a cross-validated run, as in Born et al.'s Tables 2 and 3.

Every metric is computed per fold, then summarised as mean +- sd over the folds (the paper's
convention, numpy's sd with ddof 0) and pooled over all test predictions. Three levels are scored:
frames, and videos by mean frame probability and by majority vote of the frames. A metric that a
fold cannot define (a class absent from it) is None with a reason, never NaN: the result is valid
JSON for ``ModelRun.metrics`` and a mean over folds never silently counts an undefined value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from sklearn.metrics import accuracy_score, confusion_matrix

from reviewer.metrics_curves import (
    CLASS_METRICS,
    ClassCurves,
    FloatArray,
    OneVsRest,
    class_curves,
    class_metrics,
    curve_band,
)
from reviewer.metrics_types import (
    LEVELS,
    BandPair,
    Confusion,
    ConfusionStats,
    Level,
    LevelMetrics,
    Matrix,
    Report,
    RunMetrics,
    Stat,
    Summary,
)

IntArray = npt.NDArray[np.int64]


class MetricsError(ValueError):
    """Predictions that cannot be scored; the message is safe to show."""


@dataclass(frozen=True, eq=False)
class FoldPredictions:
    """The held-out part of one fold, one row per frame.

    Attributes:
        y_true: True class per frame, as an index into the run's classes.
        proba: Predicted probabilities, shape (frames, classes).
        video_ids: Video of each frame, to score videos as well as frames.
    """

    y_true: IntArray
    proba: FloatArray
    video_ids: IntArray


class _Scored(NamedTuple):
    """True classes, class scores and predicted classes of one level of one fold."""

    y_true: IntArray
    scores: FloatArray
    y_pred: IntArray


def evaluate(folds: Sequence[FoldPredictions], classes: Sequence[str]) -> RunMetrics:
    """Score the held-out predictions of every fold at frame and video level.

    Args:
        folds: Test predictions of each fold, in fold order.
        classes: Class names in the order of the probability columns.

    Returns:
        JSON-ready metrics for ``ModelRun.metrics`` (see :class:`RunMetrics`).

    Raises:
        MetricsError: Fewer than 2 classes, no folds, or predictions that do not fit the classes.
    """
    names = list(classes)
    if len(names) < 2 or len(set(names)) != len(names):
        raise MetricsError("Metrics need at least 2 distinct classes.")
    if not folds:
        raise MetricsError("There are no folds to score.")
    parts: dict[Level, list[_Scored]] = {level: [] for level in LEVELS}
    for index, fold in enumerate(folds):
        frames = _frame_level(fold, len(names), f"Fold {index}")
        by_mean, by_vote = _video_levels(frames, fold.video_ids, f"Fold {index}")
        for level, scored in zip(LEVELS, (frames, by_mean, by_vote), strict=True):
            parts[level].append(scored)
    levels = {level: _level_metrics(scored, names) for level, scored in parts.items()}
    return RunMetrics(classes=names, n_folds=len(folds), levels=levels)


def _frame_level(fold: FoldPredictions, n_classes: int, where: str) -> _Scored:
    """Check one fold's arrays against each other and the classes; predict by highest probability."""
    y_true, proba = np.asarray(fold.y_true), np.asarray(fold.proba, dtype=np.float64)
    if proba.ndim != 2 or proba.shape[1] != n_classes or len(proba) == 0:
        raise MetricsError(f"{where}: expected frames x {n_classes} probabilities, got shape {proba.shape}.")
    if y_true.shape != (len(proba),) or np.shape(fold.video_ids) != (len(proba),):
        raise MetricsError(f"{where}: every frame needs one label and one video id.")
    if not np.isfinite(proba).all():
        raise MetricsError(f"{where}: probabilities must be finite numbers.")
    if not np.issubdtype(y_true.dtype, np.integer) or y_true.min() < 0 or y_true.max() >= n_classes:
        raise MetricsError(f"{where}: labels must be class indices from 0 to {n_classes - 1}.")
    return _Scored(y_true.astype(np.int64), proba, proba.argmax(axis=1))


def _video_levels(frames: _Scored, video_ids: IntArray, where: str) -> tuple[_Scored, _Scored]:
    """Aggregate frames to videos by mean probability, and by majority vote.

    A vote's scores are the share of the video's frames predicting each class; a tie between the
    most voted classes goes to the one with the highest mean probability, so it is never decided
    by class order (only an exact tie in both falls back to the first class).
    """
    videos, frame_to_video = np.unique(np.asarray(video_ids), return_inverse=True)
    labels = np.zeros(len(videos), dtype=np.int64)
    labels[frame_to_video] = frames.y_true
    mixed = videos[frame_to_video[labels[frame_to_video] != frames.y_true]]
    if len(mixed):
        raise MetricsError(f"{where}: frames of one video have different labels, e.g. video {mixed[0]}.")
    n_frames = np.bincount(frame_to_video).astype(np.float64)[:, np.newaxis]
    mean_proba = np.zeros((len(videos), frames.scores.shape[1]))
    np.add.at(mean_proba, frame_to_video, frames.scores)
    mean_proba /= n_frames
    votes = np.zeros_like(mean_proba)
    np.add.at(votes, (frame_to_video, frames.y_pred), 1.0)
    vote_share = votes / n_frames
    leaders = vote_share == vote_share.max(axis=1, keepdims=True)
    vote_pred = np.where(leaders, mean_proba, -np.inf).argmax(axis=1)
    return _Scored(labels, mean_proba, mean_proba.argmax(axis=1)), _Scored(labels, vote_share, vote_pred)


def _level_metrics(parts: Sequence[_Scored], classes: Sequence[str]) -> LevelMetrics:
    """Report each fold, all folds pooled, and mean +- sd over the folds."""
    reports = [_report(part, classes) for part in parts]
    pooled = _Scored(
        np.concatenate([part.y_true for part in parts]),
        np.concatenate([part.scores for part in parts]),
        np.concatenate([part.y_pred for part in parts]),
    )
    return LevelMetrics(folds=reports, pooled=_report(pooled, classes), summary=_summary(reports, classes))


def _report(scored: _Scored, classes: Sequence[str]) -> Report:
    """All metrics of one set of predictions."""
    absolute = confusion_matrix(scored.y_true, scored.y_pred, labels=np.arange(len(classes)))
    per_class: dict[str, dict[str, float | None]] = {}
    undefined: dict[str, dict[str, str]] = {}
    curves: dict[str, ClassCurves] = {}
    for index, name in enumerate(classes):
        task = OneVsRest(scored.y_true == index, scored.y_pred == index, scored.scores[:, index])
        per_class[name], undefined[name] = class_metrics(task, name)
        curves[name] = class_curves(task)
    # Balanced accuracy is the mean recall over the classes present, as in scikit-learn, whose
    # own function would warn about predicted classes that are absent from the fold.
    recalls = [values["recall"] for values in per_class.values() if values["recall"] is not None]
    return Report(
        n=len(scored.y_true),
        accuracy=float(accuracy_score(scored.y_true, scored.y_pred)),
        balanced_accuracy=float(np.mean(recalls)),
        support=dict(zip(classes, absolute.sum(axis=1).tolist(), strict=True)),
        per_class=per_class,
        undefined=undefined,
        confusion=Confusion(
            absolute=absolute.tolist(), by_true=_normalised(absolute, 1), by_pred=_normalised(absolute, 0)
        ),
        curves=curves,
    )


def _normalised(absolute: npt.NDArray[np.int64], axis: int) -> Matrix:
    """Shares of each row (axis 1: by true class) or column (axis 0: by prediction); None if empty."""
    totals = np.broadcast_to(absolute.sum(axis=axis, keepdims=True), absolute.shape)
    return [
        [None if total == 0 else count / total for count, total in zip(counts, row_totals, strict=True)]
        for counts, row_totals in zip(absolute.tolist(), totals.tolist(), strict=True)
    ]


def _summary(reports: Sequence[Report], classes: Sequence[str]) -> Summary:
    """Mean +- sd over folds of every scalar, confusion cell and curve."""
    return Summary(
        accuracy=_stat([report["accuracy"] for report in reports]),
        balanced_accuracy=_stat([report["balanced_accuracy"] for report in reports]),
        per_class={
            name: {
                metric: _stat([report["per_class"][name][metric] for report in reports])
                for metric in CLASS_METRICS
            }
            for name in classes
        },
        confusion=ConfusionStats(
            by_true=_matrix_stat([report["confusion"]["by_true"] for report in reports]),
            by_pred=_matrix_stat([report["confusion"]["by_pred"] for report in reports]),
        ),
        curves={
            name: BandPair(
                roc=curve_band([report["curves"][name]["roc"] for report in reports], "roc"),
                pr=curve_band([report["curves"][name]["pr"] for report in reports], "pr"),
            )
            for name in classes
        },
    )


def _stat(values: Sequence[float | None]) -> Stat:
    """Mean and sd over the defined values; both None when no fold defines the value."""
    defined = [value for value in values if value is not None]
    if not defined:
        return Stat(mean=None, sd=None, n=0)
    return Stat(mean=float(np.mean(defined)), sd=float(np.std(defined)), n=len(defined))


def _matrix_stat(matrices: Sequence[Matrix]) -> list[list[Stat]]:
    """Cell-wise :func:`_stat` over equally shaped matrices."""
    size = len(matrices[0])
    return [[_stat([matrix[row][col] for matrix in matrices]) for col in range(size)] for row in range(size)]
