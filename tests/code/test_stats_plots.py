"""Figures draw the numbers of the result objects, and say why when there is nothing to draw."""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from reviewer import stats_plots
from reviewer.stats_data import unblind
from reviewer.stats_locations import MmdResult, PeakRecord, mmd_test, peak_frame
from reviewer.stats_patterns import guess_accuracy, highlight_ratios
from reviewer.stats_plots import (
    confusion_figure,
    highlight_ratio_figure,
    message_figure,
    mmd_null_figure,
    peak_figure,
    preference_figure,
    score_bar_figure,
    score_distribution_figure,
    time_figure,
    video_preference_figure,
)
from reviewer.stats_preference import preference_by_video, preference_test
from reviewer.stats_scores import summarize_scores
from reviewer.stats_times import time_by_position
from tests.code.stock_study import answer
from tests.code.test_stats_patterns import table_5_study

FORBIDDEN = {"streamlit", "sqlmodel", "sqlalchemy", "db"}


def annotation(figure: go.Figure) -> str:
    return str(figure.layout.annotations[0].text)


def scored() -> pd.DataFrame:
    return unblind(
        [
            answer(1, 10, train=1, test=3, prefer="test"),
            answer(2, 11, train=1, test=-2, prefer="train", label="healthy", guess="unsure"),
            answer(3, 12, train=0, test=3, prefer="test", left="test"),
        ]
    )


def test_score_figures() -> None:
    distribution = score_distribution_figure(scored())
    train, test = distribution.data
    assert (train.name, list(train.x), list(train.y)) == (
        "train-CAM",
        list(range(-3, 4)),
        [0, 0, 0, 1, 2, 0, 0],
    )
    assert list(test.y) == [0, 1, 0, 0, 0, 0, 2]
    bars = score_bar_figure(summarize_scores(scored(), by="label", groups=["covid", "healthy", "viral"]))
    assert list(bars.data[1].x) == ["COVID-19", "Healthy"] and list(bars.data[1].y) == [3.0, -2.0]
    assert list(bars.data[0].error_y.array) == [pytest.approx(np.sqrt(0.5)), 0.0]


def test_highlight_ratio_figure_labels_bars_like_the_paper() -> None:
    figure = highlight_ratio_figure(highlight_ratios(table_5_study()))
    test = next(trace for trace in figure.data if trace.name == "test-CAM")
    assert list(test.x) == ["A-lines", "B-lines", "Consolidation", "Pleural line irregularity"]
    assert list(test.text) == ["8/13", "3/12", "17/18", "9/20"]


def test_preference_confusion_and_time_figures() -> None:
    preference = preference_figure(preference_test(scored()))
    assert list(preference.data[0].y) == [2, 1, 0] and list(preference.data[0].text) == ["67%", "33%", "0%"]
    assert "p = 1" in preference.layout.title.text
    confusion = confusion_figure(guess_accuracy(scored()))
    assert list(confusion.data[0].x) == ["COVID-19", "Healthy", "unsure"]
    times = time_figure(time_by_position(scored()))
    assert list(times.data[0].y) == [10.0, 10.0, 10.0]


def test_preference_figures_count_in_the_unit_of_their_test() -> None:
    answers = unblind(
        [
            answer(1, 10, train=1, test=3, prefer="test"),
            answer(2, 11, train=1, test=3, prefer="test"),
            answer(3, 12, train=1, test=1, prefer="equal"),  # a tie: leans neither way
        ]
    )
    figure = video_preference_figure(preference_by_video(answers))
    assert list(figure.data[0].x) == ["test-CAM", "train-CAM", "tied"]
    assert list(figure.data[0].y) == [2, 0, 1] and figure.layout.yaxis.title.text == "videos"
    assert figure.layout.title.text == (
        "Preferred CAM per video (sign test over 2 of 3 videos; 1 tied excluded: p = 0.5)"
    )
    per_answer = preference_figure(preference_test(answers))
    assert per_answer.layout.yaxis.title.text == "answers" and "binomial test" in per_answer.layout.title.text


def test_location_figures() -> None:
    records = [
        PeakRecord(video_id=v, label=label, cam_type="test", peaks=[[v, 2 * v], [v + 1, 2 * v]])
        for v, label in enumerate(["covid", "covid", "healthy", "healthy"])
    ]
    peaks = peak_frame(records)
    figure = peak_figure(peaks)
    assert [type(trace).__name__ for trace in figure.data] == ["Histogram2dContour", "Scatter"] * 2
    assert figure.layout.yaxis.autorange == "reversed"
    result = mmd_test(peaks, "covid", "healthy", n_perm=10)
    null = mmd_null_figure(result)
    assert np.array_equal(null.data[0].x, result.null)
    assert null.layout.shapes[0].x0 == result.observed


@pytest.mark.parametrize(
    ("figure", "message"),
    [
        (lambda: score_distribution_figure(unblind([])), "no scores yet"),
        (lambda: score_bar_figure([]), "no scores to summarise"),
        (lambda: highlight_ratio_figure(highlight_ratios(unblind([]))), "listed none of these patterns"),
        (lambda: preference_figure(preference_test(unblind([]))), "no answers"),
        (lambda: peak_figure(peak_frame([])), "no CAM peak locations"),
        (lambda: mmd_null_figure(MmdResult("covid", "viral", 3, 0, 1, 0, None, None, message="m")), "m"),
        (lambda: time_figure([]), "no answering times"),
        (lambda: confusion_figure(guess_accuracy(unblind([]))), "no answers with a class guess"),
    ],
)
def test_degenerate_results_become_message_figures(figure: Callable[[], go.Figure], message: str) -> None:
    drawn = figure()
    assert message in annotation(drawn) and not drawn.data


def test_message_figure_and_no_streamlit_in_the_stats_modules() -> None:
    """No statistics module imports streamlit; only stats_records, the database boundary, reads the DB."""
    assert annotation(message_figure("x")) == "x"
    for path in Path(stats_plots.__file__).parent.glob("stats_*.py"):
        tree = ast.parse(path.read_text())
        imported = {
            alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
        }
        imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        forbidden = (
            ("streamlit",)
            if path.name == "stats_records.py"
            else ("streamlit", "sqlmodel", "sqlalchemy", "db")
        )
        assert not any(name.startswith(forbidden) for name in imported), path
