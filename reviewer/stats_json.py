"""Every statistic of a study as plain JSON data: what ``lusreview stats --json`` prints and exports.

Undefined values are None beside a message; a NaN or infinity reaching this point is a bug, so it
stops the export instead of being written.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from reviewer.stats_agreement import POOLED
from reviewer.stats_locations import MmdResult
from reviewer.stats_patterns import GuessResult
from reviewer.stats_report import StudyStatistics

NULL_QUANTILES = (0.5, 0.95, 0.99)
WITHIN, POOLED_SCOPE = "within_cam_type", "pooled_over_cam_types"  # agreement: main, then secondary


def statistics_json(stats: StudyStatistics) -> dict[str, Any]:
    """Every statistic as plain JSON data (no NaN), with the study, the filters and the messages.

    Raises:
        ValueError: a non-finite number slipped through (a bug, never silently written).
    """
    paired = stats.paired
    result = {
        "study": _study(stats),
        "filters": dataclasses.asdict(stats.filters),
        "messages": stats.messages,
        "scores": {
            "overall": stats.scores_overall,
            "by_class": stats.scores_by_class,
            "by_expert": stats.scores_by_expert,
        },
        "wilcoxon": {
            "per_video": paired.wilcoxon,
            "by_expert": paired.wilcoxon_by_expert,
            "pooled_pairs_not_independent": paired.wilcoxon_pooled,
        },
        "preference": {
            "per_video": paired.preference,
            "by_expert": paired.preference_by_expert,
            "pooled_pairs_not_independent": paired.preference_pooled,
        },
        "disagreement": paired.disagreement,
        "agreement": _agreement(stats),
        "highlights": [{**dataclasses.asdict(r), "fraction": r.fraction} for r in stats.highlights],
        "off_target": stats.off_target,
        "reader": {
            "intra_rater_kappa": _by_scope(stats.intra_rater),
            "time_by_class": stats.time_by_class,
            "time_by_position": stats.time_by_position,
        },
        "guesses": {g.versus: _guess(g) for g in stats.guesses},
        "model_on_study_videos": stats.model,
        "locations": {kind: [_mmd(m) for m in results] for kind, results in stats.mmd.items()},
        "model_metrics": stats.data.run_metrics,
    }
    checked: dict[str, Any] = _checked(_plain(result))
    return checked


def _study(stats: StudyStatistics) -> dict[str, Any]:
    """Which study, in which state, and how much of it the (filtered) numbers rest on."""
    data = stats.data
    items = stats.frame.groupby("study_item_id")["is_reread"].first().astype(bool)
    return {
        "id": data.study_id,
        "name": data.name,
        "state": data.state,
        "preview": data.preview,
        "run_id": data.run_id,
        "classes": list(stats.classes),
        "reference_expert": data.reference_expert,
        "experts": sorted(set(stats.frame["expert_name"])),
        "n_videos": int(stats.frame["video_id"].nunique()),
        "n_first_reads": int(items[~items].size),
        "n_rereads": int(items[items].size),
    }


def _agreement(stats: StudyStatistics) -> dict[str, Any]:
    """Kappa and alpha within each CAM type (the main numbers), pooled over both types kept apart."""
    kappa, alpha = _by_scope(stats.kappa), _by_scope(stats.alpha)
    return {
        scope: {"pairwise_kappa": kappa[scope], "krippendorff_alpha": alpha[scope]}
        for scope in (WITHIN, POOLED_SCOPE)
    }


def _by_scope(results: Sequence[Any]) -> dict[str, list[Any]]:
    """Results of :func:`reviewer.stats_agreement.by_cam_type` split into within-type and pooled ones."""
    return {
        WITHIN: [r for r in results if r.cam_type != POOLED],
        POOLED_SCOPE: [r for r in results if r.cam_type == POOLED],
    }


def _guess(result: GuessResult) -> dict[str, Any]:
    plain = {f.name: getattr(result, f.name) for f in dataclasses.fields(result) if f.name != "confusion"}
    matrix = result.confusion
    plain["confusion"] = {
        "rows": [str(i) for i in matrix.index],
        "columns": [str(c) for c in matrix.columns],
        "counts": matrix.to_numpy(int).tolist(),
    }
    return plain


def _mmd(result: MmdResult) -> dict[str, Any]:
    """An MMD result with its null summarised by quantiles (the draws themselves stay in the chart)."""
    plain = {f.name: getattr(result, f.name) for f in dataclasses.fields(result) if f.name != "null"}
    null = np.asarray(result.null, dtype=float)
    plain["n_draws"] = int(null.size)
    plain["null_quantiles"] = {
        str(q): float(np.quantile(null, q)) if null.size else None for q in NULL_QUANTILES
    }
    return plain


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _plain(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return _plain(value.item())
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    return value


def _checked(value: Any, path: Sequence[str] = ()) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"statistic {'/'.join(path)} is not a finite number")
    if isinstance(value, dict):
        for key, item in value.items():
            _checked(item, (*path, key))
    elif isinstance(value, list):
        for number, item in enumerate(value):
            _checked(item, (*path, str(number)))
    return value
