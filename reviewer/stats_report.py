"""Every statistic of a study in one call (the JSON of it: :mod:`reviewer.stats_json`).

The page, the HTML report and ``lusreview stats`` all read one :class:`StudyStatistics`, so they can
never disagree. Filters narrow the answers (experts, classes) and the CAM types shown; the paired
tests (Wilcoxon, preference) always compare both CAM types. Agreement is computed within each CAM
type shown, and pooled over both only as a secondary row. Undefined values are None and carry a
message, never NaN.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypedDict

import pandas as pd

from reviewer.stats_agreement import (
    AlphaResult,
    KappaResult,
    by_cam_type,
    intra_rater_kappa,
    krippendorff_alpha,
    pairwise_kappa,
)
from reviewer.stats_data import CAM_TYPES
from reviewer.stats_locations import MmdResult, located, pairwise_mmd
from reviewer.stats_paired import PairedTests, paired_tests
from reviewer.stats_patterns import (
    GuessResult,
    HighlightRatio,
    ModelAccuracy,
    OffTargetCount,
    guess_accuracy,
    highlight_ratios,
    model_accuracy,
    off_target_counts,
)
from reviewer.stats_records import StudyData
from reviewer.stats_scores import (
    ClassRow,
    ScoreSummary,
    class_table,
    summarize_scores,
)
from reviewer.stats_times import TimeSummary, time_by_class, time_by_position

N_BOOT = 1000
N_PERM = 1000
POSITION_BIN = 10


@dataclass(frozen=True)
class Filters:
    """What the reader narrowed the study to; empty means everything."""

    experts: tuple[str, ...] = ()
    classes: tuple[str, ...] = ()
    cam_types: tuple[str, ...] = ()


@dataclass(frozen=True)
class StudyStatistics:
    """All statistics of one (filtered) study: the paper's section 4.1 for this study."""

    data: StudyData
    filters: Filters
    frame: pd.DataFrame
    peaks: pd.DataFrame
    classes: tuple[str, ...]
    cam_types: tuple[str, ...]
    messages: list[str]
    scores_overall: list[ScoreSummary]
    scores_by_class: list[ClassRow]
    scores_by_expert: list[ScoreSummary]
    paired: PairedTests
    kappa: list[KappaResult]
    alpha: list[AlphaResult]
    highlights: list[HighlightRatio]
    off_target: list[OffTargetCount]
    intra_rater: list[KappaResult]
    time_by_class: list[TimeSummary]
    time_by_position: list[TimeSummary]
    guesses: list[GuessResult]
    model: ModelAccuracy
    mmd: dict[str, list[MmdResult]] = field(default_factory=dict)


def compute_statistics(
    data: StudyData,
    *,
    filters: Filters = Filters(),
    n_boot: int = N_BOOT,
    n_perm: int = N_PERM,
    seed: int = 0,
    position_bin: int = POSITION_BIN,
) -> StudyStatistics:
    """Compute every statistic of the issue for a study, seeded so that the numbers are reproducible.

    Args:
        data: The study as :func:`reviewer.stats_records.load_study_data` returns it.
        filters: Experts and classes to keep, CAM types to show.
        n_boot: Bootstrap resamples for the agreement intervals.
        n_perm: Permutations of the MMD null (the issue's default: 1000).
        seed: Seeds the bootstrap and the permutations.
        position_bin: Positions per bin of the time-per-position table.
    """
    frame, peaks = _filtered(data, filters)
    classes = tuple(c for c in data.classes if not filters.classes or c in filters.classes)
    cam_types = tuple(k for k in CAM_TYPES if not filters.cam_types or k in filters.cam_types)
    return StudyStatistics(
        data=data,
        filters=filters,
        frame=frame,
        peaks=located(peaks),  # frames without a peak are counted in the MMD results instead
        classes=classes,
        cam_types=cam_types,
        messages=_messages(data, frame),
        **_scores(frame, classes, cam_types),
        paired=paired_tests(frame),  # always both CAM types, whatever the CAM-type filter shows
        **_readers(frame, cam_types, classes, n_boot=n_boot, seed=seed, bins=position_bin),
        **_patterns(data, filters, classes, cam_types),
        mmd={
            kind: pairwise_mmd(peaks[peaks["cam_type"] == kind], classes=classes, n_perm=n_perm, seed=seed)
            for kind in cam_types
        },
    )


