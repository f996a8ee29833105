"""Backups an administrator can take while the app keeps running: the database and the stored files.

A SQLite database is copied with SQLite's online backup API from one pinned snapshot (WAL readers never
block writers), checked with ``PRAGMA integrity_check`` and its Alembic revision read back; a
PostgreSQL database is dumped by ``pg_dump``, never by hand. Every file is written under a temporary
name in the destination and published under its final name only once it is complete and checked,
without ever replacing an existing file: a backup folder only ever holds whole, verified backups.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import URL, text
from sqlalchemy.engine import make_url

from db.session import make_engine, read_scope, session_scope
from reviewer.audit import record
from reviewer.backup_files import Archived, archive_files
from reviewer.settings import Settings

BACKUP_ACTION = "backup.made"
STEP_PAGES = 256
"""Pages copied per backup step (1 MiB at the default page size): the copy proceeds in small pieces."""
_SIDECARS = ("-journal", "-wal", "-shm")


class BackupError(ValueError):
    """A backup that cannot be made as asked; the message says why and nothing half-written is left."""


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
    pg_dump = _pg_dump() if url.get_backend_name() == "postgresql" else None
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
            revision, snapshot_ns = _dump_postgres(pg_dump, url, database)
        else:
            revision, snapshot_ns = _copy_sqlite(settings, url, database)
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


def _copy_sqlite(settings: Settings, url: URL, target: Path) -> tuple[str, int | None]:
    """Copy the live SQLite file into ``target`` in steps, then check the copy.

    In WAL mode (the app's, see ``db.session``) a reader never blocks a writer, so the copy pins one
    read snapshot for all its steps: the app commits on meanwhile, and the copy neither restarts nor
    mixes two states. Any other journal mode is copied step by step without pinning, so that writers
    wait at most one step. The copy is switched to a rollback journal: one self-contained file.

    Returns:
        The copy's Alembic revision, and the time (ns) just before its snapshot began; None when
        nothing was pinned, so the copy's state is that of some moment during it.
    """
    source = Path(url.database or "")
    if not url.database or url.database == ":memory:" or not source.is_file():
        raise BackupError(f"there is no database file at {source} to back up (run `lusreview init` first)")
    timeout = settings.sqlite_busy_timeout_ms / 1000
    with (
        closing(sqlite3.connect(source, timeout=timeout, isolation_level=None)) as live,
        closing(sqlite3.connect(target, isolation_level=None)) as copy,
    ):
        pinned = live.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        snapshot_ns = time.time_ns() if pinned else None
        if pinned:
            live.execute("BEGIN")
            live.execute("SELECT count(*) FROM sqlite_master").fetchone()  # the snapshot starts here
        live.backup(copy, pages=STEP_PAGES)
        if pinned:
            live.execute("COMMIT")
        copy.execute("PRAGMA journal_mode=DELETE")
    return _checked_revision(target), snapshot_ns


def _checked_revision(copy_path: Path) -> str:
    """The Alembic revision of a copied SQLite file, after it passed ``PRAGMA integrity_check``."""
    with closing(sqlite3.connect(copy_path)) as copy:
        problems = [row[0] for row in copy.execute("PRAGMA integrity_check")]
        if problems != ["ok"]:
            raise BackupError(f"the copy failed its integrity check: {'; '.join(problems[:5])}")
        try:
            row = copy.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.OperationalError:
            row = None
    if row is None:
        raise BackupError("the database has no Alembic revision (run `lusreview init` first)")
    return str(row[0])


def _pg_dump() -> str:
    """The ``pg_dump`` on PATH: PostgreSQL's own tool is the only safe way to copy its databases."""
    found = shutil.which("pg_dump")
    if found is None:
        raise BackupError(
            "backing up PostgreSQL needs pg_dump (the PostgreSQL client tools, the server's version or "
            "newer) on PATH; none was found"
        )
    return found


def _dump_postgres(pg_dump: str, url: URL, target: Path) -> tuple[str, int]:
    """Dump the database in pg_dump's custom format into ``target``.

    pg_dump gets the app's own URL as its connection string (with every libpq parameter in its query,
    such as a socket ``host`` or ``sslrootcert``, so it dumps the database the app uses), minus the
    password: that goes through ``PGPASSWORD``, never onto a command line that other users can list.

    Returns:
        The dump's Alembic revision, and the time (ns) just before pg_dump started, which takes its
        snapshot as it connects.
    """
    plain = URL.create("postgresql", url.username, None, url.host, url.port, url.database, url.query)
    conninfo = plain.render_as_string(hide_password=False)
    env = {**os.environ, **({"PGPASSWORD": str(url.password)} if url.password else {})}
    command = [pg_dump, "--format=custom", "--no-password", f"--file={target}", f"--dbname={conninfo}"]
    started_ns = time.time_ns()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BackupError(f"pg_dump failed: {done.stderr.strip() or f'exit status {done.returncode}'}")
    if target.stat().st_size == 0:
        raise BackupError("pg_dump wrote an empty file")
    engine = make_engine(url.render_as_string(hide_password=False))
    try:
        with read_scope(engine) as session:
            revision = str(session.execute(text("SELECT version_num FROM alembic_version")).scalar_one())
    finally:
        engine.dispose()
    return revision, started_ns


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
