"""The study statistics laid out as the paper's section 4.1: titled sections of tables and charts.

The researcher page and the HTML report both walk :func:`report_sections`, so a table or chart added
here appears in both. Tables use readable column names and clinicians' class and pattern names;
undefined values stay empty (None) with their message in a ``note`` column.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from reviewer import metrics_plots, stats_plots
from reviewer.stats_agreement import POOLED
from reviewer.stats_plots import readable
from reviewer.stats_report import StudyStatistics
from reviewer.stats_scores import summarize_scores

POOLED_NAME = "both, pooled (secondary)"


@dataclass(frozen=True)
class Section:
    """One block of the report: an explanation, tables (title, frame) and charts."""

    title: str
    intro: str
    tables: list[tuple[str, pd.DataFrame]] = field(default_factory=list)
    figures: list[go.Figure] = field(default_factory=list)


def results_frame(results: Sequence[Any]) -> pd.DataFrame:
    """Table of result dataclasses; object dtype keeps None instead of NaN."""
    return pd.DataFrame([asdict(result) for result in results], dtype=object)


def table(results: Sequence[Any], *, drop: Sequence[str] = ()) -> pd.DataFrame:
    """Readable table of result objects: values of classes, patterns and CAM types named for people."""
    frame = results_frame(results).drop(columns=list(drop), errors="ignore")
    for column in ("group", "label", "pattern", "structure", "class_a", "class_b", "cam_type"):
        if column in frame.columns:
            frame[column] = frame[column].map(lambda v: v if v is None else readable(str(v)))
    if "message" in frame.columns:  # the note goes last and stays blank where there is nothing to say
        frame = frame.drop(columns=["message"]).assign(message=frame["message"].fillna(""))
    return frame.rename(columns=lambda c: "note" if c == "message" else c.replace("_", " "))


def report_sections(stats: StudyStatistics) -> list[Section]:
    """Every section in reading order: scores, tests, agreement, highlights, readers, guesses, locations."""
    return [
        _scores(stats),
        _tests(stats),
        _agreement(stats),
        _highlights(stats),
        _readers(stats),
        _guesses(stats),
        _locations(stats),
        _model(stats),
    ]


def _scores(stats: StudyStatistics) -> Section:
    shown = stats.frame[stats.frame["cam_type"].isin(stats.cam_types)]
    by_class = summarize_scores(shown, by="label", groups=stats.classes)
    return Section(
        "Scores",
        "Usefulness scores from -3 (only distracting) to 3 (very helpful), first readings only.",
        [
            ("Mean score per class (as the paper's table)", table(stats.scores_by_class, drop=["label"])),
            ("All answers", table(stats.scores_overall)),
            ("Per expert", table(stats.scores_by_expert)),
        ],
        [
            stats_plots.score_distribution_figure(shown),
            stats_plots.score_bar_figure(by_class),
            stats_plots.score_bar_figure(stats.scores_by_expert, title="Mean score by expert"),
        ],
    )


def _tests(stats: StudyStatistics) -> Section:
    paired = stats.paired
    return Section(
        "Train- versus test-CAM",
        "Two-sided Wilcoxon signed-rank test of test minus train scores. Videos are the independent units, "
        "so the first row tests one value per video (the mean over its experts); then one test per expert; "
        "the last row pools every (expert, video) pair although pairs of one video are not independent "
        "(its p-value is too small). n nonzero pairs enter the test; R+ sums the ranks favouring the "
        "test-CAM, min rank sum is T = min(R+, R-). Preference: a sign test over videos by their experts' "
        "net preference (primary), then exact binomial tests of answers; 'equal' is left out of the tests.",
        [
            (
                "Wilcoxon signed-rank test (first row primary)",
                table([paired.wilcoxon, *paired.wilcoxon_by_expert, paired.wilcoxon_pooled]),
            ),
            ("Preferred CAM per video (primary)", table([paired.preference])),
            (
                "Preferred CAM per answer: per expert, then pooled",
                table([*paired.preference_by_expert, paired.preference_pooled]),
            ),
            ("Experts disagreeing on the preferred CAM", table([paired.disagreement])),
        ],
        [
            stats_plots.video_preference_figure(paired.preference),
            stats_plots.preference_figure(paired.preference_pooled),
        ],
    )


def agreement_table(results: Sequence[Any]) -> pd.DataFrame:
    """Agreement rows within each CAM type, the pooled rows last and named as the secondary numbers."""
    frame = table(results)
    if "cam type" in frame.columns:  # no rows at all when a filter leaves no answers
        frame["cam type"] = frame["cam type"].replace({POOLED: POOLED_NAME})
    return frame


def _agreement(stats: StudyStatistics) -> Section:
    return Section(
        "Agreement between experts",
        "Weighted (quadratic) Cohen's kappa per pair and ordinal Krippendorff's alpha over all experts, "
        "within each CAM type, with 95% bootstrap intervals that resample whole videos. Pooled over both "
        "CAM types, experts who agree only that one CAM type scores lower than the other look in strong "
        "agreement, so the pooled rows are secondary. The two measures can differ widely on the same "
        "answers: quadratic kappa weighs disagreements by their squared distance and is judged against "
        "each rater's own spread, while ordinal alpha ranks the scores, so when most scores pile up on a "
        "few values, ties and one-step differences weigh heavily in alpha. Read the intervals, not only "
        "the points.",
        [
            ("Cohen's kappa per pair", agreement_table(stats.kappa)),
            ("Krippendorff's alpha", agreement_table(stats.alpha)),
        ],
    )


def _highlights(stats: StudyStatistics) -> Section:
    rows = [
        {
            "class": "all" if ratio.label is None else readable(ratio.label),
            "pattern": readable(ratio.pattern),
            "cam type": readable(ratio.cam_type),
            "n": ratio.n,
            "k/n": ratio.fraction,
            "ratio": ratio.ratio,
            "per expert": ", ".join(f"{e}: {k}/{ratio.seen[e]}" for e, k in ratio.highlighted.items()),
            "note": ratio.message or "",
        }
        for ratio in stats.highlights
    ]
    frame = pd.DataFrame(rows, dtype=object)
    every = [r for r in stats.highlights if r.label is None]
    return Section(
        "Pattern highlights",
        "Of the videos where the reference expert saw a pattern, the share in which experts say the CAM "
        "highlights it: the mean over experts of k/finished (the paper's k/n when everyone finished all n; "
        "unfinished videos are named in the note). The paper's 'pleural line' row is compared with our "
        "'pleural line irregularity'. Off-target: videos where a CAM highlights skin, fat, muscle or a "
        "rib shadow.",
        [("Highlight ratios", frame), ("Off-target highlights (videos)", table(stats.off_target))],
        [stats_plots.highlight_ratio_figure(every)],
    )


def _readers(stats: StudyStatistics) -> Section:
    return Section(
        "Reader behaviour",
        "Intra-rater reliability from hidden re-reads (weighted kappa within each CAM type, pooled last), "
        "and median seconds per video.",
        [
            ("Re-read agreement per expert", agreement_table(stats.intra_rater)),
            ("Time per video by class", table(stats.time_by_class)),
            ("Time per video by position in the list", table(stats.time_by_position)),
        ],
        [
            stats_plots.time_figure(stats.time_by_position, title="Median seconds by position (fatigue)"),
            stats_plots.time_figure(stats.time_by_class, title="Median seconds by class"),
        ],
    )


def _guesses(stats: StudyStatistics) -> Section:
    return Section(
        "Expert versus label versus model",
        "Experts' class guesses against the video labels and the ensemble's predictions, and the "
        "ensemble itself on the same videos. A study made of the videos the ensemble classified "
        "correctly (the paper's choice, and the default) gives the model an accuracy of 1 here by "
        "construction, and guesses against the prediction then equal guesses against the label; the "
        "model's own accuracy is on the Models page.",
        [
            ("Accuracy of class guesses", table(stats.guesses, drop=["confusion"])),
            ("Model on the study videos", table([stats.model])),
        ],
        [stats_plots.confusion_figure(g) for g in stats.guesses],
    )


def _locations(stats: StudyStatistics) -> Section:
    results = [(kind, m) for kind, found in stats.mmd.items() for m in found]
    frame = table([m for _, m in results], drop=["null"])
    frame.insert(0, "cam type", [readable(kind) for kind, _ in results])
    return Section(
        "CAM peak locations",
        "Per-frame peak of each CAM by class, and the maximum mean discrepancy (Gaussian kernel, sigma = "
        "median pairwise distance) between classes with a permutation p-value (labels of whole videos "
        "shuffled).",
        [("MMD between classes", frame)],
        [stats_plots.peak_figure(stats.peaks)] + [stats_plots.mmd_null_figure(m) for _, m in results],
    )


def _model(stats: StudyStatistics) -> Section:
    metrics = stats.data.run_metrics
    intro = f"Cross-validated metrics of model run {stats.data.run_id}, whose CAMs this study judged."
    if not metrics.get("levels"):
        return Section("Model metrics", f"{intro} The run has no stored metrics.")
    typed: Any = metrics  # stored JSON of reviewer.metrics.RunMetrics
    return Section(
        "Model metrics",
        intro,
        [
            ("Accuracy per level", metrics_plots.overall_table(typed).reset_index()),
            ("Per class (frames)", metrics_plots.class_table(typed).reset_index()),
        ],
        [metrics_plots.confusion_figure(typed), metrics_plots.roc_figure(typed)],
    )
