"""Controlled vocabularies shared by the database, the services and the pages.

Stored values are the enum *values* (short snake_case strings); pages show the ``label``.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """What a user may do; admins may do everything."""

    ADMIN = "admin"
    EXPERT = "expert"
    ANNOTATOR = "annotator"
    RESEARCHER = "researcher"


class LusClass(StrEnum):
    """Diagnostic classes of the POCUS dataset, plus 'uninformative' for unusable videos."""

    COVID = "covid"
    PNEUMONIA = "pneumonia"
    VIRAL = "viral"
    HEALTHY = "healthy"
    UNINFORMATIVE = "uninformative"

    @property
    def label(self) -> str:
        """Human-readable name as clinicians write it."""
        return CLASS_LABELS[self]


CLASS_LABELS: dict[LusClass, str] = {
    LusClass.COVID: "COVID-19",
    LusClass.PNEUMONIA: "Bacterial pneumonia",
    LusClass.VIRAL: "Viral pneumonia",
    LusClass.HEALTHY: "Healthy",
    LusClass.UNINFORMATIVE: "Uninformative",
}


class Pattern(StrEnum):
    """Sonographic patterns and the off-target structures a heatmap may highlight."""

    A_LINES = "a_lines"
    B_LINES = "b_lines"
    CONSOLIDATION = "consolidation"
    EFFUSION = "pleural_effusion"
    AIR_BRONCHOGRAM = "air_bronchogram"
    PLEURAL_IRREGULAR = "pleural_line_irregularity"
    SKIN = "skin"
    FAT = "fat"
    MUSCLE = "muscle"
    RIB_SHADOW = "rib_shadow"
    OTHER = "other"

    @property
    def label(self) -> str:
        """Human-readable name."""
        return PATTERN_LABELS[self]

    @property
    def off_target(self) -> bool:
        """True for structures that a useful heatmap should *not* point at."""
        return self in OFF_TARGET


PATTERN_LABELS: dict[Pattern, str] = {
    Pattern.A_LINES: "A-lines",
    Pattern.B_LINES: "B-lines",
    Pattern.CONSOLIDATION: "Consolidation",
    Pattern.EFFUSION: "Pleural effusion",
    Pattern.AIR_BRONCHOGRAM: "Air bronchogram",
    Pattern.PLEURAL_IRREGULAR: "Pleural line irregularity",
    Pattern.SKIN: "Skin",
    Pattern.FAT: "Fat",
    Pattern.MUSCLE: "Muscle",
    Pattern.RIB_SHADOW: "Rib shadow",
    Pattern.OTHER: "Other",
}

OFF_TARGET = frozenset({Pattern.SKIN, Pattern.FAT, Pattern.MUSCLE, Pattern.RIB_SHADOW, Pattern.OTHER})
LUNG_PATTERNS = tuple(p for p in Pattern if p not in OFF_TARGET)


class Probe(StrEnum):
    """Transducer type; decides the crop shape (square for convex, rectangle for linear)."""

    CONVEX = "convex"
    LINEAR = "linear"


class LabelAction(StrEnum):
    """What a row of the append-only label history records."""

    SET = "set"
    APPROVE = "approve"
    CHANGE = "change"


class TagSource(StrEnum):
    """Who asserted that a pattern is visible."""

    DATASET = "dataset"
    ANNOTATOR = "annotator"
    PHANTOM = "phantom"


class VideoSource(StrEnum):
    """Where a video came from."""

    UPLOAD = "upload"
    POCUS = "pocus"
    PHANTOM = "phantom"


class RunStatus(StrEnum):
    """Life cycle of a model run."""

    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class CamKind(StrEnum):
    """Which model(s) made a CAM; hidden from experts during a study."""

    TRAIN = "train"
    TEST = "test"


class StudyState(StrEnum):
    """Answers are only accepted while a study is open."""

    DRAFT = "draft"
    OPEN = "open"
    CLOSED = "closed"


class Preference(StrEnum):
    """Which heatmap panel an expert preferred."""

    A = "a"
    B = "b"
    EQUAL = "equal"


class QueueStatus(StrEnum):
    """State of an item in the relabel queue."""

    OPEN = "open"
    DONE = "done"


UNSURE = "unsure"
"""An expert's class guess when they cannot tell; stored beside the class values."""

SCORE_MIN, SCORE_MAX = -3, 3
"""Heatmap usefulness scale: -3 "only distracting" to 3 "very helpful for diagnosis"."""


def values(enum: type[StrEnum]) -> list[str]:
    """All stored values of an enum, for CHECK constraints and validation."""
    return [member.value for member in enum]
