"""Every table the product stores, in one module.

Enumerated columns are plain strings guarded by CHECK constraints built from :mod:`reviewer.vocab`, so
that SQLite and PostgreSQL reject the same bad values. Expert answers are the record of truth: their
table carries CHECK and UNIQUE constraints so no code path can store a score outside -3..3 or two
answers of one expert for one item.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, DateTime, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from reviewer.vocab import (
    UNSURE,
    CamKind,
    LabelAction,
    LusClass,
    Pattern,
    Preference,
    Probe,
    QueueStatus,
    Role,
    RunStatus,
    StudyState,
    TagSource,
    VideoSource,
    values,
)

CLASS_GUESSES = [*values(LusClass), UNSURE]


def utcnow() -> datetime:
    """Timezone-aware now, the only clock the database sees."""
    return datetime.now(UTC)


def aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored time is UTC, so say so."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _in(column: str, enum: type[StrEnum] | list[str], *, nullable: bool = False) -> CheckConstraint:
    allowed = enum if isinstance(enum, list) else values(enum)
    listed = ", ".join(f"'{v}'" for v in allowed)
    test = f"{column} IN ({listed})"
    if nullable:
        test = f"{column} IS NULL OR {test}"
    return CheckConstraint(test, name=f"ck_{column}_allowed")


def _when(**kwargs: Any) -> Any:
    return Field(default_factory=utcnow, sa_type=DateTime(timezone=True), **kwargs)


class User(SQLModel, table=True):
    """A person who logs in; passwords are stored as bcrypt hashes only."""

    __tablename__ = "users"
    __table_args__ = (_in("role", Role),)

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(index=True, unique=True, max_length=64)
    display_name: str = Field(max_length=128)
    password_hash: str
    role: str = Field(max_length=16)
    active: bool = True
    created_at: datetime = _when()


class Video(SQLModel, table=True):
    """One recording, stored under a content-derived name; ``label`` is the current label."""

    __tablename__ = "videos"
    __table_args__ = (
        _in("source", VideoSource),
        _in("probe", Probe),
        _in("label", LusClass, nullable=True),
        CheckConstraint("crop_w > 0 AND crop_h > 0", name="ck_crop_positive"),
    )

    id: int | None = Field(default=None, primary_key=True)
    checksum: str = Field(index=True, unique=True, max_length=64)
    display_name: str = Field(max_length=255)
    file_path: str = Field(max_length=512)
    source: str = Field(max_length=16)
    source_url: str | None = None
    license: str | None = None
    license_url: str | None = None
    comment: str | None = None
    probe: str = Field(max_length=16)
    label: str | None = Field(default=None, max_length=32, index=True)
    fps: float
    width: int
    height: int
    frame_count: int
    duration_s: float
    crop_x: int
    crop_y: int
    crop_w: int
    crop_h: int
    overlay_removal: bool = True
    created_by_id: int | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = _when()


class VideoLabel(SQLModel, table=True):
    """Append-only label history: every set, approval or change is a new row."""

    __tablename__ = "video_labels"
    __table_args__ = (_in("label", LusClass), _in("action", LabelAction))

    id: int | None = Field(default=None, primary_key=True)
    video_id: int = Field(foreign_key="videos.id", index=True, ondelete="CASCADE")
    label: str = Field(max_length=32)
    action: str = Field(default="set", max_length=16)
    reason: str | None = None
    user_id: int | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = _when()


class Frame(SQLModel, table=True):
    """A sampled, cropped, resized frame; ``index`` counts the kept frames of the video."""

    __tablename__ = "frames"
    __table_args__ = (UniqueConstraint("video_id", "index", name="uq_frame_video_index"),)

    id: int | None = Field(default=None, primary_key=True)
    video_id: int = Field(foreign_key="videos.id", index=True, ondelete="CASCADE")
    index: int = Field(ge=0)
    source_index: int = Field(ge=0)
    time_s: float
    image_path: str = Field(max_length=512)
    mask_path: str | None = Field(default=None, max_length=512)
    overlay_fraction: float = 0.0


class PatternTag(SQLModel, table=True):
    """Someone (dataset, annotator, phantom generator) says this pattern is visible in the video."""

    __tablename__ = "pattern_tags"
    __table_args__ = (_in("pattern", Pattern), _in("source", TagSource))

    id: int | None = Field(default=None, primary_key=True)
    video_id: int = Field(foreign_key="videos.id", index=True, ondelete="CASCADE")
    pattern: str = Field(max_length=32)
    source: str = Field(max_length=16)
    user_id: int | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = _when()


class Region(SQLModel, table=True):
    """A shape drawn on a frame for a pattern, kept as geometry and as a rasterised mask."""

    __tablename__ = "regions"
    __table_args__ = (_in("pattern", Pattern), _in("shape", ["rect", "polygon", "path"]))

    id: int | None = Field(default=None, primary_key=True)
    video_id: int = Field(foreign_key="videos.id", index=True, ondelete="CASCADE")
    frame_id: int | None = Field(default=None, foreign_key="frames.id", ondelete="CASCADE")
    pattern: str = Field(max_length=32)
    shape: str = Field(max_length=16)
    geometry: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    mask_path: str | None = None
    user_id: int | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = _when()


class ModelRun(SQLModel, table=True):
    """A training run: its config, data snapshot, seed, weights and metrics.

    ``progress`` (0..1) and ``progress_note`` are written while the run trains, so any page can show
    how far a run started elsewhere has got.
    """

    __tablename__ = "model_runs"
    __table_args__ = (
        _in("status", RunStatus),
        CheckConstraint("progress >= 0 AND progress <= 1", name="ck_run_progress_range"),
    )

    id: int | None = Field(default=None, primary_key=True)
    status: str = Field(default=RunStatus.RUNNING.value, max_length=16)
    config: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    classes: list[str] = Field(default_factory=list, sa_type=JSON)
    data_snapshot: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    metrics: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    seed: int = 0
    weights_dir: str | None = None
    error: str | None = None
    progress: float = Field(default=0.0, ge=0, le=1)
    progress_note: str | None = Field(default=None, max_length=255)
    created_by_id: int | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = _when()
    finished_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class FoldAssignment(SQLModel, table=True):
    """Which cross-validation fold held each video out, so its test-CAM model is known."""

    __tablename__ = "fold_assignments"
    __table_args__ = (
        UniqueConstraint("run_id", "video_id", name="uq_fold_run_video"),
        CheckConstraint("fold >= 0", name="ck_fold_nonnegative"),
    )

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="model_runs.id", index=True, ondelete="CASCADE")
    video_id: int = Field(foreign_key="videos.id", index=True, ondelete="CASCADE")
    fold: int


class Prediction(SQLModel, table=True):
    """Class probabilities of one video (``frame_index`` None) or frame, by the ensemble or one fold.

    ``members`` keeps, on ensemble rows, each fold model's probabilities (in fold order): what
    disagreement-based relabel strategies (BALD) need without re-running the models.
    """

    __tablename__ = "predictions"
    __table_args__ = (
        _in("predicted_class", LusClass),
        CheckConstraint(
            "confidence_epistemic IS NULL OR (confidence_epistemic >= 0 AND confidence_epistemic <= 1)",
            name="ck_conf_epistemic_range",
        ),
        CheckConstraint(
            "confidence_aleatoric IS NULL OR (confidence_aleatoric >= 0 AND confidence_aleatoric <= 1)",
            name="ck_conf_aleatoric_range",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="model_runs.id", index=True, ondelete="CASCADE")
    video_id: int = Field(foreign_key="videos.id", index=True, ondelete="CASCADE")
    frame_index: int | None = None
    fold: int | None = None
    probabilities: dict[str, float] = Field(default_factory=dict, sa_type=JSON)
    predicted_class: str = Field(max_length=32)
    members: list[dict[str, float]] | None = Field(default=None, sa_type=JSON)
    confidence_epistemic: float | None = None
    confidence_aleatoric: float | None = None
    created_at: datetime = _when()


class CamAsset(SQLModel, table=True):
    """Raw CAMs and the overlay video of one video; ``token`` names the files without revealing ``kind``."""

    __tablename__ = "cam_assets"
    __table_args__ = (
        _in("kind", CamKind),
        _in("target_class", LusClass),
        UniqueConstraint("run_id", "video_id", "kind", "target_class", name="uq_cam_asset"),
    )

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="model_runs.id", index=True, ondelete="CASCADE")
    video_id: int = Field(foreign_key="videos.id", index=True, ondelete="CASCADE")
    kind: str = Field(max_length=8)
    target_class: str = Field(max_length=32)
    token: str = Field(unique=True, max_length=64)
    raw_path: str
    overlay_path: str
    peaks: list[list[int]] = Field(default_factory=list, sa_type=JSON)
    created_at: datetime = _when()


class Study(SQLModel, table=True):
    """A blinded expert study over the CAMs of one model run."""

    __tablename__ = "studies"
    __table_args__ = (
        _in("state", StudyState),
        CheckConstraint("reread_share >= 0 AND reread_share <= 0.5", name="ck_reread_share"),
        # Names differing only in letter case would be one study to the people who choose among them.
        Index("uq_studies_lower_name", text("lower(name)"), unique=True),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=128)
    description: str = Field(default="", sa_type=Text, sa_column_kwargs={"server_default": ""})
    run_id: int = Field(foreign_key="model_runs.id")
    state: str = Field(default=StudyState.DRAFT.value, max_length=16)
    reference_expert_id: int | None = Field(default=None, foreign_key="users.id")
    seed: int = 0
    reread_share: float = 0.0
    washout: int = 5
    created_by_id: int | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = _when()
    opened_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    closed_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class StudyExpert(SQLModel, table=True):
    """Membership: only listed experts may open a study."""

    __tablename__ = "study_experts"
    __table_args__ = (UniqueConstraint("study_id", "user_id", name="uq_study_expert"),)

    id: int | None = Field(default=None, primary_key=True)
    study_id: int = Field(foreign_key="studies.id", index=True, ondelete="CASCADE")
    user_id: int = Field(foreign_key="users.id", index=True)


class StudyItem(SQLModel, table=True):
    """One position in one expert's list, with the hidden key of which CAM is on the left.

    ``left_asset_id`` / ``right_asset_id`` pin the exact CAM assets shown, so re-running CAMs for the
    run later can never change what an expert already judged.
    """

    __tablename__ = "study_items"
    __table_args__ = (
        _in("left_kind", CamKind),
        UniqueConstraint("study_id", "expert_id", "position", name="uq_item_position"),
    )

    id: int | None = Field(default=None, primary_key=True)
    study_id: int = Field(foreign_key="studies.id", index=True, ondelete="CASCADE")
    expert_id: int = Field(foreign_key="users.id", index=True)
    video_id: int = Field(foreign_key="videos.id")
    position: int = Field(ge=0)
    left_kind: str = Field(max_length=8)
    left_asset_id: int | None = Field(default=None, foreign_key="cam_assets.id")
    right_asset_id: int | None = Field(default=None, foreign_key="cam_assets.id")
    token: str = Field(unique=True, max_length=64)
    reread_of_id: int | None = Field(default=None, foreign_key="study_items.id")


class Answer(SQLModel, table=True):
    """An expert's answer to one item; A is the left panel, B the right one."""

    __tablename__ = "answers"
    __table_args__ = (
        UniqueConstraint("item_id", "expert_id", name="uq_answer_item_expert"),
        CheckConstraint("score_a IS NULL OR (score_a >= -3 AND score_a <= 3)", name="ck_score_a_range"),
        CheckConstraint("score_b IS NULL OR (score_b >= -3 AND score_b <= 3)", name="ck_score_b_range"),
        CheckConstraint("seconds_spent >= 0", name="ck_seconds_nonnegative"),
        CheckConstraint("revision >= 1", name="ck_revision_positive"),
        CheckConstraint(
            "NOT complete OR (score_a IS NOT NULL AND score_b IS NOT NULL"
            " AND preferred IS NOT NULL AND class_guess IS NOT NULL)",
            name="ck_complete_answer_filled",
        ),
        _in("preferred", Preference, nullable=True),
        _in("class_guess", CLASS_GUESSES, nullable=True),
    )

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="study_items.id", index=True)
    expert_id: int = Field(foreign_key="users.id", index=True)
    score_a: int | None = None
    score_b: int | None = None
    preferred: str | None = Field(default=None, max_length=8)
    class_guess: str | None = Field(default=None, max_length=32)
    patterns_visible: list[str] = Field(default_factory=list, sa_type=JSON)
    patterns_a: list[str] = Field(default_factory=list, sa_type=JSON)
    patterns_b: list[str] = Field(default_factory=list, sa_type=JSON)
    comment: str | None = None
    complete: bool = False
    seconds_spent: float = 0.0
    revision: int = 1
    created_at: datetime = _when()
    updated_at: datetime = _when()


