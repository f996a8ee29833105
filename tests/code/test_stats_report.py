"""Every statistic of a real answered study, its JSON and its exports, parsed back."""

from __future__ import annotations

import dataclasses
import io
import json
import re
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats
from sqlalchemy import Engine

from db.session import session_scope
from reviewer.metrics import FoldPredictions, evaluate
from reviewer.stats_export import CSV_COLUMNS, export_stem, html_report, statistics_text, tidy_csv
from reviewer.stats_json import statistics_json
from reviewer.stats_locations import peak_frame
from reviewer.stats_records import StudyData, load_study_data
from reviewer.stats_report import Filters, StudyStatistics, compute_statistics
from reviewer.stats_sections import report_sections
from tests.code.stock_stats import StatsWorld, answered_study
from tests.code.test_stats_patterns import table_5_study

DRAWS = 50  # bootstrap and permutation draws: enough to exercise them, cheap on a shared CPU


def load(engine: Engine, world: StatsWorld, *, preview: bool = False) -> StudyData:
    with session_scope(engine) as session:
        return load_study_data(
            session=session, study_id=world.study_id, viewer_id=world.admin, preview=preview
        )


def compute(data: StudyData, filters: Filters | None = None) -> StudyStatistics:
    return compute_statistics(data, filters=filters or Filters(), n_boot=DRAWS, n_perm=DRAWS, seed=1)


@pytest.fixture
def two_experts(engine: Engine) -> StudyData:
    return load(engine, answered_study(engine, n_videos=6, experts=2))


def test_statistics_of_a_real_study_match_the_answers(two_experts: StudyData) -> None:
    result = statistics_json(compute(two_experts))
    assert (result["study"]["n_first_reads"], result["study"]["n_rereads"]) == (12, 0)
    assert result["messages"] == []
    train, test = result["scores"]["overall"]
    assert (train["mean"], test["mean"]) == (1.0, 1.75)  # expert 0: 2,2,...; expert 1: 1,2,1,2,1,2
    per_video = result["wilcoxon"]["per_video"]  # mean differences 0.5, 1, 0.5, 1, 0.5, 1
    exact = scipy_stats.wilcoxon([0.5, 1] * 3, method="exact")
    assert (per_video["n_pairs"], per_video["n_nonzero"], per_video["r_plus"]) == (6, 6, 21.0)
    assert per_video["p_value"] == pytest.approx(exact.pvalue) and per_video["alternative"] == "two-sided"
    pooled = result["wilcoxon"]["pooled_pairs_not_independent"]
    direct = scipy_stats.wilcoxon([1] * 9, method=scipy_stats.PermutationMethod())
    assert (pooled["n_pairs"], pooled["n_nonzero"], pooled["p_value"]) == (
        12,
        9,
        pytest.approx(direct.pvalue),
    )
    answers = result["preference"]["pooled_pairs_not_independent"]
    assert answers["n_test"] == 9 and answers["n_equal"] == 3
    videos = result["preference"]["per_video"]  # expert 0 always prefers the test-CAM
    assert (videos["n_videos"], videos["n_test"], videos["p_value"]) == (6, 6, pytest.approx(2 / 2**6))
    assert [e["n_answers"] for e in result["preference"]["by_expert"]] == [6, 6]
    disagreement = result["disagreement"]  # expert 1 says 'equal' where expert 0 prefers the test-CAM
    assert (disagreement["share_opposite"], disagreement["share_any_difference"]) == (0.0, 0.5)
    within = result["agreement"]["within_cam_type"]["pairwise_kappa"]
    assert [(k["cam_type"], k["kappa"]) for k in within] == [("train", None), ("test", 0.0)]
    [kappa] = result["agreement"]["pooled_over_cam_types"]["pairwise_kappa"]
    assert (kappa["cam_type"], kappa["kappa"]) == ("both", pytest.approx(0.5))  # only as train < test
    assert kappa["ci_low"] <= kappa["kappa"] <= kappa["ci_high"]
    b_lines = [h for h in result["highlights"] if h["pattern"] == "b_lines" and h["label"] is None]
    assert {h["cam_type"]: h["fraction"] for h in b_lines} == {"train": "0/2", "test": "2/2"}
    assert result["guesses"]["label"]["accuracy"] == 1.0
    assert (
        result["guesses"]["predicted"]["accuracy"] == 10 / 12
    )  # both experts disagree with the model on one video
    locations = result["locations"]["test"]
    assert [(m["class_a"], m["class_b"]) for m in locations][0] == ("covid", "pneumonia")
    assert all(m["n_draws"] == DRAWS and 0 < m["p_value"] <= 1 for m in locations)
    assert result["model_metrics"] == {}


