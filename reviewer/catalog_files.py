"""Stored files as the browser may show them: safe paths, playable media kinds, clickable links.

Split from :mod:`reviewer.catalog` (which re-exports these names): nothing here touches the database,
so pages and services that only need to open a stored file do not depend on the video queries.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit

from reviewer.settings import Settings
from reviewer.storage import resolve


class CatalogError(ValueError):
    """A browse request that cannot be honoured; the message is safe to show."""


class MediaKind(StrEnum):
    """How a browser can show an original file."""

    VIDEO = "video"
    IMAGE = "image"
    NONE = "none"


# Containers browsers play natively. QuickTime files from scanners hold H.264, which browsers
# decode when the file is served as MP4; AVI and MPEG-PS are not playable, their frames are shown.
VIDEO_MIME = {".mp4": "video/mp4", ".m4v": "video/mp4", ".mov": "video/mp4", ".webm": "video/webm"}
IMAGE_SUFFIXES = frozenset({".gif", ".png", ".jpg", ".jpeg"})


def resolve_file(*, settings: Settings, relative_path: str) -> Path:
    """Absolute path of a stored file, refusing anything outside the home folder.

    Paths come from the database, which an import or a hand edit may have filled with ``..`` parts,
    absolute paths or symlinks; resolving first and then checking containment defeats all three.
    """
    try:
        candidate = resolve(settings, relative_path)
    except (OSError, ValueError) as exc:  # climbing out, absolute paths, NUL bytes, symlink loops
        raise CatalogError(
            "A stored file path is not valid or points outside the data folder; the file was not opened."
        ) from exc
    if not candidate.is_file():
        raise CatalogError(f"The stored file {relative_path!r} is missing from the data folder.")
    return candidate


def web_link(url: str | None) -> str | None:
    """The URL if it is an absolute http(s) address, else None.

    Source and licence URLs come from CSV files and uploads; only web addresses may become clickable,
    never ``javascript:``, ``data:`` or ``file:`` links.
    """
    candidate = (url or "").strip()
    if not candidate or any(char.isspace() for char in candidate):
        return None
    parts = urlsplit(candidate)
    return candidate if parts.scheme.lower() in {"http", "https"} and parts.netloc else None


def media_kind(suffix: str) -> MediaKind:
    """How a browser can show a stored file with this (lower-case) suffix."""
    if suffix in VIDEO_MIME:
        return MediaKind.VIDEO
    if suffix in IMAGE_SUFFIXES:
        return MediaKind.IMAGE
    return MediaKind.NONE
