"""Highlight ratios (the paper's Table 5), off-target counts and class guesses on hand-built studies."""

from __future__ import annotations

import pandas as pd
import pytest

from reviewer.stats_data import AnswerRecord, unblind
from reviewer.stats_locations import peak_frame
from reviewer.stats_patterns import (
    TARGET_PATTERNS,
    guess_accuracy,
    highlight_ratios,
    model_accuracy,
    off_target_counts,
)
from reviewer.stats_records import StudyData
from reviewer.stats_report import Filters, compute_statistics
from tests.code.stock_study import answer

# Pattern, class, videos the reference expert (E1) saw it in, and test-CAM highlights per expert. The
# paper's row "pleural line" (9/20) is compared with our pattern "pleural line irregularity".
TABLE_5 = [
    ("consolidation", "pneumonia", 18, {1: 17, 2: 17}),
    ("a_lines", "healthy", 13, {1: 6, 2: 10}),
    ("b_lines", "covid", 12, {1: 0, 2: 6}),
    ("pleural_line_irregularity", "covid", 20, {1: 9}),  # the paper's "pleural line"; one expert only
]


def table_5_study() -> pd.DataFrame:
    """Born et al.'s counts; E2 lists no visible pattern, to show that E1 alone sets the denominator."""
    records: list[AnswerRecord] = []
    video = 0
    for pattern, label, n, hits in TABLE_5:
        for index in range(n):
            video += 1
            for expert, k in hits.items():
                records.append(
                    answer(
                        len(records),
                        video,
                        expert,
                        label=label,
                        visible=[pattern] if expert == 1 else [],
                        test_patterns=[pattern] if index < k else [],
                        left="test" if video % 2 else "train",
                    )
                )
    return unblind(records)


@pytest.mark.parametrize(
    ("pattern", "n", "highlighted", "fraction", "ratio"),
    [
        ("consolidation", 18, {"E1": 17, "E2": 17}, "17/18", 17 / 18),
        ("a_lines", 13, {"E1": 6, "E2": 10}, "8/13", 8 / 13),
        ("b_lines", 12, {"E1": 0, "E2": 6}, "3/12", 3 / 12),
        ("pleural_line_irregularity", 20, {"E1": 9}, "9/20", 9 / 20),
    ],
)
def test_table_5_counts_reproduce_the_papers_ratios(
    pattern: str, n: int, highlighted: dict[str, int], fraction: str, ratio: float
) -> None:
    ratios = {(r.pattern, r.cam_type): r for r in highlight_ratios(table_5_study())}
    test = ratios[(pattern, "test")]
    assert (test.n, test.highlighted, test.fraction) == (n, highlighted, fraction)
    assert test.ratio == pytest.approx(ratio)
    # E2 answered other COVID-19 videos but none of the 20 with an irregular pleural line.
    unfinished = {"E2": 20} if pattern == "pleural_line_irregularity" else {}
    assert (test.unfinished, test.n_reference_unfinished) == (unfinished, 0)
    assert test.seen == {name: n for name in highlighted}
    train = ratios[(pattern, "train")]
    assert (train.n, train.ratio, train.fraction) == (n, 0.0, f"0/{n}")


def test_a_pattern_nobody_saw_has_no_ratio() -> None:
    ratios = highlight_ratios(table_5_study())
    assert len(ratios) == 2 * len(TARGET_PATTERNS)
    effusion = next(r for r in ratios if r.pattern == "pleural_effusion")
    assert (effusion.n, effusion.ratio, effusion.mean_k, effusion.fraction) == (0, None, None, None)
    assert effusion.message == "the reference expert saw Pleural effusion in no video"


def test_ratios_per_class() -> None:
    covid = {(r.pattern, r.cam_type): r for r in highlight_ratios(table_5_study(), label="covid")}
    assert covid[("b_lines", "test")].fraction == "3/12"
    assert covid[("pleural_line_irregularity", "test")].fraction == "9/20"
    assert (
        covid[("consolidation", "test")].message
        == "the reference expert saw Consolidation in no video of class COVID-19"
    )
    (viral, *_) = highlight_ratios(table_5_study(), label="viral")
    assert (viral.n, viral.ratio, viral.message) == (0, None, "no videos of class Viral pneumonia")


