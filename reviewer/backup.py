"""Backups an administrator can take while the app keeps running: the database and the stored files.

A SQLite database is copied with SQLite's online backup API from one pinned snapshot (WAL readers never
block writers), checked with ``PRAGMA integrity_check`` and its Alembic revision read back; a
PostgreSQL database is dumped by ``pg_dump``, never by hand (both in :mod:`reviewer.backup_database`).
Every file is written under a temporary name in the destination and published under its final name
only once it is complete and checked, without ever replacing an existing file: a backup folder only
ever holds whole, verified backups.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from db.session import make_engine, session_scope
from reviewer.audit import record
from reviewer.backup_database import BackupError, copy_sqlite, dump_postgres, find_pg_dump
from reviewer.backup_files import Archived, archive_files
from reviewer.settings import Settings

BACKUP_ACTION = "backup.made"
_SIDECARS = ("-journal", "-wal", "-shm")


@dataclass(frozen=True)
class Backup:
    """What a backup wrote: the database copy, its size and schema revision, and the files archive."""

    database: Path
    bytes: int
    revision: str
    files: Path | None = None
    file_count: int = 0
    file_bytes: int = 0


def make_backup(*, settings: Settings, dest: Path, with_files: bool, now: datetime | None = None) -> Backup:
    """Back up the configured database (and with ``with_files`` the stored files) into ``dest``.

    The files are archived around the database copy, in two passes (:mod:`reviewer.backup_files`):
    every stored file before it (a file deleted later, such as a replaced CAM asset, is still in the
    archive for the rows that name it), then the files that appeared or were replaced while it ran.
    Nothing is published until every part is complete, all parts or none, and the audit row is written
    last, in its own short transaction, so it records only a backup that exists.

    Args:
        settings: Where the database and the home folder are.
        dest: The backup folder, created if missing; it must not lie inside the home folder.
        with_files: Also archive the stored videos, frames, CAM assets and runs (without caches).
        now: The time that names the files (default: the current UTC time).

    Raises:
        BackupError: the destination is refused, a file of that name exists, ``pg_dump`` is missing
            or the copy failed its checks.
    """
    url = make_url(settings.database_url)
    pg_dump = find_pg_dump() if url.get_backend_name() == "postgresql" else None
    folder = _destination(settings, dest)
    stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    db_name = f"lusreview-{stamp}.{'dump' if pg_dump else 'sqlite3'}"
    tar_name = f"lusreview-{stamp}-files.tar"
    for name in (db_name, tar_name) if with_files else (db_name,):
        if (folder / name).exists():
            raise BackupError(f"{folder / name} exists already; nothing was overwritten")
    with ExitStack() as parts:  # temporary files, removed when the block ends
        tar = parts.enter_context(_partial(folder, tar_name)) if with_files else None
        database = parts.enter_context(_partial(folder, db_name))
        archived = _archive(settings, tar, {}, None) if tar else {}
        snapshot_ns: int | None
        if pg_dump:
            revision, snapshot_ns = dump_postgres(pg_dump, url, database)
        else:
            revision, snapshot_ns = copy_sqlite(settings, url, database)
        if tar:
            archived = _archive(settings, tar, archived, snapshot_ns)
        _publish(folder, {**({tar: tar_name} if tar else {}), database: db_name})
    backup = Backup(database=folder / db_name, bytes=(folder / db_name).stat().st_size, revision=revision)
    if tar:
        size = sum(version.size for version in archived.values())
        backup = replace(backup, files=folder / tar_name, file_count=len(archived), file_bytes=size)
    _record(settings, backup)
    return backup


def _archive(settings: Settings, tar: Path, archived: Archived, snapshot_ns: int | None) -> Archived:
    """One pass of the files archive; a folder or file it cannot read refuses the whole backup."""
    try:
        return archive_files(settings, tar, archived, written_until_ns=snapshot_ns)
    except OSError as exc:
        raise BackupError(f"cannot read {exc.filename}: {exc.strerror}; no backup was made") from exc


def _destination(settings: Settings, dest: Path) -> Path:
    """The backup folder, created if missing; refused inside home, where it would die with the data."""
    folder = dest.expanduser().resolve()
    home = settings.home.resolve()
    if folder.is_relative_to(home):
        raise BackupError(
            f"{dest} is inside the home folder {home}: keep backups elsewhere, or they are lost with the "
            "data they should restore (and the home's files would be archived into themselves)"
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BackupError(f"cannot create the backup folder {dest}: {exc.strerror}") from exc
    return folder


@contextmanager
def _partial(folder: Path, name: str) -> Iterator[Path]:
    """A hidden temporary file in ``folder`` for the part ``name``, removed when the block ends.

    Its SQLite sidecars go with it; a published part lives on under the name linked to it.
    """
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".partial")
    os.close(handle)
    partial = Path(temporary)
    try:
        yield partial
    finally:
        for path in (partial, *(Path(f"{partial}{suffix}") for suffix in _SIDECARS)):
            path.unlink(missing_ok=True)


def _publish(folder: Path, parts: dict[Path, str]) -> None:
    """Give every finished part its name, or none of them: a backup is published whole or not at all.

    Each part is on disk (fsync) before any carries a name. A name is linked to its part, which fails
    rather than replace a file that appeared meanwhile; only where the file system has no hard links is
    the part renamed after a last check. If one part cannot be published, those already named are
    removed again. The database comes last: a crash between two names can leave a files archive
    alone, never a database copy that would pass for a whole backup.
    """
    for partial in parts:
        with partial.open("rb") as stream:
            os.fsync(stream.fileno())
    named: list[Path] = []
    try:
        for partial, name in parts.items():
            target = folder / name
            try:
                os.link(partial, target)
            except FileExistsError as exc:
                raise BackupError(f"{target} exists already; nothing was overwritten") from exc
            except OSError:
                if target.exists():
                    raise BackupError(f"{target} exists already; nothing was overwritten") from None
                os.rename(partial, target)
            named.append(target)
    except BaseException:
        for target in named:
            target.unlink(missing_ok=True)
        raise
    directory = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(directory)  # the names themselves survive a crash
    finally:
        os.close(directory)


def _record(settings: Settings, backup: Backup) -> None:
    """Record the backup in the audit log, in its own short transaction.

    The engine is made without an upgrade: taking a backup must never change the schema it copies.
    """
    engine = make_engine(settings.database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms)
    detail = {"path": str(backup.database), "bytes": backup.bytes, "revision": backup.revision}
    if backup.files is not None:
        detail.update(files=str(backup.files), file_count=backup.file_count, file_bytes=backup.file_bytes)
    try:
        with session_scope(engine) as session:
            record(
                session=session, action=BACKUP_ACTION, entity="backup", entity_id=None, user_id=None, **detail
            )
    finally:
        engine.dispose()
