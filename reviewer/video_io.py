"""Decode uploaded bytes into sampled RGB frames with OpenCV, refusing what cannot be trusted.

The container format is recognised from the file's first bytes, never from the uploaded name, so a
text file called ``.mp4`` or a playlist in disguise never reaches FFmpeg. Frames are sampled at
``settings.sample_hz`` and, as in Born et al. (POCOVID-Net), only the *first* ``settings.max_frames``
samples are kept: the first seconds of a clip are what the dataset's models were trained on. Frames
that are not needed are only ``grab()``-bed (demuxed and decoded, never converted), which keeps the
pass that counts the frames cheap.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import cv2
import numpy as np
from cv2.typing import MatLike
from numpy.typing import NDArray
from PIL import Image

from reviewer.settings import Settings

Rgb = NDArray[np.uint8]

VIDEO_FORMATS = frozenset({"mp4", "mov", "avi", "mpeg", "gif"})
IMAGE_FORMATS = frozenset({"png", "jpg"})
FORMATS = VIDEO_FORMATS | IMAGE_FORMATS
ACCEPTED = "mp4, mov, avi, mpeg, gif, png or jpg"

_MEGABYTE = 1024 * 1024
_QUICKTIME_ATOMS = (b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot")
_MPEG_STARTS = (b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3")
_TS_PACKET = 188
# A file that ends before this share of the frames its header announces is reported as truncated;
# real encoders overstate the count by a few percent (e.g. 192 of 210 in the POCUS set).
_TRUNCATION_SHARE = 0.9


class VideoError(ValueError):
    """A file that cannot be used as a video; the message is safe to show to the user."""


@dataclass(frozen=True)
class VideoInfo:
    """What is recorded about the original file; a still image counts as one frame of one second."""

    fps: float
    width: int
    height: int
    frame_count: int
    duration_s: float


@dataclass(frozen=True)
class DecodedVideo:
    """Sampled RGB frames, their indices in the original, and anything the user should know.

    ``kind`` is the format recognised from the content (one of :data:`FORMATS`).
    """

    kind: str
    info: VideoInfo
    frames: tuple[Rgb, ...]
    source_indices: tuple[int, ...]
    warnings: tuple[str, ...] = ()


def sniff_format(data: bytes) -> str:
    """Name the container from its magic bytes, so that the uploaded name is never trusted.

    Raises:
        VideoError: if the bytes are empty or not one of the accepted formats.
    """
    if not data:
        raise VideoError("The file is empty.")
    head = data[:12]
    if head[4:8] in _QUICKTIME_ATOMS:
        return "mov" if head[8:12] == b"qt  " else "mp4"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "avi"
    if head[:4] in _MPEG_STARTS or (data[0] == 0x47 and data[_TS_PACKET : _TS_PACKET + 1] == b"\x47"):
        return "mpeg"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if head[:3] == b"\xff\xd8\xff":
        return "jpg"
    raise VideoError(f"This file is not a video or image this tool can read (expected {ACCEPTED}).")


def check_size(size: int, settings: Settings) -> None:
    """Refuse a file above ``settings.max_upload_mb`` before any time is spent on it.

    Raises:
        VideoError: naming the limit.
    """
    if size > settings.max_upload_mb * _MEGABYTE:
        raise VideoError(f"The file is larger than the {settings.max_upload_mb} MB limit.")


def sample_indices(fps: float, sample_hz: float, max_frames: int) -> list[int]:
    """Frame indices at ``sample_hz`` from the start, at most ``max_frames`` of them.

    Indices are rounded from exact sample times (not a fixed integer step), so 22.25 fps still
    gives 3 samples per second; clips slower than ``sample_hz`` contribute every frame.
    """
    step = max(fps / sample_hz, 1.0)
    return [round(k * step) for k in range(max_frames)]


def decode(data: bytes, *, settings: Settings) -> DecodedVideo:
    """Check the limits, then decode the sampled frames of an uploaded video or image.

    Raises:
        VideoError: for empty, oversized, unreadable, too long or too high-resolution input, and for
            a video of which not a single frame decodes. A video that breaks off after at least one
            frame is accepted with a warning, keeping the frames decoded before the break.
    """
    check_size(len(data), settings)
    kind = sniff_format(data)
    if kind in IMAGE_FORMATS:
        return _decode_image(data, kind, settings)
    with tempfile.TemporaryDirectory(prefix="lusreview-") as folder:
        path = Path(folder) / f"upload.{kind}"
        path.write_bytes(data)
        capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
        try:
            return _decode_capture(capture, kind, settings)
        finally:
            capture.release()


def _check_pixels(width: int, height: int, settings: Settings) -> None:
    if width <= 0 or height <= 0:
        raise VideoError("The file does not state a valid frame size; it may be corrupt.")
    if width * height > settings.max_video_pixels:
        raise VideoError(
            f"The resolution {width} x {height} is above the limit of {settings.max_video_pixels:,} pixels."
        )


def _decode_image(data: bytes, kind: str, settings: Settings) -> DecodedVideo:
    try:
        with Image.open(BytesIO(data)) as header:  # reads the size only, so huge images cost nothing
            width, height = header.size
    except (OSError, Image.DecompressionBombError) as exc:
        raise VideoError("The image could not be read; it may be truncated or corrupt.") from exc
    _check_pixels(width, height, settings)
    bgr = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise VideoError("The image could not be decoded; it may be truncated or corrupt.")
    info = VideoInfo(fps=1.0, width=width, height=height, frame_count=1, duration_s=1.0)
    return DecodedVideo(kind=kind, info=info, frames=(_rgb(bgr),), source_indices=(0,))


def _decode_capture(capture: cv2.VideoCapture, kind: str, settings: Settings) -> DecodedVideo:
    if not capture.isOpened():
        raise VideoError("The video could not be opened; it may be truncated, corrupt or not a video.")
    width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
    height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    _check_pixels(width, height, settings)
    fps = float(capture.get(cv2.CAP_PROP_FPS))
    if not math.isfinite(fps) or fps <= 0:
        raise VideoError("The video does not state a frame rate; it may be corrupt.")
    announced = max(int(capture.get(cv2.CAP_PROP_FRAME_COUNT)), 0)
    _check_seconds(announced, fps, settings)
    wanted = sample_indices(fps, settings.sample_hz, settings.max_frames)
    frames, indices, count = _read_samples(capture, wanted, fps, settings)
    if not frames:
        raise VideoError("No frame of this video could be decoded; it may be truncated or corrupt.")
    height, width = frames[0].shape[:2]  # what was decoded, e.g. after applying a rotation tag
    warnings: tuple[str, ...] = ()
    if count < _TRUNCATION_SHARE * announced:
        warnings = (
            f"The video ended after {count} of the {announced} frames its header announces; "
            "it may be truncated. The frames before the break were kept.",
        )
    info = VideoInfo(fps=fps, width=width, height=height, frame_count=count, duration_s=count / fps)
    return DecodedVideo(
        kind=kind, info=info, frames=tuple(frames), source_indices=tuple(indices), warnings=warnings
    )


def _check_seconds(frame_count: int, fps: float, settings: Settings) -> None:
    if frame_count / fps > settings.max_video_seconds:
        raise VideoError(f"The video is longer than the limit of {settings.max_video_seconds:g} seconds.")


def _read_samples(
    capture: cv2.VideoCapture, wanted: list[int], fps: float, settings: Settings
) -> tuple[list[Rgb], list[int], int]:
    """Walk the whole stream once: retrieve the wanted frames, only grab (and count) the rest."""
    frames: list[Rgb] = []
    indices: list[int] = []
    pending = iter(wanted)
    target = next(pending, None)
    count = 0
    while capture.grab():
        _check_seconds(count, fps, settings)  # the header may understate the length
        if count == target:
            ok, bgr = capture.retrieve()
            if ok and bgr is not None:
                _check_pixels(bgr.shape[1], bgr.shape[0], settings)  # the header may understate it
                if frames and bgr.shape != frames[0].shape:
                    raise VideoError("The frame size changes mid-way through the video; please re-export it.")
                frames.append(_rgb(bgr))
                indices.append(count)
            target = next(pending, None)
        count += 1
    return frames, indices, count


def _rgb(bgr: MatLike) -> Rgb:
    return np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), dtype=np.uint8)