def test_json_text_has_no_nan_and_parses_back(two_experts: StudyData) -> None:
    text = statistics_text(compute(two_experts))
    assert "NaN" not in text and "Infinity" not in text
    keys = set(json.loads(text))
    assert keys == {
        "study", "filters", "messages", "scores", "wilcoxon", "preference", "disagreement", "agreement",
        "highlights", "off_target", "reader", "guesses", "model_on_study_videos", "locations",
        "model_metrics",
    }  # fmt: skip


def test_tidy_csv_has_one_readable_row_per_item_expert_and_side(two_experts: StudyData) -> None:
    table = pd.read_csv(io.StringIO(tidy_csv(compute(two_experts))))
    assert list(table.columns) == ["study", *CSV_COLUMNS.values()]
    assert len(table) == 6 * 2 * 2
    assert not table.duplicated(["study_item_id", "expert_id", "cam_side"]).any()
    assert set(table["class"]) == {"COVID-19", "Bacterial pneumonia", "Healthy"}
    assert set(table["expert_name"]) == {"Dr. Expert 0", "Dr. Expert 1"}
    assert set(table["cam_type"]) == {"train", "test"} and table["video_file"].str.endswith(".mp4").all()
    covid_test = table[(table["class"] == "COVID-19") & (table["cam_type"] == "test")]
    assert set(covid_test["patterns_highlighted"]) == {"B-lines"}


def test_html_report_is_self_contained_with_every_chart(two_experts: StudyData) -> None:
    report = html_report(compute(two_experts))
    assert "Study Pilot study: statistics" in report
    assert report.count('class="plotly-graph-div') >= 10
    assert not re.search(r"<script[^>]+src=", report), "no external scripts: the report must open offline"
    assert "plotly.js v" in report, "plotly.js is embedded in the file"
    assert "Wilcoxon signed-rank test" in report and "pairs not independent" in report
    assert "both, pooled (secondary)" in report


def test_the_studys_description_heads_the_report_and_a_filtered_export_says_so_in_its_name(
    two_experts: StudyData,
) -> None:
    simulated = replace(two_experts, description="Answers are simulated: <no person> gave them.")
    assert '<p class="description">Answers are simulated: &lt;no person&gt; gave them.</p>' in html_report(
        compute(simulated)
    )
    assert export_stem(compute(two_experts)) == "Pilot_study"
    narrowed = compute(two_experts, Filters(experts=("Dr. Expert 1",), cam_types=("test",)))
    assert export_stem(narrowed) == "Pilot_study_experts_Dr__Expert_1_cam_test"


def test_filters_narrow_the_answers(two_experts: StudyData) -> None:
    stats = compute(two_experts, Filters(experts=("Dr. Expert 1",), classes=("covid",), cam_types=("test",)))
    result = statistics_json(stats)
    assert result["study"]["n_first_reads"] == 2 and result["study"]["classes"] == ["covid"]
    assert [s["cam_type"] for s in result["scores"]["overall"]] == ["test"]
    assert result["wilcoxon"]["per_video"]["n_pairs"] == 2  # paired tests always compare both CAM types
    agreement = result["agreement"]
    assert [a["cam_type"] for a in agreement["within_cam_type"]["krippendorff_alpha"]] == ["test"]
    assert agreement["pooled_over_cam_types"] == {"pairwise_kappa": [], "krippendorff_alpha": []}
    assert set(result["locations"]) == {"test"}
    assert "Only one expert answered" in " ".join(result["messages"])