def test_experts_who_read_part_of_the_videos() -> None:
    frame = unblind(
        [
            answer(1, 10, 1, visible=["a_lines"], test_patterns=["a_lines"]),
            answer(2, 11, 1, visible=["a_lines"]),
            answer(3, 10, 2, test_patterns=["a_lines"]),
        ]
    )
    result = next(r for r in highlight_ratios(frame, patterns=["a_lines"]) if r.cam_type == "test")
    assert (result.n, result.seen, result.highlighted) == (2, {"E1": 2, "E2": 1}, {"E1": 1, "E2": 1})
    # Mean over experts of k_e / seen_e: E1 1/2, E2 1/1; E2's unfinished video is not a "no".
    assert (result.ratio, result.mean_k, result.fraction) == (0.75, 1.0, None)
    assert (result.unfinished, result.n_reference_unfinished) == ({"E2": 1}, 0)
    assert result.message == "left out as unfinished (each expert's share is k/finished): E2 1 of 2"


def test_an_expert_finishing_half_the_videos_all_highlighted_scores_one() -> None:
    records = [answer(v, v, 1, visible=["b_lines"], test_patterns=["b_lines"]) for v in range(4)]
    records += [answer(10 + v, v, 2, test_patterns=["b_lines"]) for v in range(2)]  # E2: 2 of 4, both hit
    result = next(r for r in highlight_ratios(unblind(records), patterns=["b_lines"]) if r.cam_type == "test")
    assert (result.n, result.seen, result.highlighted) == (4, {"E1": 4, "E2": 2}, {"E1": 4, "E2": 2})
    assert result.ratio == 1.0  # not (4/4 + 2/4) / 2 = 0.75
    assert result.unfinished == {"E2": 2}


def test_videos_the_reference_expert_did_not_finish_are_counted_as_left_out() -> None:
    frame = unblind(
        [
            answer(1, 10, 1, visible=["b_lines"], test_patterns=["b_lines"]),
            answer(2, 10, 2, test_patterns=["b_lines"]),
            answer(3, 11, 2, test_patterns=["b_lines"]),  # E1's answer on video 11 is still a draft
        ]
    )
    result = next(r for r in highlight_ratios(frame, patterns=["b_lines"]) if r.cam_type == "test")
    assert (result.n, result.ratio, result.seen, result.unfinished) == (1, 1.0, {"E1": 1, "E2": 1}, {})
    assert result.n_reference_unfinished == 1
    assert result.message == (
        "1 video(s) the reference expert did not finish left out (whether they show the pattern is unknown)"
    )


def test_filtering_out_the_reference_expert_keeps_their_denominator() -> None:
    ratios = highlight_ratios(table_5_study(), experts=["E2"])
    test = {r.pattern: r for r in ratios if r.cam_type == "test"}
    consolidation = test["consolidation"]
    assert (consolidation.n, consolidation.highlighted, consolidation.fraction) == (18, {"E2": 17}, "17/18")
    assert test["a_lines"].ratio == pytest.approx(10 / 13)
    unread = test["pleural_line_irregularity"]  # E2 never read these videos
    assert (unread.n, unread.ratio) == (20, None)
    assert unread.message == "the chosen experts read none of these videos"


def test_without_a_reference_expert() -> None:
    frame = unblind([answer(1, 10, 1, visible=["a_lines"], reference=0)])
    (result, _) = highlight_ratios(frame, patterns=["a_lines"])
    assert (result.ratio, result.message) == (None, "no reference expert answers for the videos")


def test_off_target_counts_by_structure_and_cam() -> None:
    frame = unblind(
        [
            answer(1, 10, 1, test_patterns=["skin"]),
            answer(2, 10, 2, test_patterns=["skin"], left="test"),
            answer(3, 11, 2, train_patterns=["fat", "muscle"]),
            answer(4, 12, 1, test_patterns=["other", "b_lines"]),
        ]
    )
    counts = {(c.structure, c.cam_type): c.n_videos for c in off_target_counts(frame)}
    assert len(counts) == 5 * 3
    assert (counts[("skin", "test")], counts[("skin", "train")], counts[("skin", "any")]) == (1, 0, 1)
    assert (counts[("fat", "train")], counts[("muscle", "train")], counts[("rib_shadow", "any")]) == (1, 1, 0)
    assert (counts[("any", "test")], counts[("any", "train")], counts[("any", "any")]) == (1, 1, 2)


