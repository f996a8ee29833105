"""The database-free half of the ingest: check the size, decode, choose the crop, clean the frames.

Everything here works on bytes and arrays only, so the annotator page can preview an upload (first
frame and suggested crop) with exactly the checks and messages the ingest itself will give.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2

from reviewer.frames import Crop, CropError
from reviewer.frames_crop import suggest_crop
from reviewer.frames_overlays import CleanFrames, clean_frames
from reviewer.ingest_options import IngestError, IngestOptions, checked_options
from reviewer.settings import Settings
from reviewer.storage import display_name
from reviewer.video_io import DecodedVideo, Rgb, VideoError, VideoInfo, check_size, decode
from reviewer.vocab import Probe

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Preview:
    """What the annotator page shows before storing: the first frame and the suggested crop."""

    display_name: str
    first_frame: Rgb
    crop: Crop
    info: VideoInfo
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class Prepared:
    """A decoded upload with its crop and cleaned frames, ready to be written."""

    decoded: DecodedVideo
    crop: Crop
    remove_overlays: bool
    clean: CleanFrames


def preview_video(*, settings: Settings, data: bytes, filename: str, probe: Probe) -> Preview:
    """Decode an upload and suggest its crop without storing anything, so the user can adjust it.

    Raises:
        IngestError: for a file that cannot be used, with the same message ingest would give.
    """
    options = checked_options(IngestOptions(probe=probe))
    decoded = decode_upload(data, settings)
    crop = choose_crop(decoded, options)
    info, first = decoded.info, decoded.frames[0]
    return Preview(display_name(filename), first_frame=first, crop=crop, info=info, warnings=decoded.warnings)


def prepare(settings: Settings, data: bytes, options: IngestOptions) -> Prepared:
    """Everything that needs no database and no file: decode, crop, clean, resize.

    Raises:
        IngestError: for a file that cannot be decoded or whose every frame is covered by a pointer.
    """
    decoded = decode_upload(data, settings)
    crop = choose_crop(decoded, options)
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
    return Prepared(decoded=decoded, crop=crop, remove_overlays=remove, clean=clean)


def check_upload_size(size: int, settings: Settings) -> None:
    """Refuse an oversized file before reading or hashing it.

    Raises:
        IngestError: naming the limit from the settings.
    """
    try:
        check_size(size, settings)
    except VideoError as exc:
        raise IngestError(str(exc)) from exc


def decode_upload(data: bytes, settings: Settings) -> DecodedVideo:
    """Decode the sampled frames, turning every decoder refusal into an :class:`IngestError`."""
    try:
        return decode(data, settings=settings)
    except VideoError as exc:
        raise IngestError(str(exc)) from exc


def choose_crop(decoded: DecodedVideo, options: IngestOptions) -> Crop:
    """The uploader's crop if it fits the frame, else the suggested one for the probe.

    Raises:
        IngestError: for a user crop reaching outside the frame.
    """
    if options.crop is None:
        return suggest_crop(decoded.frames, options.probe)
    try:
        return options.crop.check_within(decoded.info.width, decoded.info.height)
    except CropError as exc:
        raise IngestError(str(exc)) from exc