def test_degenerate_single_expert_study_gives_messages_not_nan(engine: Engine) -> None:
    data = load(engine, answered_study(engine, n_videos=3, experts=1))
    stats = compute(data)
    result = statistics_json(stats)
    assert result["messages"] == [
        "Only one expert answered: there is no agreement between experts to compute."
    ]
    within = result["agreement"]["within_cam_type"]
    assert [a["alpha"] for a in within["krippendorff_alpha"]] == [None, None]
    assert "fewer than two experts" in within["pairwise_kappa"][0]["message"]
    assert result["disagreement"]["message"] == "no video was read by two or more experts"
    nobody = [h for h in result["highlights"] if h["pattern"] == "consolidation" and h["label"] is None]
    assert nobody[0]["message"] == "the reference expert saw Consolidation in no video"
    assert "NaN" not in statistics_text(stats) and "Only one expert answered" in html_report(stats)


def test_all_differences_zero_and_a_class_without_videos(engine: Engine) -> None:
    data = load(engine, answered_study(engine, n_videos=2, experts=1))  # covid and pneumonia only
    flat = data.frame.assign(score=1)
    stats = compute(StudyData(**{**data.__dict__, "frame": flat}))
    result = statistics_json(stats)
    assert (
        result["wilcoxon"]["per_video"]["message"]
        == "all differences are zero: the Wilcoxon test is undefined"
    )
    healthy = [row for row in result["scores"]["by_class"] if row["label"] == "healthy"]
    assert healthy[0]["message"] == "no videos of class healthy" and healthy[0]["test_mean"] is None
    assert [m["message"] for m in result["locations"]["test"] if m["class_b"] == "healthy"][0] == (
        "no peak locations for class healthy"
    )


def test_preview_is_said_everywhere(engine: Engine) -> None:
    data = load(engine, answered_study(engine, n_videos=3, experts=2, close=False), preview=True)
    stats = compute(data)
    assert statistics_json(stats)["study"]["preview"] is True
    assert "Preview: study 'Pilot study' is open" in statistics_json(stats)["messages"][0]
    assert "Preview: study" in html_report(stats)