def test_off_target_any_reads_only_the_cam_types_asked_for() -> None:
    frame = unblind([answer(1, 10, 1, train_patterns=["skin"]), answer(2, 11, 1, test_patterns=["fat"])])
    counts = {(c.structure, c.cam_type): c.n_videos for c in off_target_counts(frame, cam_types=["test"])}
    assert {kind for _, kind in counts} == {"test", "any"}
    assert (counts[("skin", "test")], counts[("skin", "any")]) == (0, 0)  # skin only under the train-CAM
    assert (counts[("fat", "any")], counts[("any", "any")]) == (1, 1)


def test_the_report_filters_off_target_and_keeps_unfinished_experts_out_of_the_ratio() -> None:
    records = [answer(v, v, 1, visible=["b_lines"], train_patterns=["skin"]) for v in range(4)]
    records += [answer(10 + v, v, 2, test_patterns=["b_lines"]) for v in range(2)]
    data = StudyData(1, "s", "closed", False, 1, ("covid",), "E1", unblind(records), peak_frame([]))
    stats = compute_statistics(data, filters=Filters(cam_types=("test",)), n_boot=10, n_perm=10)
    off_target = {(c.structure, c.cam_type): c.n_videos for c in stats.off_target}
    assert (off_target[("skin", "test")], off_target[("skin", "any")]) == (0, 0)
    [ratio] = [r for r in stats.highlights if r.pattern == "b_lines" and r.label is None]
    assert (ratio.cam_type, ratio.ratio, ratio.unfinished) == ("test", 0.5, {"E2": 2})  # (0/4 + 2/2) / 2


def guesses() -> pd.DataFrame:
    return unblind(
        [
            answer(1, 10, label="covid", predicted="covid", guess="covid"),
            answer(2, 11, label="covid", predicted="pneumonia", guess="pneumonia"),
            answer(3, 12, label="healthy", predicted="healthy", guess="unsure"),
            answer(4, 13, label="pneumonia", predicted="pneumonia", guess="covid"),
            answer(5, 14, label="healthy", predicted=None, guess="healthy"),
            answer(6, 15, label="covid", predicted="covid", guess=None),
        ]
    )


def test_guesses_against_labels() -> None:
    result = guess_accuracy(guesses())
    assert (result.n_answers, result.n_unsure, result.n_missing, result.n_correct) == (5, 1, 1, 2)
    assert (result.accuracy, result.accuracy_unsure_wrong, result.message) == (0.5, 0.4, None)
    expected = pd.DataFrame(
        [[1, 1, 0, 0], [1, 0, 0, 0], [0, 0, 1, 1]],
        index=["covid", "pneumonia", "healthy"],
        columns=["covid", "pneumonia", "healthy", "unsure"],
    )
    assert (result.confusion.to_numpy() == expected.to_numpy()).all()
    assert list(result.confusion.index) == list(expected.index)
    assert list(result.confusion.columns) == list(expected.columns)


def test_guesses_against_the_model() -> None:
    result = guess_accuracy(guesses(), versus="predicted")
    assert (result.n_answers, result.n_unsure, result.n_missing, result.n_correct) == (4, 1, 2, 2)
    assert (result.accuracy, result.accuracy_unsure_wrong) == (pytest.approx(2 / 3), 0.5)
    assert (
        result.confusion.loc["pneumonia", "covid"] == 1
        and result.confusion.loc["pneumonia", "pneumonia"] == 1
    )


def test_guess_degenerate_cases() -> None:
    unsure = guess_accuracy(unblind([answer(1, 10, guess="unsure")]))
    assert (unsure.accuracy, unsure.accuracy_unsure_wrong, unsure.message) == (
        None,
        0.0,
        "every guess was 'unsure'",
    )
    assert list(unsure.confusion.columns) == ["covid", "unsure"]
    empty = guess_accuracy(unblind([]))
    assert (empty.n_answers, empty.accuracy, empty.message) == (
        0,
        None,
        "no answers with a class guess and a label",
    )


def test_model_accuracy_counts_each_video_once() -> None:
    frame = unblind(
        [
            answer(1, 10, 1, predicted="covid"),
            answer(2, 10, 2, predicted="covid"),
            answer(3, 11, 1, label="healthy", predicted="covid"),
            answer(4, 12, 1, predicted=None),
        ]
    )
    result = model_accuracy(frame)
    assert (result.n_videos, result.n_correct, result.accuracy) == (2, 1, 0.5)
    assert (
        model_accuracy(unblind([answer(1, 10, predicted=None)])).message
        == "no model predictions for these videos"
    )
