"""The tidy, unblinded study frame that every statistic reads, and the checks that guard it.

One row per (study item, expert, CAM type). The database service only has to build
:class:`AnswerRecord` dicts; :func:`unblind` turns the blinded A/B answers into this frame, so the
statistics never see panel letters and never touch the database.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypedDict, cast

import pandas as pd

from reviewer.vocab import SCORE_MAX, SCORE_MIN, UNSURE, CamKind, LusClass, Pattern, Preference, values

EQUAL = Preference.EQUAL.value
SIDES = ("A", "B")
CAM_TYPES = tuple(values(CamKind))
PREFERRED_TYPES = (*CAM_TYPES, EQUAL)
CLASSES = tuple(values(LusClass))
GUESSES = (*CLASSES, UNSURE)
SCORE_RANGE = range(SCORE_MIN, SCORE_MAX + 1)

COLUMNS: tuple[str, ...] = (
    "study_item_id",
    "video_id",
    "video_name",
    "label",
    "predicted",
    "expert_id",
    "expert_name",
    "is_reference",
    "cam_type",
    "side",
    "score",
    "preferred_type",
    "class_guess",
    "patterns_visible",
    "patterns_highlighted",
    "seconds_spent",
    "position",
    "is_reread",
    "reread_of",
)
NULLABLE = frozenset({"predicted", "class_guess", "reread_of"})
PER_VIDEO = ("video_name", "label", "predicted")
PER_EXPERT = ("expert_name", "is_reference")
PER_ITEM = (
    "video_id",
    "expert_id",
    "preferred_type",
    "class_guess",
    "seconds_spent",
    "position",
    "is_reread",
)


class FrameError(ValueError):
    """The study frame breaks the tidy contract; the message names the first broken rule."""


class AnswerRecord(TypedDict):
    """One complete, still blinded answer as the database holds it, joined with its item and video."""

    study_item_id: int
    video_id: int
    video_name: str
    label: str
    predicted: str | None
    expert_id: int
    expert_name: str
    is_reference: bool
    position: int
    left_kind: str
    reread_of: int | None
    score_a: int
    score_b: int
    preferred: str
    class_guess: str | None
    patterns_visible: list[str]
    patterns_a: list[str]
    patterns_b: list[str]
    seconds_spent: float


# Record keys copied unchanged onto both rows of an answer.
SHARED = tuple(key for key in AnswerRecord.__annotations__ if key in COLUMNS and key != "patterns_visible")


def other_kind(kind: str) -> str:
    """The CAM type of the right panel B, given the hidden type of the left panel A."""
    if kind not in CAM_TYPES:
        raise FrameError(f"left_kind must be one of {CAM_TYPES}, got {kind!r}")
    return CamKind.TEST.value if kind == CamKind.TRAIN.value else CamKind.TRAIN.value


def unblind_preference(preferred: str, left_kind: str) -> str:
    """Translate a panel preference ('a', 'b', 'equal') into the CAM type the expert preferred."""
    by_panel = {Preference.A.value: left_kind, Preference.B.value: other_kind(left_kind), EQUAL: EQUAL}
    if preferred not in by_panel:
        raise FrameError(f"preferred must be one of {values(Preference)}, got {preferred!r}")
    return by_panel[preferred]


def _unblind_record(record: AnswerRecord) -> list[dict[str, Any]]:
    plain = cast(Mapping[str, Any], record)
    shared = {key: plain[key] for key in SHARED}
    shared["preferred_type"] = unblind_preference(record["preferred"], record["left_kind"])
    shared["is_reread"] = record["reread_of"] is not None
    sides = (
        ("A", record["left_kind"], record["score_a"], record["patterns_a"]),
        ("B", other_kind(record["left_kind"]), record["score_b"], record["patterns_b"]),
    )
    return [
        {
            **shared,
            "patterns_visible": list(record["patterns_visible"]),
            "side": side,
            "cam_type": kind,
            "score": score,
            "patterns_highlighted": list(patterns),
        }
        for side, kind, score, patterns in sides
    ]


def unblind(records: Iterable[AnswerRecord]) -> pd.DataFrame:
    """Build the validated tidy frame from blinded answers, two rows (train, test) per answer.

    Raises:
        FrameError: a record lacks a key or holds a value outside the vocabularies.
    """
    rows: list[dict[str, Any]] = []
    for number, record in enumerate(records):
        try:
            rows.extend(_unblind_record(record))
        except KeyError as missing:
            raise FrameError(f"answer record {number} lacks the key {missing}") from None
    frame = pd.DataFrame(rows, columns=list(COLUMNS)).astype({"reread_of": "Int64"})
    validate_frame(frame)
    return frame


def validate_frame(df: pd.DataFrame) -> None:
    """Check the tidy contract once at the boundary, so statistics can trust their input.

    Raises:
        FrameError: with a message naming the first broken rule.
    """
    missing = [column for column in COLUMNS if column not in df.columns]
    if missing:
        raise FrameError(f"missing columns: {missing}")
    for column in COLUMNS:
        if column not in NULLABLE and df[column].isna().any():
            raise FrameError(f"column {column!r} has missing values")
    _check_values(df)
    _check_patterns(df)
    _check_items(df)
    _check_consistent(df, "video_id", PER_VIDEO)
    _check_consistent(df, "expert_id", PER_EXPERT)
    _check_consistent(df, "expert_name", ("expert_id",))
    _check_rereads(df)


def _check_values(df: pd.DataFrame) -> None:
    allowed: dict[str, Sequence[str]] = {
        "cam_type": CAM_TYPES,
        "side": SIDES,
        "preferred_type": PREFERRED_TYPES,
        "label": CLASSES,
        "predicted": CLASSES,
        "class_guess": GUESSES,
    }
    for column, choices in allowed.items():
        present = df[column].dropna()
        bad = sorted(set(present[~present.isin(choices)].astype(str)))
        if bad:
            raise FrameError(f"column {column!r} holds {bad}; allowed: {list(choices)}")
    for column in ("is_reference", "is_reread"):
        if not df[column].isin([True, False]).all():
            raise FrameError(f"column {column!r} must hold booleans")
    scores = pd.to_numeric(df["score"], errors="coerce")
    if not scores.isin(SCORE_RANGE).all():
        raise FrameError("scores must be integers from -3 to 3")
    if (pd.to_numeric(df["seconds_spent"], errors="coerce").fillna(-1) < 0).any():
        raise FrameError("seconds_spent must be a non-negative number")


def _check_patterns(df: pd.DataFrame) -> None:
    known = set(values(Pattern))
    for column in ("patterns_visible", "patterns_highlighted"):
        for entry in df[column]:
            if not isinstance(entry, list | tuple) or not set(entry) <= known:
                raise FrameError(f"column {column!r} must hold lists of pattern values, got {entry!r}")


def _check_items(df: pd.DataFrame) -> None:
    per_item = df.groupby("study_item_id").agg(
        n=("cam_type", "size"), cams=("cam_type", "nunique"), sides=("side", "nunique")
    )
    if not ((per_item["n"] == 2) & (per_item["cams"] == 2) & (per_item["sides"] == 2)).all():
        raise FrameError("every study item needs exactly two rows: one train and one test CAM, sides A and B")
    _check_consistent(df, "study_item_id", PER_ITEM)
    firsts = df[~df["is_reread"].astype(bool)].drop_duplicates("study_item_id")
    if firsts.duplicated(["video_id", "expert_id"]).any():
        raise FrameError("an expert has two first reads of one video; only re-reads may repeat a video")


def _check_consistent(df: pd.DataFrame, key: str, columns: Sequence[str]) -> None:
    counts = df.groupby(key)[list(columns)].nunique(dropna=False)
    varying = [column for column in columns if (counts[column] > 1).any()]
    if varying:
        raise FrameError(f"columns {varying} must not vary within one {key}")


def _check_rereads(df: pd.DataFrame) -> None:
    if df.groupby("expert_id")["is_reference"].first().astype(bool).sum() > 1:
        raise FrameError("at most one expert may be the reference expert")
    if not (df["is_reread"].astype(bool) == df["reread_of"].notna()).all():
        raise FrameError("is_reread must be true exactly when reread_of is set")
    items = df.drop_duplicates("study_item_id").set_index("study_item_id")
    rereads = items[items["is_reread"].astype(bool)]
    originals = items.reindex(rereads["reread_of"].astype("int64"))
    same = (originals["expert_id"].to_numpy() == rereads["expert_id"].to_numpy()) & (
        originals["video_id"].to_numpy() == rereads["video_id"].to_numpy()
    )
    if not same.all():
        raise FrameError("reread_of must name an item of the same expert and video")


def first_reads(df: pd.DataFrame) -> pd.DataFrame:
    """Rows of first reads only, so that re-read items never count twice in a statistic."""
    return df[~df["is_reread"].astype(bool)]


def answer_rows(df: pd.DataFrame) -> pd.DataFrame:
    """One row per answer, for statistics about the answer rather than one of its CAMs.

    Any row of the item will do, so this also works on a frame filtered to one CAM type.
    """
    return df.drop_duplicates("study_item_id")


def finite_or_none(value: float) -> float | None:
    """Float, or None for NaN/inf, so that undefined numbers never leak into tables or JSON."""
    number = float(value)
    return number if math.isfinite(number) else None