def test_model_metrics_of_the_run_appear_in_the_report(two_experts: StudyData) -> None:
    rng = np.random.default_rng(0)
    folds = []
    for fold in range(2):
        y_true = np.repeat([0, 1, 2], 4)
        proba = rng.dirichlet(np.ones(3), size=12) + np.eye(3)[y_true]
        folds.append(
            FoldPredictions(y_true, proba / proba.sum(axis=1, keepdims=True), np.arange(12) // 2 + 10 * fold)
        )
    metrics = dict(evaluate(folds, ["covid", "pneumonia", "healthy"]))
    stats = compute(dataclasses.replace(two_experts, run_metrics=json.loads(json.dumps(metrics))))
    [model] = [s for s in report_sections(stats) if s.title == "Model metrics"]
    assert [title for title, _ in model.tables] == ["Accuracy per level", "Per class (frames)"]
    assert len(model.figures) == 2
    assert statistics_json(stats)["model_metrics"]["n_folds"] == 2
    assert "The run has no stored metrics" in html_report(compute(two_experts))


def test_table_5_counts_come_through_the_whole_pipeline() -> None:
    frame = table_5_study()
    data = StudyData(
        1, "Table 5", "closed", False, 1, ("covid", "pneumonia", "healthy"), "E1", frame, peak_frame([])
    )
    highlights = statistics_json(compute(data))["highlights"]
    overall = {
        h["pattern"]: h["fraction"] for h in highlights if h["label"] is None and h["cam_type"] == "test"
    }
    assert [overall[p] for p in ("consolidation", "a_lines", "b_lines", "pleural_line_irregularity")] == [
        "17/18",
        "8/13",
        "3/12",
        "9/20",
    ]


def test_an_expert_filter_without_the_reference_expert_keeps_the_highlight_ratios() -> None:
    frame = table_5_study()
    data = StudyData(
        1, "Table 5", "closed", False, 1, ("covid", "pneumonia", "healthy"), "E1", frame, peak_frame([])
    )
    stats = compute(data, Filters(experts=("E2",)))
    assert set(stats.frame["expert_name"]) == {"E2"}
    overall = {h.pattern: h for h in stats.highlights if h.label is None and h.cam_type == "test"}
    assert (overall["consolidation"].n, overall["consolidation"].fraction) == (18, "17/18")
    assert (overall["b_lines"].n, overall["b_lines"].fraction) == (12, "6/12")


def test_tidy_csv_cells_never_run_as_spreadsheet_formulas(two_experts: StudyData) -> None:
    hostile = '=HYPERLINK("http://evil.example","x")'
    frame = two_experts.frame.assign(video_name=hostile, expert_name="@" + two_experts.frame["expert_name"])
    data = dataclasses.replace(two_experts, name="+cmd", frame=frame)
    table = pd.read_csv(io.StringIO(tidy_csv(compute(data))))
    assert set(table["video_file"]) == {"'" + hostile}
    assert set(table["expert_name"]) == {"'@Dr. Expert 0", "'@Dr. Expert 1"}
    assert set(table["study"]) == {"'+cmd"}
    assert table["score"].dtype.kind == "i"  # numbers stay numbers


def test_hidden_re_reads_give_intra_rater_kappa_and_never_count_twice(engine: Engine) -> None:
    data = load(engine, answered_study(engine, n_videos=6, experts=1, reread_share=0.5))
    rereads = data.frame[data.frame["is_reread"]]
    assert rereads["study_item_id"].nunique() == 3
    result = statistics_json(compute(data))
    assert (result["study"]["n_first_reads"], result["study"]["n_rereads"]) == (6, 3)
    assert [s["n"] for s in result["scores"]["overall"]] == [6, 6]  # first readings only
    intra = result["reader"]["intra_rater_kappa"]
    [kappa] = intra["pooled_over_cam_types"]
    assert (kappa["rater_a"], kappa["n_units"], kappa["kappa"]) == ("Dr. Expert 0", 6, 1.0)
    # Within a CAM type the expert gave one score throughout (train 1, test 2): kappa is undefined.
    assert [(k["cam_type"], k["n_units"], k["kappa"]) for k in intra["within_cam_type"]] == [
        ("train", 3, None),
        ("test", 3, None),
    ]


def test_sections_show_primary_rows_first_and_label_the_secondary_ones(two_experts: StudyData) -> None:
    sections = {s.title: dict(s.tables) for s in report_sections(compute(two_experts))}
    wilcoxon = sections["Train- versus test-CAM"]["Wilcoxon signed-rank test (first row primary)"]
    assert list(wilcoxon["scope"]) == [
        "per video (mean over experts)",
        "Dr. Expert 0",
        "Dr. Expert 1",
        "all (expert, video) pairs pooled: pairs not independent",
    ]
    assert {"n nonzero", "r plus", "min rank sum", "alternative", "method"} <= set(wilcoxon.columns)
    alpha = sections["Agreement between experts"]["Krippendorff's alpha"]
    assert list(alpha["cam type"]) == ["train-CAM", "test-CAM", "both, pooled (secondary)"]


def test_a_filter_that_leaves_no_answers_reports_it_in_every_output(engine: Engine) -> None:
    data = load(engine, answered_study(engine, n_videos=2, experts=2))  # covid and pneumonia only
    stats = compute(data, Filters(classes=("healthy",)))
    sections = {s.title: dict(s.tables) for s in report_sections(stats)}
    assert sections["Reader behaviour"]["Re-read agreement per expert"].empty
    kappa = sections["Agreement between experts"]["Cohen's kappa per pair"]
    assert set(kappa["note"]) == {"fewer than two experts: no agreement between experts"}
    assert "NaN" not in statistics_text(stats) and "<html" in html_report(stats)
    assert statistics_json(stats)["study"]["n_first_reads"] == 0
