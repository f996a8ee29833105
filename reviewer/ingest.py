"""Video ingest: from uploaded bytes to a stored video with sampled, cleaned 224 x 224 frames.

One call stores one video inside the caller's transaction (flushed, never committed) and inside a
savepoint of its own, so that a failing video leaves neither rows nor files (see
:mod:`reviewer.storage`) even when the caller goes on to store others in the same transaction.
Every refusal is an :class:`IngestError` whose message can be shown to the user as it is. Options
and their checks live in :mod:`reviewer.ingest_options`, decoding and cropping in
:mod:`reviewer.ingest_prepare`; their public names are importable from here.
"""

from __future__ import annotations

import hashlib
import logging
from functools import partial
from pathlib import Path, PurePosixPath

import numpy as np
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from db.models import Frame, PatternTag, Video, VideoLabel
from reviewer.audit import record
from reviewer.ingest_options import IngestError, IngestOptions, checked_options, parse_label
from reviewer.ingest_prepare import Prepared, Preview, check_upload_size, prepare, preview_video
from reviewer.settings import Settings
from reviewer.storage import display_name, frame_path, mask_path, video_path, write_file, write_png

__all__ = [
    "IngestError",
    "IngestOptions",
    "Preview",
    "ingest_file",
    "ingest_video",
    "parse_label",
    "preview_video",
]

log = logging.getLogger(__name__)


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
    options = checked_options(options)
    check_upload_size(len(data), settings)
    checksum = hashlib.sha256(data).hexdigest()
    existing = session.exec(select(Video).where(Video.checksum == checksum)).first()
    if existing is not None:
        raise IngestError(f"This file is already stored as video {existing.id} ({existing.display_name!r}).")
    prepared = prepare(settings, data, options)
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
        check_upload_size(path.stat().st_size, settings)
        data = path.read_bytes()
    except OSError as exc:
        raise IngestError(f"{path.name} could not be read: {exc.strerror or 'unknown error'}.") from exc
    return ingest_video(
        session=session, settings=settings, data=data, filename=path.name, options=options, user_id=user_id
    )


def _new_video(
    settings: Settings,
    checksum: str,
    name: str,
    prepared: Prepared,
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


def _store_files(session: Session, settings: Settings, video: Video, data: bytes, prepared: Prepared) -> None:
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
