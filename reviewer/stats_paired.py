"""The paired comparisons of train- and test-CAM in one object: score tests, preference and disagreement.

Each comes as the primary test on videos (the independent units) first, then per expert, then pooled
over every (expert, video) pair with a scope that says the pairs are not independent.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from reviewer.stats_preference import (
    DisagreementResult,
    PreferenceResult,
    VideoPreferenceResult,
    preference_by_expert,
    preference_by_video,
    preference_disagreement,
    preference_test,
)
from reviewer.stats_scores import WilcoxonResult, wilcoxon_by_expert, wilcoxon_by_video, wilcoxon_pooled


@dataclass(frozen=True)
class PairedTests:
    """Train- against test-CAM of the same videos; ``wilcoxon`` and ``preference`` are the primary tests."""

    wilcoxon: WilcoxonResult
    wilcoxon_by_expert: list[WilcoxonResult]
    wilcoxon_pooled: WilcoxonResult
    preference: VideoPreferenceResult
    preference_by_expert: list[PreferenceResult]
    preference_pooled: PreferenceResult
    disagreement: DisagreementResult


def paired_tests(frame: pd.DataFrame) -> PairedTests:
    """Every paired comparison of the (filtered) answers; first reads only, as each test reads them."""
    return PairedTests(
        wilcoxon=wilcoxon_by_video(frame),
        wilcoxon_by_expert=wilcoxon_by_expert(frame),
        wilcoxon_pooled=wilcoxon_pooled(frame),
        preference=preference_by_video(frame),
        preference_by_expert=preference_by_expert(frame),
        preference_pooled=preference_test(frame),
        disagreement=preference_disagreement(frame),
    )
