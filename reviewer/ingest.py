"""Video ingest: from uploaded bytes to a stored video with sampled, cleaned 224 x 224 frames.

One call stores one video inside the caller's transaction (flushed, never committed) and inside a
savepoint of its own, so that a failing video leaves neither rows nor files (see
:mod:`reviewer.storage`) even when the caller goes on to store others in the same transaction.
Every refusal is an :class:`IngestError` whose message can be shown to the user as it is.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path, PurePosixPath

import cv2
import numpy as np
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from db.models import Frame, PatternTag, Video, VideoLabel
from reviewer.audit import record
from reviewer.frames import CleanFrames, Crop, CropError, clean_frames, suggest_crop
from reviewer.settings import Settings
from reviewer.storage import display_name, frame_path, mask_path, video_path, write_file, write_png
from reviewer.video_io import DecodedVideo, Rgb, VideoError, VideoInfo, check_size, decode
from reviewer.vocab import CLASS_LABELS, LusClass, Pattern, Probe, TagSource, VideoSource

log = logging.getLogger(__name__)

_ALIASES: dict[str, LusClass] = {
    **{member.value: member for member in LusClass},
    **{label.casefold(): member for member, label in CLASS_LABELS.items()},
    "covid19": LusClass.COVID,
    "bacterial": LusClass.PNEUMONIA,
    "regular": LusClass.HEALTHY,
    "normal": LusClass.HEALTHY,
}
_WEB_SCHEMES = ("http://", "https://")


class IngestError(ValueError):
    """A video that cannot be stored; the message is safe to show to the user."""


@dataclass(frozen=True)
class IngestOptions:
    """What the uploader says about a video; ``None`` crop and overlay switch mean "decide for me"."""

    label: LusClass | None = None
    probe: Probe = Probe.CONVEX
    source: VideoSource = VideoSource.UPLOAD
    source_url: str | None = None
    license: str | None = None
    license_url: str | None = None
    comment: str | None = None
    remove_overlays: bool | None = None
    crop: Crop | None = None
    patterns: tuple[Pattern, ...] = ()
    tag_source: TagSource = TagSource.ANNOTATOR


@dataclass(frozen=True)
class Preview:
    """What the annotator page shows before storing: the first frame and the suggested crop."""

    display_name: str
    first_frame: Rgb
    crop: Crop
    info: VideoInfo
    warnings: tuple[str, ...]


def parse_label(text: str) -> LusClass:
    """Read a class as people write it ("COVID-19", "covid", "regular", "Bacterial pneumonia"...).

    Raises:
        IngestError: naming the allowed labels, so that a typo never becomes a new class.
    """
    key = " ".join(str(text).split()).casefold()
    if key in _ALIASES:
        return _ALIASES[key]
    allowed = ", ".join(CLASS_LABELS.values())
    raise IngestError(f"Unknown label {str(text)[:64]!r}; use one of: {allowed}.")


def preview_video(*, settings: Settings, data: bytes, filename: str, probe: Probe) -> Preview:
    """Decode an upload and suggest its crop without storing anything, so the user can adjust it.

    Raises:
        IngestError: for a file that cannot be used, with the same message ingest would give.
    """
    options = _checked(IngestOptions(probe=probe))
    decoded = _decode(data, settings)
    crop = _crop(decoded, options)
    info, first = decoded.info, decoded.frames[0]
    return Preview(display_name(filename), first_frame=first, crop=crop, info=info, warnings=decoded.warnings)


def ingest_video(
    *,
    session: Session,
    settings: Settings,
    data: bytes,
    filename: str,
    options: IngestOptions,
    user_id: int | None = None,
) -> Video:
    """Store one uploaded video: original, sampled frames, overlay masks, label, tags and audit row.

    Rows are added to the caller's session and flushed, never committed: the caller's
    ``session_scope`` decides. Files are tied to the transaction and vanish if it rolls back.

    Raises:
        IngestError: for a duplicate (same SHA-256), bad options, or a file that cannot be used.
    """
    options = _checked(options)
    _check_size(len(data), settings)
    checksum = hashlib.sha256(data).hexdigest()
    existing = session.exec(select(Video).where(Video.checksum == checksum)).first()
    if existing is not None:
        raise IngestError(f"This file is already stored as video {existing.id} ({existing.display_name!r}).")
    prepared = _prepare(settings, data, options)
    try:
        with session.begin_nested():
            video = _new_video(settings, checksum, display_name(filename), prepared, options, user_id)
            session.add(video)
            session.flush()  # claims the checksum before any file is written under it
            _store_files(session, settings, video, data, prepared)
            _store_rows(session, video, options, user_id, prepared.decoded.warnings)
            session.flush()
    except IntegrityError as exc:
        raise IngestError("This file was stored by someone else a moment ago (same checksum).") from exc
    except Exception as exc:  # the savepoint is rolled back and its files deleted: say so, log the cause
        log.exception("storing %s failed", checksum)
        raise IngestError("The video could not be stored; nothing was kept. Please try again.") from exc
    return video


def ingest_file(
    *, session: Session, settings: Settings, path: Path, options: IngestOptions, user_id: int | None = None
) -> Video:
    """Ingest a file from disk (the CLI); its base name is the display name, never a storage name.

    Raises:
        IngestError: as :func:`ingest_video`, and for a missing, unreadable or oversized file.
    """
    try:
        _check_size(path.stat().st_size, settings)
        data = path.read_bytes()
    except OSError as exc:
        raise IngestError(f"{path.name} could not be read: {exc.strerror or 'unknown error'}.") from exc
    return ingest_video(
        session=session, settings=settings, data=data, filename=path.name, options=options, user_id=user_id
    )


@dataclass(frozen=True)
class _Prepared:
    decoded: DecodedVideo
    crop: Crop
    remove_overlays: bool
    clean: CleanFrames


def _checked(options: IngestOptions) -> IngestOptions:
    """Re-check enumerations and links, since callers may build options from raw form values."""
    for url in (options.source_url, options.license_url):
        if url is not None and not url.lower().startswith(_WEB_SCHEMES):
            raise IngestError("Links must start with http:// or https://.")
    label = None if options.label is None else parse_label(options.label)
    try:
        return replace(
            options,
            label=label,
            probe=Probe(options.probe),
            source=VideoSource(options.source),
            tag_source=TagSource(options.tag_source),
            patterns=tuple(dict.fromkeys(Pattern(p) for p in options.patterns)),
        )
    except ValueError as exc:
        raise IngestError(f"Unknown option value: {exc}.") from exc


def _prepare(settings: Settings, data: bytes, options: IngestOptions) -> _Prepared:
    """Everything that needs no database and no file: decode, crop, clean, resize."""
    decoded = _decode(data, settings)
    crop = _crop(decoded, options)
    remove = settings.remove_overlays if options.remove_overlays is None else options.remove_overlays
    try:
        clean = clean_frames(decoded.frames, crop, settings.frame_size, remove_overlays=remove)
    except cv2.error as exc:
        log.exception("cleaning the frames failed")
        raise IngestError("The video could not be processed; it may be corrupt.") from exc
    if not clean.frames:
        raise IngestError(
            "A moving pointer covers the lung in every frame; store it without overlay removal."
        )
    return _Prepared(decoded=decoded, crop=crop, remove_overlays=remove, clean=clean)


def _check_size(size: int, settings: Settings) -> None:
    try:
        check_size(size, settings)
    except VideoError as exc:
        raise IngestError(str(exc)) from exc


def _decode(data: bytes, settings: Settings) -> DecodedVideo:
    try:
        return decode(data, settings=settings)
    except VideoError as exc:
        raise IngestError(str(exc)) from exc


def _crop(decoded: DecodedVideo, options: IngestOptions) -> Crop:
    if options.crop is None:
        return suggest_crop(decoded.frames, options.probe)
    try:
        return options.crop.check_within(decoded.info.width, decoded.info.height)
    except CropError as exc:
        raise IngestError(str(exc)) from exc


def _new_video(
    settings: Settings,
    checksum: str,
    name: str,
    prepared: _Prepared,
    options: IngestOptions,
    user_id: int | None,
) -> Video:
    crop, info = prepared.crop, prepared.decoded.info
    return Video(
        checksum=checksum,
        display_name=name,
        file_path=video_path(settings, checksum, prepared.decoded.kind).as_posix(),
        source=options.source.value,
        source_url=options.source_url,
        license=options.license,
        license_url=options.license_url,
        comment=options.comment,
        probe=options.probe.value,
        label=options.label.value if options.label else None,
        fps=info.fps,
        width=info.width,
        height=info.height,
        frame_count=info.frame_count,
        duration_s=info.duration_s,
        crop_x=crop.x,
        crop_y=crop.y,
        crop_w=crop.w,
        crop_h=crop.h,
        overlay_removal=prepared.remove_overlays,
        created_by_id=user_id,
    )


def _store_files(
    session: Session, settings: Settings, video: Video, data: bytes, prepared: _Prepared
) -> None:
    """Write the original, every kept frame and its mask, adding one Frame row per kept frame."""
    assert video.id is not None
    decoded, clean = prepared.decoded, prepared.clean
    png = partial(write_png, session=session, settings=settings)
    write_file(session=session, settings=settings, relative=PurePosixPath(video.file_path), data=data)
    for index, position in enumerate(clean.kept):
        source = decoded.source_indices[position]
        image = png(image=clean.frames[index], relative=frame_path(settings, video.checksum, index))
        mask, share = None, 0.0
        if clean.masks is not None:
            share = float(clean.masks[index].mean())
            mask = png(
                image=clean.masks[index].astype(np.uint8) * 255,
                relative=mask_path(settings, video.checksum, index),
            )
        session.add(
            Frame(
                video_id=video.id,
                index=index,
                source_index=source,
                time_s=source / decoded.info.fps,
                image_path=image,
                mask_path=mask,
                overlay_fraction=share,
            )
        )


def _store_rows(
    session: Session, video: Video, options: IngestOptions, user_id: int | None, warnings: tuple[str, ...]
) -> None:
    """Label history, pattern tags and the audit row, all in the same transaction as the video."""
    assert video.id is not None
    if options.label is not None:
        session.add(VideoLabel(video_id=video.id, label=options.label.value, action="set", user_id=user_id))
    for pattern in options.patterns:
        session.add(
            PatternTag(
                video_id=video.id, pattern=pattern.value, source=options.tag_source.value, user_id=user_id
            )
        )
    for warning in warnings:
        log.warning("video %s: %s", video.id, warning)
    record(
        session=session,
        action="video.ingest",
        entity="video",
        entity_id=video.id,
        user_id=user_id,
        checksum=video.checksum,
        display_name=video.display_name,
        label=video.label,
        crop=[video.crop_x, video.crop_y, video.crop_w, video.crop_h],
        overlay_removal=video.overlay_removal,
        patterns=[p.value for p in options.patterns],
        warnings=list(warnings),
    )
