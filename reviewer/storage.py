"""Content-addressed file store under the home folder, tied to the database transaction.

Files are named after the SHA-256 of the upload, never after the uploaded name, and written
atomically (temporary file, fsync, ``os.replace``), so a reader sees a whole file or none. Every file
written while a session's transaction is open is remembered in ``session.info``; if that transaction
(or the savepoint it was written in) rolls back, the files are deleted again, and once the outermost
transaction commits they are forgotten. So "no rows" always comes with "no files".
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import tempfile
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import NamedTuple

import cv2
import numpy as np
from numpy.typing import NDArray
from sqlalchemy import event
from sqlalchemy.orm import SessionTransaction
from sqlmodel import Session

from reviewer.settings import Settings
from reviewer.video_io import FORMATS

log = logging.getLogger(__name__)

_CHECKSUM = re.compile(r"^[0-9a-f]{64}$")
_WRITTEN = "lusreview.written_files"
_NAME_LIMIT = 255
_FALLBACK_NAME = "video"


def display_name(filename: str) -> str:
    """A harmless name to *show*: no folders, no control characters, at most 255 characters.

    It is never used on disk; the stored files are named after their content.
    """
    base = re.split(r"[\\/]", unicodedata.normalize("NFC", filename))[-1]
    printable = "".join(ch for ch in base if unicodedata.category(ch)[0] != "C").strip()
    return printable[:_NAME_LIMIT] or _FALLBACK_NAME


def video_path(settings: Settings, checksum: str, extension: str) -> PurePosixPath:
    """Where an original is kept, relative to home: ``videos/<sha[:2]>/<sha>.<ext>``."""
    if extension not in FORMATS:
        raise ValueError(f"unsupported extension {extension!r}")
    return _relative(settings, settings.videos_dir) / _checked(checksum)[:2] / f"{checksum}.{extension}"


def frame_path(settings: Settings, checksum: str, index: int) -> PurePosixPath:
    """Where a sampled frame is kept, relative to home: ``frames/<sha>/<index:03d>.png``."""
    return _relative(settings, settings.frames_dir) / _checked(checksum) / f"{index:03d}.png"


def mask_path(settings: Settings, checksum: str, index: int) -> PurePosixPath:
    """Where a frame's overlay mask is kept, beside the frame: ``frames/<sha>/<index:03d>_mask.png``."""
    return _relative(settings, settings.frames_dir) / _checked(checksum) / f"{index:03d}_mask.png"


def resolve(settings: Settings, relative: str | PurePosixPath) -> Path:
    """Absolute path of a stored file; refuses anything that would point outside home.

    Raises:
        ValueError: for absolute paths or paths that climb out of home.
    """
    home = settings.home.resolve()
    target = (home / Path(relative)).resolve()
    if PurePosixPath(relative).is_absolute() or not target.is_relative_to(home):
        raise ValueError("stored paths must stay inside the home folder")
    return target


def write_file(*, session: Session, settings: Settings, relative: PurePosixPath, data: bytes) -> str:
    """Write ``data`` atomically and tie the file to the session's transaction.

    Returns:
        The path relative to home, as stored in the database.
    """
    target = resolve(settings, relative)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".part-")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    _remember(session, target, settings.home.resolve())
    return relative.as_posix()


@contextmanager
def published(target: Path) -> Iterator[Path]:
    """A hidden path beside ``target``, ending in its name, that becomes ``target`` when the block succeeds.

    For writers that want a file name rather than bytes (NumPy, Keras, the H.264 encoder): a reader,
    the backup's walk above all, sees the whole file or none of it, since a hidden name marks a file
    still being written. On failure the partial file is removed.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".part-{secrets.token_hex(8)}-{target.name}")
    try:
        yield temporary
        with temporary.open("rb") as stream:
            os.fsync(stream.fileno())
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def write_png(
    *, session: Session, settings: Settings, relative: PurePosixPath, image: NDArray[np.uint8]
) -> str:
    """Encode an RGB frame or a single-channel mask as PNG (lossless) and write it like :func:`write_file`."""
    pixels = cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if image.ndim == 3 else image
    ok, encoded = cv2.imencode(".png", pixels)
    if not ok:
        raise ValueError("the image could not be encoded as PNG")
    return write_file(session=session, settings=settings, relative=relative, data=encoded.tobytes())


def _checked(checksum: str) -> str:
    if not _CHECKSUM.match(checksum):
        raise ValueError("a checksum is 64 lower-case hexadecimal digits")
    return checksum


def _relative(settings: Settings, folder: Path) -> PurePosixPath:
    return PurePosixPath(folder.relative_to(settings.home).as_posix())


class _Written(NamedTuple):
    path: Path
    home: Path
    owner: SessionTransaction


def _remember(session: Session, path: Path, home: Path) -> None:
    """Register ``path`` under the innermost open transaction, beginning one if none is open yet."""
    owner = session.get_nested_transaction() or session.get_transaction() or session.begin()
    session.info.setdefault(_WRITTEN, []).append(_Written(path, home, owner))
    if not event.contains(session, "after_soft_rollback", _after_rollback):
        event.listen(session, "after_soft_rollback", _after_rollback)
        event.listen(session, "after_commit", _after_commit)
        event.listen(session, "after_transaction_end", _after_end)


def _within(transaction: SessionTransaction | None, ended: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is ended:
            return True
        transaction = transaction.parent
    return False


def _discard(session: Session, ended: SessionTransaction) -> None:
    """Delete the files written inside ``ended`` (or a savepoint within it) and forget them."""
    written: list[_Written] = session.info.get(_WRITTEN, [])
    session.info[_WRITTEN] = [entry for entry in written if not _within(entry.owner, ended)]
    for entry in written:
        if _within(entry.owner, ended):
            _delete(entry.path, entry.home)


def _after_rollback(session: Session, previous_transaction: SessionTransaction) -> None:
    _discard(session, previous_transaction)


def _after_commit(session: Session) -> None:
    if not session.in_nested_transaction():  # a released savepoint still rolls back with its parent
        session.info[_WRITTEN] = []


def _after_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # closed without a commit: no row can refer to the files
        _discard(session, transaction)


def _delete(path: Path, home: Path) -> None:
    """Remove a file and the folders it leaves empty below home; never raise inside a rollback."""
    try:
        path.unlink(missing_ok=True)
        for folder in path.parents:
            if folder == home or not folder.is_relative_to(home) or any(folder.iterdir()):
                break
            folder.rmdir()
    except OSError:
        log.exception("could not remove %s after a rollback", path)