class _Scores(TypedDict):
    scores_overall: list[ScoreSummary]
    scores_by_class: list[ClassRow]
    scores_by_expert: list[ScoreSummary]


def _scores(frame: pd.DataFrame, classes: tuple[str, ...], cam_types: tuple[str, ...]) -> _Scores:
    """Score summaries of the CAM types shown: overall, per class and per expert."""
    return _Scores(
        scores_overall=[s for s in summarize_scores(frame) if s.cam_type in cam_types],
        scores_by_class=class_table(frame, classes=classes),
        scores_by_expert=[s for s in summarize_scores(frame, by="expert") if s.cam_type in cam_types],
    )


class _Readers(TypedDict):
    kappa: list[KappaResult]
    alpha: list[AlphaResult]
    intra_rater: list[KappaResult]
    time_by_class: list[TimeSummary]
    time_by_position: list[TimeSummary]


def _readers(
    frame: pd.DataFrame,
    kinds: tuple[str, ...],
    classes: tuple[str, ...],
    *,
    n_boot: int,
    seed: int,
    bins: int,
) -> _Readers:
    """How the experts read: agreement between and within them, per CAM type shown, and reading times."""
    return _Readers(
        kappa=by_cam_type(lambda k: pairwise_kappa(frame, cam_type=k, n_boot=n_boot, seed=seed), kinds),
        alpha=by_cam_type(lambda k: [krippendorff_alpha(frame, cam_type=k, n_boot=n_boot, seed=seed)], kinds),
        intra_rater=by_cam_type(
            lambda k: intra_rater_kappa(frame, cam_type=k, n_boot=n_boot, seed=seed), kinds
        ),
        time_by_class=time_by_class(frame, classes=classes),
        time_by_position=time_by_position(frame, bin_size=bins),
    )


class _Patterns(TypedDict):
    highlights: list[HighlightRatio]
    off_target: list[OffTargetCount]
    guesses: list[GuessResult]
    model: ModelAccuracy


def _patterns(
    data: StudyData, filters: Filters, classes: tuple[str, ...], cam_types: tuple[str, ...]
) -> _Patterns:
    """Pattern highlights, off-target counts and class guesses.

    The reference expert decides which videos show a pattern (n) even when the expert filter leaves
    them out, so highlight ratios read the answers of every expert and count only the chosen ones.
    """
    everyone = _by_class(data.frame, filters)
    frame = everyone[everyone["expert_name"].isin(filters.experts)] if filters.experts else everyone
    ratios = [
        r
        for label in (None, *classes)
        for r in highlight_ratios(everyone, label=label, experts=filters.experts)
    ]
    return _Patterns(
        highlights=[r for r in ratios if r.cam_type in cam_types],
        off_target=off_target_counts(frame, cam_types=cam_types),
        guesses=[guess_accuracy(frame, versus="label"), guess_accuracy(frame, versus="predicted")],
        model=model_accuracy(frame),
    )


def _by_class(frame: pd.DataFrame, filters: Filters) -> pd.DataFrame:
    return frame[frame["label"].isin(filters.classes)] if filters.classes else frame


def _filtered(data: StudyData, filters: Filters) -> tuple[pd.DataFrame, pd.DataFrame]:
    frame, peaks = _by_class(data.frame, filters), _by_class(data.peaks, filters)
    if filters.experts:
        frame = frame[frame["expert_name"].isin(filters.experts)]
    if filters.cam_types:
        peaks = peaks[peaks["cam_type"].isin(filters.cam_types)]
    return frame, peaks


def _messages(data: StudyData, frame: pd.DataFrame) -> list[str]:
    """Study-level warnings the reader must see before any number."""
    messages = []
    if data.preview:
        messages.append(
            f"Preview: study {data.name!r} is {data.state}; experts may still be answering, so these "
            "numbers will change. Do not report them."
        )
    messages.extend(data.notes)
    experts = frame["expert_name"].nunique()
    if frame.empty:
        messages.append("No complete answers: there is nothing to analyse yet.")
    elif experts < 2:
        messages.append("Only one expert answered: there is no agreement between experts to compute.")
    return messages