class RelabelItem(SQLModel, table=True):
    """A video ranked for relabelling by one strategy after one run; claims expire.

    ``label_id`` points at the label row the resolution wrote (confirmed or changed).
    """

    __tablename__ = "relabel_items"
    __table_args__ = (
        _in("status", QueueStatus),
        UniqueConstraint("run_id", "strategy", "video_id", name="uq_relabel_item"),
    )

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="model_runs.id", index=True, ondelete="CASCADE")
    video_id: int = Field(foreign_key="videos.id", ondelete="CASCADE")
    strategy: str = Field(max_length=32)
    rank: int = Field(ge=0)
    score: float
    status: str = Field(default=QueueStatus.OPEN.value, max_length=16)
    claimed_by_id: int | None = Field(default=None, foreign_key="users.id")
    claimed_until: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    resolved_by_id: int | None = Field(default=None, foreign_key="users.id")
    resolved_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    label_id: int | None = Field(default=None, foreign_key="video_labels.id")


class AuditLog(SQLModel, table=True):
    """Who did what, when: written in the same transaction as the change it describes."""

    __tablename__ = "audit_log"
    # Sign-in throttling counts recent failures by action and time on every attempt.
    __table_args__ = (Index("ix_audit_log_action_at", "action", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _when()
    user_id: int | None = Field(default=None, foreign_key="users.id")
    action: str = Field(max_length=64, index=True)
    entity: str = Field(max_length=64)
    entity_id: int | None = None
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
