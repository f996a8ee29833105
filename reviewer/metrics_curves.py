"""One class against the rest: its metrics, its ROC and precision-recall curves, and curve bands.

Every per-class value of the paper's Table 2 is a one-vs-rest score, computed by scikit-learn. Some
are undefined in a fold (a class absent from it): those are None with a reason, never NaN, and are
not computed at all, so scikit-learn has nothing to warn about. Curves of different folds have
different points, so to average them each is read off a common grid, as in Born et al.'s figures.
Results are plain lists and dicts so that they can be stored as JSON with the run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal, NamedTuple, TypedDict

import numpy as np
import numpy.typing as npt
from sklearn.metrics import (
    average_precision_score,
    matthews_corrcoef,
    precision_recall_curve,
    precision_recall_fscore_support,
    roc_auc_score,
    roc_curve,
)

CurveKind = Literal["roc", "pr"]
FloatArray = npt.NDArray[np.float64]

GRID = np.linspace(0.0, 1.0, 101)
"""Common x values (FPR for ROC, recall for PR) of the fold-averaged curves, in steps of 0.01."""


class OneVsRest(NamedTuple):
    """One class against the rest: truth, prediction and predicted probability per sample."""

    truth: npt.NDArray[np.bool_]
    pred: npt.NDArray[np.bool_]
    score: FloatArray


_MISSING = {
    "positives": "no true '{name}' sample",
    "negatives": "no sample of another class",
    "predicted": "'{name}' never predicted",
    "not_predicted": "'{name}' predicted for every sample",
    "positives_or_predicted": "no true '{name}' sample and '{name}' never predicted",
}
"""Why a one-vs-rest metric is undefined, by the count that is zero."""

_NEEDS: dict[str, tuple[str, ...]] = {
    "recall": ("positives",),
    "precision": ("predicted",),
    "f1": ("positives_or_predicted",),
    "specificity": ("negatives",),
    "mcc": ("positives", "negatives", "predicted", "not_predicted"),
    "roc_auc": ("positives", "negatives"),
    "average_precision": ("positives",),
}
"""The counts each per-class metric needs to be non-zero; MCC is 0/0 if any margin is empty."""

_SCORERS: dict[str, Callable[[OneVsRest], float]] = {
    "mcc": lambda task: matthews_corrcoef(task.truth, task.pred),
    "roc_auc": lambda task: roc_auc_score(task.truth, task.score),
    "average_precision": lambda task: average_precision_score(task.truth, task.score),
}
"""The other metrics' scorers, called only when defined: scikit-learn warns or raises otherwise."""

CLASS_METRICS: tuple[str, ...] = tuple(_NEEDS)


class Curve(TypedDict):
    """Points of one curve: x = FPR and y = TPR for ROC; x = recall and y = precision for PR."""

    x: list[float]
    y: list[float]


class ClassCurves(TypedDict):
    """Both curves of one class; None where undefined (the report's ``undefined`` says why)."""

    roc: Curve | None
    pr: Curve | None


class Band(TypedDict):
    """A curve averaged over the folds where it is defined: mean and sd of y on :data:`GRID`."""

    grid: list[float]
    mean: list[float]
    sd: list[float]
    n: int


def class_metrics(task: OneVsRest, name: str) -> tuple[dict[str, float | None], dict[str, str]]:
    """Recall (sensitivity), precision, F1, specificity, MCC, ROC-AUC and average precision.

    A metric whose denominator is empty is None: scikit-learn would return NaN, or for MCC a
    conventional 0.0, and either would bias a mean over folds without saying so.

    Args:
        task: The class against the rest.
        name: Class name, used in the reasons.

    Returns:
        ``(values, reasons)``: every metric of :data:`CLASS_METRICS` (None if undefined), and the
        reason for each undefined one.
    """
    counts = {
        "positives": task.truth.sum(),
        "negatives": (~task.truth).sum(),
        "predicted": task.pred.sum(),
        "not_predicted": (~task.pred).sum(),
        "positives_or_predicted": (task.truth | task.pred).sum(),
    }
    reasons = {
        metric: "; ".join(_MISSING[need].format(name=name) for need in needs if counts[need] == 0)
        for metric, needs in _NEEDS.items()
        if any(counts[need] == 0 for need in needs)
    }
    # Specificity is the recall of "not this class", so one call yields four metrics.
    precision, recall, f1, _ = precision_recall_fscore_support(
        task.truth, task.pred, labels=[True, False], average=None, zero_division=np.nan
    )
    ratios = {"recall": recall[0], "precision": precision[0], "f1": f1[0], "specificity": recall[1]}
    values: dict[str, float | None] = {}
    for metric in CLASS_METRICS:
        if metric in reasons:
            values[metric] = None
        elif metric in ratios:
            values[metric] = float(ratios[metric])
        else:
            values[metric] = float(_SCORERS[metric](task))
    return values, reasons


def class_curves(task: OneVsRest) -> ClassCurves:
    """ROC and PR curve points of a class against the rest.

    ROC needs positives and negatives, PR needs positives (the same conditions as ROC-AUC and
    average precision in :func:`class_metrics`, whose reasons explain a None here).

    Args:
        task: The class against the rest.

    Returns:
        The curves, thinned by scikit-learn's ``drop_intermediate`` to keep stored runs small.
    """
    n_positive = int(task.truth.sum())
    roc: Curve | None = None
    pr: Curve | None = None
    if 0 < n_positive < len(task.truth):
        fpr, tpr, _ = roc_curve(task.truth, task.score, drop_intermediate=True)
        roc = Curve(x=fpr.tolist(), y=tpr.tolist())
    if n_positive > 0:
        precision, recall, _ = precision_recall_curve(task.truth, task.score, drop_intermediate=True)
        pr = Curve(x=recall.tolist(), y=precision.tolist())
    return ClassCurves(roc=roc, pr=pr)


def curve_band(curves: Sequence[Curve | None], kind: CurveKind) -> Band | None:
    """Mean and sd (numpy's, ddof 0, as in the paper) over the folds' curves on :data:`GRID`.

    Args:
        curves: One curve per fold; None for folds where the class's curve is undefined.
        kind: Which curve they are, which decides how a curve is read off the grid.

    Returns:
        The band over the defined curves, or None when no fold defines the curve.
    """
    on_grid = [_on_grid(curve, kind) for curve in curves if curve is not None]
    if not on_grid:
        return None
    stacked = np.vstack(on_grid)
    return Band(
        grid=GRID.tolist(),
        mean=stacked.mean(axis=0).tolist(),
        sd=stacked.std(axis=0).tolist(),
        n=len(on_grid),
    )


def _on_grid(curve: Curve, kind: CurveKind) -> FloatArray:
    """Read a curve off the grid.

    ROC is interpolated linearly, which is exact for ROC, and pinned to TPR 0 at FPR 0 as
    scikit-learn's cross-validation example does. PR uses the interpolated precision (the best
    precision at this recall or higher): linear interpolation between PR points would invent
    precisions no threshold reaches (Davis and Goadrich, 2006).
    """
    x = np.asarray(curve["x"], dtype=np.float64)
    y = np.asarray(curve["y"], dtype=np.float64)
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    if kind == "roc":
        values = np.interp(GRID, x, y)
        values[0] = 0.0
        return values
    best_from_here = np.maximum.accumulate(y[::-1])[::-1]
    return best_from_here[np.searchsorted(x, GRID, side="left")]
