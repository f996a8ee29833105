"""Pattern highlights of the CAMs (paper Fig. 4 / Table 5) and experts' class guesses.

Also counts off-target highlights and compares guesses with the labels and the model. First reads
only. The reference expert decides which patterns a video shows, so every expert's highlight count is
measured against the same videos. Where our ratios are set beside the paper's, its Table 5 row
"pleural line" (9/20) is compared with our pattern "pleural line irregularity".
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import pandas as pd

from reviewer.stats_data import CAM_TYPES, CLASSES, answer_rows, first_reads
from reviewer.vocab import LUNG_PATTERNS, UNSURE, LusClass, Pattern

ANY = "any"
# 'other' is free text and need not be off-target, so only named structures are counted.
OFF_TARGET_STRUCTURES = tuple(
    p.value for p in (Pattern.SKIN, Pattern.FAT, Pattern.MUSCLE, Pattern.RIB_SHADOW)
)
TARGET_PATTERNS = tuple(p.value for p in LUNG_PATTERNS)
Versus = Literal["label", "predicted"]


@dataclass(frozen=True)
class HighlightRatio:
    """How often experts say a CAM type highlights a pattern the reference expert saw.

    ``n`` videos show the pattern per the reference expert's finished answers. Expert e finished
    ``seen[e]`` of them and says the CAM highlights it in ``highlighted[e]`` (k_e); ``ratio`` is the
    mean over experts of k_e / seen[e], so a video an expert did not finish never counts as "not
    highlighted". When every expert finished all n this is the paper's mean(k_e) / n, which
    ``fraction`` prints as the paper does (e.g. (17 + 17) / 2 of 18 is '17/18'). ``unfinished[e]`` counts
    the n videos expert e left unfinished (left out of e's share); ``n_reference_unfinished`` the videos
    the counted experts finished but the reference expert did not, left out because whether they show
    the pattern is unknown.
    """

    pattern: str
    cam_type: str
    label: str | None
    n: int
    highlighted: dict[str, int]
    seen: dict[str, int]
    mean_k: float | None
    ratio: float | None
    unfinished: dict[str, int] = field(default_factory=dict)
    n_reference_unfinished: int = 0
    message: str | None = None

    @property
    def fraction(self) -> str | None:
        """The ratio as the paper prints it, e.g. '8.5/13'; None when undefined or not mean(k_e) / n."""
        if self.mean_k is None or any(count != self.n for count in self.seen.values()):
            return None
        return f"{self.mean_k:g}/{self.n}"


@dataclass(frozen=True)
class OffTargetCount:
    """Videos in which any expert says a CAM highlights an off-target structure."""

    structure: str
    cam_type: str
    n_videos: int


@dataclass(frozen=True)
class GuessResult:
    """Experts' class guesses against the true label or the model's prediction.

    'unsure' is its own column of the confusion matrix: ``accuracy`` leaves it out (correct among the
    decided guesses), ``accuracy_unsure_wrong`` counts it as wrong. Answers without a guess (or, against
    the model, videos without a prediction) are only counted in ``n_missing``.
    """

    versus: str
    n_answers: int
    n_unsure: int
    n_missing: int
    n_correct: int
    accuracy: float | None
    accuracy_unsure_wrong: float | None
    confusion: pd.DataFrame
    message: str | None = None


@dataclass(frozen=True)
class ModelAccuracy:
    """How often the ensemble's prediction matches the label on the study's videos, one vote per video."""

    n_videos: int
    n_correct: int
    accuracy: float | None
    message: str | None = None


def _contains(lists: pd.Series, wanted: Collection[str]) -> pd.Series:
    """Mask of rows whose pattern list names any of ``wanted``."""
    return lists.map(lambda patterns: not set(wanted).isdisjoint(patterns)).astype(bool)


def highlight_ratios(
    df: pd.DataFrame,
    *,
    label: str | None = None,
    patterns: Sequence[str] = TARGET_PATTERNS,
    experts: Collection[str] = (),
) -> list[HighlightRatio]:
    """Highlight ratio of every pattern for the train- and the test-CAM, in one class or all (None).

    Args:
        df: Answers of every expert: the reference expert decides n even when not counted.
        label: The class to restrict to, or None for all.
        patterns: The patterns to report.
        experts: The experts whose highlights are counted (k_e); empty means all of them.
    """
    data = first_reads(df)
    if label is not None:
        data = data[data["label"] == label]
    reference = answer_rows(data[data["is_reference"].astype(bool)])
    counted = data[data["expert_name"].isin(experts)] if experts else data
    return [_ratio(counted, reference, pattern, kind, label) for pattern in patterns for kind in CAM_TYPES]


def _ratio(
    data: pd.DataFrame, reference: pd.DataFrame, pattern: str, cam_type: str, label: str | None
) -> HighlightRatio:
    visible = set(reference.loc[_contains(reference["patterns_visible"], {pattern}), "video_id"])
    undefined = HighlightRatio(pattern, cam_type, label, len(visible), {}, {}, None, None)
    scope = "" if label is None else f" of class {LusClass(label).label}"
    if data.empty:
        return replace(undefined, message=f"no videos{scope}")
    if reference.empty:
        return replace(undefined, message=f"no reference expert answers for the videos{scope}")
    if not visible:
        return replace(
            undefined, message=f"the reference expert saw {Pattern(pattern).label} in no video{scope}"
        )
    rows = data[(data["cam_type"] == cam_type) & data["video_id"].isin(visible)]
    seen = rows.groupby("expert_name")["video_id"].nunique()
    if seen.empty:
        return replace(undefined, message=f"the chosen experts read none of these videos{scope}")
    hits = rows[_contains(rows["patterns_highlighted"], {pattern})]
    k = hits.groupby("expert_name")["video_id"].nunique().reindex(seen.index, fill_value=0)
    unfinished = {
        str(e): len(visible) - int(seen.get(e, 0))
        for e in sorted(set(data["expert_name"]))
        if seen.get(e, 0) < len(visible)
    }
    n_reference_unfinished = len(set(data["video_id"]) - set(reference["video_id"]))
    return HighlightRatio(
        pattern,
        cam_type,
        label,
        len(visible),
        highlighted={str(name): int(count) for name, count in k.items()},
        seen={str(name): int(count) for name, count in seen.items()},
        mean_k=float(k.mean()),
        ratio=float((k / seen).mean()),
        unfinished=unfinished,
        n_reference_unfinished=n_reference_unfinished,
        message=_unfinished_note(unfinished, len(visible), n_reference_unfinished),
    )


def _unfinished_note(unfinished: dict[str, int], n: int, n_reference: int) -> str | None:
    """Says which videos were left out as unfinished, so a share over fewer videos is never read as n."""
    notes = []
    if unfinished:
        experts = ", ".join(f"{name} {count} of {n}" for name, count in unfinished.items())
        notes.append(f"left out as unfinished (each expert's share is k/finished): {experts}")
    if n_reference:
        notes.append(
            f"{n_reference} video(s) the reference expert did not finish left out (whether they show "
            "the pattern is unknown)"
        )
    return "; ".join(notes) or None


def off_target_counts(df: pd.DataFrame, *, cam_types: Sequence[str] = CAM_TYPES) -> list[OffTargetCount]:
    """Per structure (and ``any`` of them) and CAM type (and ``any``), videos with an off-target highlight.

    The paper reports fat, muscle or skin highlighted in 13 videos; that is ``structure='any'``.
    ``cam_type='any'`` reads only the CAM types in ``cam_types``, so a filter to one CAM type never
    counts the other's highlights in its "any" row.
    """
    data = first_reads(df)
    counts = []
    for cam_type in (*cam_types, ANY):
        rows = data[data["cam_type"].isin(cam_types if cam_type == ANY else [cam_type])]
        for structure in (*OFF_TARGET_STRUCTURES, ANY):
            wanted = set(OFF_TARGET_STRUCTURES) if structure == ANY else {structure}
            hit = _contains(rows["patterns_highlighted"], wanted)
            counts.append(OffTargetCount(structure, cam_type, int(rows.loc[hit, "video_id"].nunique())))
    return counts


def guess_accuracy(df: pd.DataFrame, *, versus: Versus = "label") -> GuessResult:
    """Accuracy and confusion matrix of class guesses against the label or the model's prediction."""
    answers = answer_rows(first_reads(df))
    usable = answers[answers["class_guess"].notna() & answers[versus].notna()]
    guesses, truth = usable["class_guess"], usable[versus]
    n_answers, n_unsure = len(usable), int((guesses == UNSURE).sum())
    n_correct = int((guesses == truth).sum())
    classes = [c for c in CLASSES if c in set(truth) | set(guesses)]
    confusion = pd.crosstab(truth, guesses).reindex(index=classes, columns=[*classes, UNSURE], fill_value=0)
    confusion = confusion.rename_axis(index=versus, columns="class_guess")
    decided = n_answers - n_unsure
    message = None
    if n_answers == 0:
        message = f"no answers with a class guess and a {versus}"
    elif decided == 0:
        message = "every guess was 'unsure'"
    return GuessResult(
        versus,
        n_answers,
        n_unsure,
        len(answers) - n_answers,
        n_correct,
        accuracy=n_correct / decided if decided else None,
        accuracy_unsure_wrong=n_correct / n_answers if n_answers else None,
        confusion=confusion,
        message=message,
    )


def model_accuracy(df: pd.DataFrame) -> ModelAccuracy:
    """The model's accuracy on exactly the videos the experts judged, to set their guesses beside it."""
    videos = df.drop_duplicates("video_id")
    known = videos[videos["predicted"].notna()]
    if known.empty:
        return ModelAccuracy(0, 0, None, "no model predictions for these videos")
    correct = int((known["predicted"] == known["label"]).sum())
    return ModelAccuracy(len(known), correct, correct / len(known))
