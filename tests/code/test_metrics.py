"""Metrics of Born et al.'s Tables 2 and 3 on hand-computed cases, and the figures built from them."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score, roc_auc_score

from reviewer.metrics import FoldPredictions, MetricsError, evaluate
from reviewer.metrics_curves import GRID, Curve, curve_band
from reviewer.metrics_plots import (
    METRIC_LABELS,
    class_table,
    confusion_figure,
    overall_table,
    pr_figure,
    roc_figure,
)
from reviewer.metrics_types import RunMetrics

pytestmark = pytest.mark.filterwarnings("error")

CLASSES = ["covid", "pneumonia", "healthy"]

# Ten frames, each its own video. Predictions: 0 0 1 2 | 1 1 0 | 2 2 1.
HAND_TRUE = [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]
HAND_PROBA = [
    [0.80, 0.15, 0.05],
    [0.60, 0.30, 0.10],
    [0.35, 0.45, 0.20],
    [0.30, 0.20, 0.50],
    [0.10, 0.70, 0.20],
    [0.25, 0.55, 0.20],
    [0.50, 0.40, 0.10],
    [0.05, 0.15, 0.80],
    [0.20, 0.20, 0.60],
    [0.15, 0.50, 0.35],
]
# Per class by hand from TP, FP, FN, TN = covid 2 1 2 5, pneumonia 2 2 1 5, healthy 2 1 1 6.
HAND_EXPECTED = {
    "covid": {
        "recall": 1 / 2,
        "precision": 2 / 3,
        "f1": 4 / 7,
        "specificity": 5 / 6,
        "mcc": 8 / math.sqrt(504),
    },
    "pneumonia": {
        "recall": 2 / 3,
        "precision": 1 / 2,
        "f1": 4 / 7,
        "specificity": 5 / 7,
        "mcc": 8 / math.sqrt(504),
    },
    "healthy": {"recall": 2 / 3, "precision": 2 / 3, "f1": 2 / 3, "specificity": 6 / 7, "mcc": 11 / 21},
}


def _fold(y_true: list[int], proba: list[list[float]], video_ids: list[int] | None = None) -> FoldPredictions:
    ids = list(range(len(y_true))) if video_ids is None else video_ids
    return FoldPredictions(np.array(y_true, dtype=np.int64), np.array(proba), np.array(ids, dtype=np.int64))


def _confident(y_pred: list[int], n_classes: int = 3) -> list[list[float]]:
    """Probabilities of 0.8 for the predicted class, the rest shared."""
    rest = 0.2 / (n_classes - 1)
    return [[0.8 if k == pred else rest for k in range(n_classes)] for pred in y_pred]


HAND = _fold(HAND_TRUE, HAND_PROBA)


def test_hand_computed_per_class_metrics() -> None:
    pooled = evaluate([HAND], CLASSES)["levels"]["frame"]["pooled"]
    for name, expected in HAND_EXPECTED.items():
        for metric, value in expected.items():
            assert pooled["per_class"][name][metric] == pytest.approx(value), (name, metric)
    assert pooled["per_class"]["covid"]["roc_auc"] == pytest.approx(22 / 24)  # 22 of 24 pairs ranked right
    proba = np.array(HAND_PROBA)
    for k, name in enumerate(CLASSES):
        truth = np.array(HAND_TRUE) == k
        assert pooled["per_class"][name]["roc_auc"] == pytest.approx(roc_auc_score(truth, proba[:, k]))
    assert pooled["accuracy"] == pytest.approx(0.6)
    assert pooled["balanced_accuracy"] == pytest.approx((1 / 2 + 2 / 3 + 2 / 3) / 3)
    assert pooled["support"] == {"covid": 4, "pneumonia": 3, "healthy": 3}
    assert pooled["undefined"] == {"covid": {}, "pneumonia": {}, "healthy": {}}


def test_confusion_matrices_absolute_and_normalised_both_ways() -> None:
    confusion = evaluate([HAND], CLASSES)["levels"]["frame"]["pooled"]["confusion"]
    assert confusion["absolute"] == [[2, 1, 1], [1, 2, 0], [0, 1, 2]]
    assert np.allclose(confusion["by_true"], [[1 / 2, 1 / 4, 1 / 4], [1 / 3, 2 / 3, 0], [0, 1 / 3, 2 / 3]])
    assert np.allclose(confusion["by_pred"], [[2 / 3, 1 / 4, 1 / 3], [1 / 3, 2 / 4, 0], [0, 1 / 4, 2 / 3]])


def test_perfect_predictions_score_one_everywhere() -> None:
    y_true = [0, 1, 2, 0, 1, 2]
    frame = evaluate([_fold(y_true, _confident(y_true))], CLASSES)["levels"]["frame"]
    pooled = frame["pooled"]
    assert pooled["accuracy"] == pooled["balanced_accuracy"] == 1.0
    assert all(value == 1.0 for values in pooled["per_class"].values() for value in values.values())
    assert pooled["confusion"]["by_true"] == [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    band = frame["summary"]["curves"]["covid"]
    assert band["roc"] is not None and band["pr"] is not None
    assert band["roc"]["mean"] == [0.0] + [1.0] * (len(GRID) - 1)
    assert band["pr"]["mean"] == [1.0] * len(GRID)


def test_always_wrong_predictions_score_zero_and_negative_mcc() -> None:
    y_true = [0, 1, 2, 0, 1, 2]
    y_pred = [(label + 1) % 3 for label in y_true]
    proba = [
        [0.9 if k == pred else (0.02 if k == label else 0.08) for k in range(3)]
        for label, pred in zip(y_true, y_pred, strict=True)
    ]
    pooled = evaluate([_fold(y_true, proba)], CLASSES)["levels"]["frame"]["pooled"]
    assert pooled["accuracy"] == pooled["balanced_accuracy"] == 0.0
    for values in pooled["per_class"].values():
        assert values["recall"] == values["precision"] == values["f1"] == values["roc_auc"] == 0.0
        assert values["specificity"] == pytest.approx(0.5)
        assert values["mcc"] == pytest.approx(-0.5)  # (0 * 2 - 2 * 2) / sqrt(2 * 2 * 4 * 4)


def test_class_absent_from_a_fold_is_none_with_a_reason_and_left_out_of_the_mean() -> None:
    absent = _fold([0, 0, 1, 1], _confident([0, 1, 1, 1]))  # healthy neither true nor predicted
    metrics = evaluate([HAND, absent], CLASSES)
    fold = metrics["levels"]["frame"]["folds"][1]
    healthy = fold["per_class"]["healthy"]
    assert healthy["specificity"] == 1.0
    assert [metric for metric, value in healthy.items() if value is None] == [
        "recall", "precision", "f1", "mcc", "roc_auc", "average_precision"
    ]  # fmt: skip
    assert fold["undefined"]["healthy"]["recall"] == "no true 'healthy' sample"
    assert fold["undefined"]["healthy"]["precision"] == "'healthy' never predicted"
    assert fold["curves"]["healthy"] == {"roc": None, "pr": None}
    assert fold["confusion"]["by_true"][2] == [None, None, None]
    assert fold["balanced_accuracy"] == pytest.approx(balanced_accuracy_score([0, 0, 1, 1], [0, 1, 1, 1]))
    recall = metrics["levels"]["frame"]["summary"]["per_class"]["healthy"]["recall"]
    assert recall == {"mean": pytest.approx(2 / 3), "sd": 0.0, "n": 1}
    assert class_table(metrics).loc["Healthy", "Recall"] == "0.67 ± 0.00 (1/2 folds)"
    assert json.loads(json.dumps(metrics, allow_nan=False)) == metrics


def test_class_predicted_but_absent_has_zero_precision_and_no_recall() -> None:
    pooled = evaluate([_fold([0, 0, 1, 1], _confident([0, 2, 1, 1]))], CLASSES)["levels"]["frame"]["pooled"]
    healthy = pooled["per_class"]["healthy"]
    assert healthy["precision"] == healthy["f1"] == 0.0
    assert healthy["recall"] is None and healthy["mcc"] is None
    assert pooled["undefined"]["healthy"]["mcc"] == "no true 'healthy' sample"
    assert pooled["balanced_accuracy"] == pytest.approx((1 / 2 + 1) / 2)


def test_mean_and_sd_over_folds_and_pooled() -> None:
    perfect = _fold([0, 1, 2, 0, 1], _confident([0, 1, 2, 0, 1]))
    frame = evaluate([perfect, HAND], CLASSES)["levels"]["frame"]
    assert frame["summary"]["accuracy"] == {"mean": pytest.approx(0.8), "sd": pytest.approx(0.2), "n": 2}
    covid_recall = frame["summary"]["per_class"]["covid"]["recall"]
    assert covid_recall == {"mean": pytest.approx(0.75), "sd": pytest.approx(0.25), "n": 2}
    assert frame["pooled"]["accuracy"] == pytest.approx(11 / 15)
    assert frame["pooled"]["confusion"]["absolute"] == [[4, 1, 1], [1, 4, 0], [0, 1, 3]]
    cell = frame["summary"]["confusion"]["by_true"][0][0]
    assert cell == {"mean": pytest.approx(0.75), "sd": pytest.approx(0.25), "n": 2}


def _video_metrics() -> RunMetrics:
    """Four videos whose mean-probability and majority-vote predictions differ."""
    frames = [
        (1, 0, [0.90, 0.10]), (1, 0, [0.40, 0.60]), (1, 0, [0.45, 0.55]),  # mean: covid, vote: pneumonia 2:1
        (2, 1, [0.90, 0.10]), (2, 1, [0.40, 0.60]),  # vote tie 1:1, mean prefers covid
        (3, 1, [0.60, 0.40]), (3, 1, [0.10, 0.90]),  # vote tie 1:1, mean prefers pneumonia (the 2nd class)
        (4, 1, [0.45, 0.55]), (4, 1, [0.45, 0.55]), (4, 1, [1.00, 0.00]),  # mean: covid, vote: pneumonia
    ]  # fmt: skip
    order = np.random.default_rng(0).permutation(len(frames))  # frames of a video need not be adjacent
    video_ids, y_true, proba = zip(*(frames[i] for i in order), strict=True)
    return evaluate([_fold(list(y_true), [list(p) for p in proba], list(video_ids))], ["covid", "pneumonia"])


def test_video_level_by_mean_probability_and_by_majority_vote() -> None:
    levels = _video_metrics()["levels"]
    assert levels["frame"]["pooled"]["n"] == 10
    by_mean, by_vote = levels["video_mean"]["pooled"], levels["video_vote"]["pooled"]
    assert by_mean["n"] == by_vote["n"] == 4
    assert by_mean["confusion"]["absolute"] == [[1, 0], [2, 1]]
    assert by_vote["confusion"]["absolute"] == [[0, 1], [1, 2]]
    # Vote scores are the share of frames voting pneumonia: 2/3, 1/2, 1/2, 2/3 for truths 0, 1, 1, 1.
    assert by_vote["per_class"]["pneumonia"]["roc_auc"] == pytest.approx(0.5 / 3)


def test_frames_of_one_video_must_share_a_label() -> None:
    with pytest.raises(MetricsError, match="different labels, e.g. video 7"):
        evaluate([_fold([0, 1, 1], _confident([0, 1, 1]), [7, 7, 8])], CLASSES)


@pytest.mark.parametrize(
    ("fold", "classes", "message"),
    [
        (_fold([0, 1], _confident([0, 1], 2)), CLASSES, "frames x 3 probabilities"),
        (_fold([0, 3], _confident([0, 1])), CLASSES, "class indices from 0 to 2"),
        (_fold([0, 1], [[math.nan, 0.5, 0.5], [0.2, 0.3, 0.5]]), CLASSES, "finite"),
        (
            FoldPredictions(np.array([0]), np.array([[0.5, 0.5]]), np.array([1, 2])),
            ["a", "b"],
            "one video id",
        ),
        (HAND, ["covid"], "at least 2 distinct classes"),
    ],
)
def test_predictions_that_do_not_fit_are_refused(
    fold: FoldPredictions, classes: list[str], message: str
) -> None:
    with pytest.raises(MetricsError, match=message):
        evaluate([fold], classes)


def test_interpolated_precision_and_missing_curves_in_bands() -> None:
    # Precision-recall points of truth [0, 1, 1, 0, 1] scored [.1, .9, .8, .3, .2] (scikit-learn's order).
    pr = Curve(x=[1.0, 1.0, 2 / 3, 2 / 3, 1 / 3, 0.0], y=[0.6, 0.75, 2 / 3, 1.0, 1.0, 1.0])
    band = curve_band([pr, None], "pr")
    assert band is not None and band["n"] == 1
    mean = dict(zip(np.round(GRID, 2).tolist(), band["mean"], strict=True))
    assert mean[0.5] == 1.0 and mean[0.9] == 0.75  # best precision at this recall or higher
    assert curve_band([None, None], "roc") is None


def test_tables_are_laid_out_like_the_paper() -> None:
    metrics = evaluate([HAND], CLASSES)
    table = class_table(metrics)
    assert list(table.index) == ["COVID-19", "Bacterial pneumonia", "Healthy"]
    assert list(table.columns) == list(METRIC_LABELS.values())
    assert table.loc["COVID-19", "Recall"] == "0.50 ± 0.00"
    overall = overall_table(metrics)
    assert overall.loc["Frames", "Accuracy"] == "0.60 ± 0.00"
    assert len(overall) == 3


def test_curve_figures_have_a_band_and_a_line_per_class() -> None:
    metrics = evaluate([HAND], CLASSES)
    roc = roc_figure(metrics)
    assert len(roc.data) == 2 * len(CLASSES) + 1
    assert [trace.name for trace in roc.data if trace.showlegend is not False] == [
        "COVID-19 (0.92 ± 0.00)", "Bacterial pneumonia (0.90 ± 0.00)", "Healthy (0.95 ± 0.00)", "Chance"
    ]  # fmt: skip
    assert [trace.fill for trace in roc.data[:2]] == ["toself", None]
    assert len(pr_figure(metrics, level="video_mean").data) == 2 * len(CLASSES)


def test_curve_figure_names_a_class_without_any_curve() -> None:
    metrics = evaluate([_fold([0, 0, 1, 1], _confident([0, 1, 1, 1]))], CLASSES)
    names = [trace.name for trace in pr_figure(metrics).data]
    assert names[-1] == "Healthy: no curve in any fold"


def test_confusion_figures_show_counts_or_fold_means() -> None:
    metrics = evaluate([HAND, _fold([0, 1], _confident([0, 1]))], CLASSES)
    (counts,) = confusion_figure(metrics).data
    assert [list(row) for row in counts.z] == [[3, 1, 1], [1, 3, 0], [0, 1, 2]]
    (by_true,) = confusion_figure(metrics, normalise="true").data
    assert by_true.z[0][0] == pytest.approx(0.75)
    assert by_true.z[2][2] == pytest.approx(2 / 3)  # healthy is absent from fold 2: only fold 1 counts
    assert by_true.text[2][2] == "0.67 ± 0.00 (1/2 folds)"
    (by_pred,) = confusion_figure(metrics, level="video_vote", normalise="pred").data
    assert list(by_pred.x) == ["COVID-19", "Bacterial pneumonia", "Healthy"]
