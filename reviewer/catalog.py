"""Read-only views of the stored videos, for the data browser and the ``videos`` command.

Pages and scripts get plain frozen dataclasses rather than ORM rows, so nothing outside a session can
lazy-load or accidentally write. File paths in the database are relative to the home folder and are
never trusted: :func:`resolve_file` (in :mod:`reviewer.catalog_files`, importable from here) refuses
any path that would leave it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, TypedDict, TypeVar, Unpack

from sqlalchemy import func
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from db.models import Frame, PatternTag, Video
from reviewer.catalog_files import (
    VIDEO_MIME,
    CatalogError,
    MediaKind,
    media_kind,
    resolve_file,
    web_link,
)
from reviewer.vocab import LusClass, Pattern, Probe, VideoSource, values

__all__ = [
    "DEFAULT_LIMIT",
    "CatalogError",
    "FrameInfo",
    "MediaKind",
    "TagInfo",
    "VideoDetail",
    "VideoFilters",
    "VideoSummary",
    "count_videos",
    "label_counts",
    "list_videos",
    "resolve_file",
    "video_detail",
    "web_link",
]

DEFAULT_LIMIT = 50
PATTERN_ORDER = {pattern.value: rank for rank, pattern in enumerate(Pattern)}

E = TypeVar("E", bound=StrEnum)
Q = TypeVar("Q", bound=SelectOfScalar[Any])


@dataclass(frozen=True, slots=True)
class VideoSummary:
    """One row of the video list.

    ``frame_count`` counts the frames of the original recording, ``sampled_frames`` those kept for
    the model; ``tags`` are the distinct pattern values anyone asserted, in vocabulary order.
    """

    id: int
    display_name: str
    label: str | None
    probe: str
    source: str
    frame_count: int
    sampled_frames: int
    duration_s: float
    tags: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class TagInfo:
    """A pattern tag and who asserted it (dataset, annotator or phantom generator)."""

    pattern: str
    source: str


@dataclass(frozen=True, slots=True)
class FrameInfo:
    """A sampled frame; ``image_path`` is relative to the home folder."""

    index: int
    time_s: float
    image_path: str


@dataclass(frozen=True, slots=True)
class VideoDetail:
    """Everything the browser shows for one video, including where it came from and under which licence."""

    summary: VideoSummary
    file_path: str
    media: MediaKind
    mime: str | None
    source_url: str | None
    license: str | None
    license_url: str | None
    comment: str | None
    fps: float
    width: int
    height: int
    overlay_removal: bool
    tags: tuple[TagInfo, ...]
    frames: tuple[FrameInfo, ...]


class VideoFilters(TypedDict, total=False):
    """Filters of the video list; each takes stored vocabulary values, ``search`` a name substring."""

    label: LusClass | str | None
    probe: Probe | str | None
    source: VideoSource | str | None
    pattern: Pattern | str | None
    search: str | None


def list_videos(
    *, session: Session, limit: int = DEFAULT_LIMIT, offset: int = 0, **filters: Unpack[VideoFilters]
) -> list[VideoSummary]:
    """Stored videos matching every given filter, ordered by name, one page at a time.

    Filters take stored vocabulary values; an unknown value raises :class:`CatalogError` instead of
    silently matching nothing, so a typo on the command line is not mistaken for an empty library.
    ``search`` is a case-insensitive substring of the display name, with SQL wildcards taken literally.
    """
    if limit < 1 or offset < 0:
        raise CatalogError("The page size must be at least 1 and the offset cannot be negative.")
    query = _where(select(Video), filters)
    query = query.order_by(col(Video.display_name), col(Video.id)).limit(limit).offset(offset)
    return _summaries(session, list(session.exec(query)))


def count_videos(*, session: Session, **filters: Unpack[VideoFilters]) -> int:
    """How many videos :func:`list_videos` would return without paging, so pages can say "n of m"."""
    query = _where(select(func.count()).select_from(Video), filters)
    return int(session.exec(query).one())


def label_counts(*, session: Session) -> dict[LusClass | None, int]:
    """Videos per current label in vocabulary order, zeros included, ``None`` for unlabelled ones."""
    rows = session.exec(select(Video.label, func.count()).group_by(col(Video.label))).all()
    found = {label: int(count) for label, count in rows}
    counts: dict[LusClass | None, int] = {cls: found.get(cls.value, 0) for cls in LusClass}
    counts[None] = found.get(None, 0)
    return counts


def video_detail(*, session: Session, video_id: int) -> VideoDetail:
    """One video with its provenance, tags and sampled frames; unknown ids raise :class:`CatalogError`."""
    video = session.get(Video, video_id)
    if video is None:
        raise CatalogError(f"There is no video with id {video_id}.")
    tags = session.exec(
        select(PatternTag.pattern, PatternTag.source).where(PatternTag.video_id == video_id).distinct()
    ).all()
    frames = session.exec(select(Frame).where(Frame.video_id == video_id).order_by(col(Frame.index))).all()
    suffix = Path(video.file_path).suffix.lower()
    return VideoDetail(
        summary=_summaries(session, [video])[0],
        file_path=video.file_path,
        media=media_kind(suffix),
        mime=VIDEO_MIME.get(suffix),
        source_url=video.source_url,
        license=video.license,
        license_url=video.license_url,
        comment=video.comment,
        fps=video.fps,
        width=video.width,
        height=video.height,
        overlay_removal=video.overlay_removal,
        tags=tuple(
            TagInfo(pattern, source)
            for pattern, source in sorted(tags, key=lambda t: (PATTERN_ORDER[t[0]], t[1]))
        ),
        frames=tuple(FrameInfo(f.index, f.time_s, f.image_path) for f in frames),
    )


def _member(enum: type[E], value: E | str, what: str) -> E:
    try:
        return enum(value)
    except ValueError as exc:
        raise CatalogError(f"Unknown {what} {value!r}; choose one of {', '.join(values(enum))}.") from exc


def _where(query: Q, filters: VideoFilters) -> Q:
    if (label := filters.get("label")) is not None:
        query = query.where(Video.label == _member(LusClass, label, "class").value)
    if (probe := filters.get("probe")) is not None:
        query = query.where(Video.probe == _member(Probe, probe, "probe").value)
    if (source := filters.get("source")) is not None:
        query = query.where(Video.source == _member(VideoSource, source, "source").value)
    if (pattern := filters.get("pattern")) is not None:
        tagged = select(PatternTag.video_id).where(
            PatternTag.pattern == _member(Pattern, pattern, "pattern").value
        )
        query = query.where(col(Video.id).in_(tagged))
    search = filters.get("search")
    if search and search.strip():
        query = query.where(col(Video.display_name).icontains(search.strip(), autoescape=True))
    return query


def _summaries(session: Session, videos: Sequence[Video]) -> list[VideoSummary]:
    """Summaries with tags and frame counts fetched in two queries for the whole page, not per video."""
    ids = [video.id for video in videos if video.id is not None]
    frame_rows = session.exec(
        select(Frame.video_id, func.count()).where(col(Frame.video_id).in_(ids)).group_by(col(Frame.video_id))
    ).all()
    sampled = {video_id: int(count) for video_id, count in frame_rows}
    tags: dict[int, set[str]] = {}
    for video_id, tag in session.exec(
        select(PatternTag.video_id, PatternTag.pattern).where(col(PatternTag.video_id).in_(ids)).distinct()
    ):
        tags.setdefault(video_id, set()).add(tag)
    return [
        VideoSummary(
            id=video_id,
            display_name=video.display_name,
            label=video.label,
            probe=video.probe,
            source=video.source,
            frame_count=video.frame_count,
            sampled_frames=sampled.get(video_id, 0),
            duration_s=video.duration_s,
            tags=tuple(sorted(tags.get(video_id, ()), key=PATTERN_ORDER.__getitem__)),
        )
        for video, video_id in zip(videos, ids, strict=True)
    ]
