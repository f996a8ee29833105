"""How long experts spend per video: by class, and by position in their list to see fatigue.

Re-reads are included: they cost the expert time too, and sit at their own positions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from reviewer.stats_data import CLASSES, answer_rows


@dataclass(frozen=True)
class TimeSummary:
    """Median seconds an expert spent per answer within one group (class or position bin)."""

    group: str
    n: int
    median_seconds: float | None
    message: str | None = None


def _median_time(group: str, seconds: pd.Series) -> TimeSummary:
    if seconds.empty:
        return TimeSummary(group, 0, None, f"no answers for {group}")
    return TimeSummary(group, len(seconds), float(seconds.median()))


def time_by_class(df: pd.DataFrame, *, classes: Sequence[str] = ()) -> list[TimeSummary]:
    """Median seconds per answer by true class, re-reads included (they cost the expert time too)."""
    answers = answer_rows(df)
    names = list(classes) or [c for c in CLASSES if c in set(answers["label"])]
    return [_median_time(name, answers.loc[answers["label"] == name, "seconds_spent"]) for name in names]


def time_by_position(df: pd.DataFrame, *, bin_size: int = 1) -> list[TimeSummary]:
    """Median seconds per answer by position in the expert's list, to see fatigue or learning.

    Args:
        df: The tidy study frame; re-reads are included, they sit at their own positions.
        bin_size: Positions per bin (e.g. 10 for 0-9, 10-19, ...), since single positions are sparse.
    """
    if bin_size < 1:
        raise ValueError("bin_size must be at least 1")
    answers = answer_rows(df)
    starts = answers["position"] // bin_size * bin_size
    return [
        _median_time(
            str(start) if bin_size == 1 else f"{start}-{start + bin_size - 1}",
            answers.loc[starts == start, "seconds_spent"],
        )
        for start in sorted(set(starts))
    ]
