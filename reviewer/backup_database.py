"""The database part of a backup: SQLite's online backup from one snapshot, or PostgreSQL's pg_dump.

Each returns the copy's Alembic revision and the time just before its snapshot, which bounds the file
versions the files archive may hold (:mod:`reviewer.backup_files`).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import time
from contextlib import closing
from pathlib import Path

from sqlalchemy import URL, text

from db.session import make_engine, read_scope
from reviewer.settings import Settings

STEP_PAGES = 256
"""Pages copied per backup step (1 MiB at the default page size): the copy proceeds in small pieces."""


class BackupError(ValueError):
    """A backup that cannot be made as asked; the message says why and nothing half-written is left."""


def copy_sqlite(settings: Settings, url: URL, target: Path) -> tuple[str, int | None]:
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


def find_pg_dump() -> str:
    """The ``pg_dump`` on PATH: PostgreSQL's own tool is the only safe way to copy its databases."""
    found = shutil.which("pg_dump")
    if found is None:
        raise BackupError(
            "backing up PostgreSQL needs pg_dump (the PostgreSQL client tools, the server's version or "
            "newer) on PATH; none was found"
        )
    return found


def dump_postgres(pg_dump: str, url: URL, target: Path) -> tuple[str, int]:
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
