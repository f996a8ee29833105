"""``lusreview backup``: checked snapshots of a real database, never overwritten, taken while it runs."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import tarfile
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, text
from sqlalchemy.engine import make_url
from sqlmodel import select

from db.models import AuditLog
from db.session import make_engine, read_scope, session_scope, upgrade
from reviewer import backup as backup_module
from reviewer.audit import record
from reviewer.backup import BACKUP_ACTION, BackupError, make_backup
from reviewer.backup_files import stored_files
from reviewer.cli import main
from reviewer.settings import Settings, load_settings
from reviewer.storage import published
from tests.code.stock import stock_home
from tests.code.stock_stats import answered_study
from tests.conftest import _postgres_database

AFTER_TICK_S = 0.05
"""Longer than a clock tick, so that a file written after the snapshot has a later time stamp."""
PAD = "x" * 400  # audit rows of a few hundred bytes, so the copy of a few thousand takes many steps


def backup_json(capsys: pytest.CaptureFixture[str], settings: Settings, *argv: str) -> dict[str, object]:
    assert main(["backup", *argv, "--home", str(settings.home), "--json"]) == 0
    result: dict[str, object] = json.loads(capsys.readouterr().out)
    return result


def rows(path: Path | str, query: str) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(path)) as db:
        return list(db.execute(query))


def test_snapshot_is_checked_and_holds_the_same_study(
    engine: Engine, settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    answered_study(engine, n_videos=3, experts=2)
    live = make_url(settings.database_url).database
    assert live is not None
    result = backup_json(capsys, settings, str(tmp_path / "backups" / "new"))
    copy = Path(str(result["database"]))
    assert copy.parent == tmp_path / "backups" / "new" and copy.name.startswith("lusreview-")
    assert sorted(p.name for p in copy.parent.iterdir()) == [copy.name]  # no temporary file is left
    assert result["bytes"] == copy.stat().st_size
    assert rows(copy, "PRAGMA integrity_check") == [("ok",)]
    assert rows(copy, "PRAGMA journal_mode") == [("delete",)]  # one self-contained file
    revision = rows(live, "SELECT version_num FROM alembic_version")
    assert rows(copy, "SELECT version_num FROM alembic_version") == revision == [(result["revision"],)]
    answers = "SELECT * FROM answers ORDER BY id"
    assert len(rows(copy, answers)) == 6 and rows(copy, answers) == rows(live, answers)
    audit = "SELECT * FROM audit_log WHERE action != 'backup.made' ORDER BY id"
    assert rows(copy, audit) and rows(copy, audit) == rows(live, audit)
    with read_scope(engine) as session:
        made = [m.detail for m in session.exec(select(AuditLog).where(AuditLog.action == BACKUP_ACTION))]
    assert made == [{"path": str(copy), "bytes": copy.stat().st_size, "revision": "0005"}]


def _keep_writing(
    engine: Engine, stop: threading.Event, started: threading.Event, errors: list[BaseException]
) -> None:
    try:
        for n in range(10**6):
            with session_scope(engine) as session:
                record(session=session, action="test.tick", entity="tick", entity_id=n, user_id=None, pad=PAD)
            started.set()
            if stop.is_set():
                return
    except BaseException as exc:  # the test asserts that there is none
        errors.append(exc)
        started.set()


def _ticks(engine: Engine) -> int:
    with read_scope(engine) as session:
        return session.exec(select(func.count()).where(AuditLog.action == "test.tick")).one()


def test_backup_while_rows_are_committed_holds_a_consistent_prefix(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    with session_scope(engine) as session:
        for n in range(5000):
            record(session=session, action="test.filler", entity="filler", entity_id=n, user_id=None, pad=PAD)
    stop, started = threading.Event(), threading.Event()
    errors: list[BaseException] = []
    writer = threading.Thread(target=_keep_writing, args=(engine, stop, started, errors))
    writer.start()
    try:
        started.wait(timeout=60)
        before = _ticks(engine)
        backup = make_backup(settings=settings, dest=tmp_path / "backups", with_files=False)
        after = _ticks(engine)
    finally:
        stop.set()
        writer.join()
    assert errors == []
    ticks = rows(
        backup.database, "SELECT entity_id, detail FROM audit_log WHERE action = 'test.tick' ORDER BY id"
    )
    assert before <= len(ticks) <= after
    assert [n for n, _ in ticks] == list(range(len(ticks)))  # a prefix: no row missing, none from later
    assert all(json.loads(str(detail)) == {"pad": PAD} for _, detail in ticks)  # every row complete
    assert len(rows(backup.database, "SELECT id FROM audit_log WHERE action = 'test.filler'")) == 5000


def test_an_existing_backup_is_never_overwritten(engine: Engine, settings: Settings, tmp_path: Path) -> None:
    noon = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
    dest = tmp_path / "backups"
    first = make_backup(settings=settings, dest=dest, with_files=False, now=noon)
    kept = first.database.read_bytes()
    with session_scope(engine) as session:
        record(session=session, action="test.later", entity="x", entity_id=None, user_id=None)
    with pytest.raises(BackupError, match="exists already"):
        make_backup(settings=settings, dest=dest, with_files=False, now=noon)
    tar = dest / "lusreview-20250301T120001Z-files.tar"  # a second later: only the archive's name is taken
    tar.write_bytes(b"an administrator's own file")
    with pytest.raises(BackupError, match="exists already"):
        make_backup(settings=settings, dest=dest, with_files=True, now=noon.replace(second=1))
    assert first.database.read_bytes() == kept and tar.read_bytes() == b"an administrator's own file"
    assert sorted(p.name for p in dest.iterdir()) == [first.database.name, tar.name]
    with read_scope(engine) as session:
        assert len(session.exec(select(AuditLog).where(AuditLog.action == BACKUP_ACTION)).all()) == 1


@pytest.mark.parametrize("inside", ["backups", "videos/backups", "."])
def test_a_destination_inside_the_home_is_refused(
    engine: Engine, settings: Settings, inside: str, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = settings.home / inside
    assert main(["backup", str(dest), "--home", str(settings.home)]) == 2
    assert "inside the home folder" in capsys.readouterr().err
    assert not (settings.home / "backups").exists() and not (settings.home / "videos").exists()
    assert not list(settings.home.glob("lusreview-*"))


def test_with_files_archives_the_stored_files_without_caches(
    engine: Engine, settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with session_scope(engine) as session:
        stock_home(session, settings)  # videos and frames written as files
    home = settings.home
    for name, data in {
        "assets/ab/token.npz": b"cam",
        "runs/run-00001/fold-0.weights.h5": b"weights",
        "runs/feature-cache/key.npy": b"features",
        "cache/review-clips/clip.mp4": b"clip",
        "videos/ab/.part-123": b"half-written",
    }.items():
        (home / name).parent.mkdir(parents=True, exist_ok=True)
        (home / name).write_bytes(data)
    stored = sorted(
        p.relative_to(home).as_posix()
        for folder in ("videos", "frames", "assets", "runs")
        for p in (home / folder).rglob("*")
        if p.is_file() and "feature-cache" not in p.parts and not p.name.startswith(".")
    )
    result = backup_json(capsys, settings, str(tmp_path / "backups"), "--with-files")
    with tarfile.open(str(result["files"])) as archive:
        members = archive.getmembers()
        assert sorted(m.name for m in members) == stored
        assert archive.extractfile("assets/ab/token.npz").read() == b"cam"  # type: ignore[union-attr]
    assert {"assets/ab/token.npz", "runs/run-00001/fold-0.weights.h5"} < set(stored)
    assert sum(name.startswith("videos/") for name in stored) == 3 and any("frames/" in n for n in stored)
    assert result["file_count"] == len(stored) and result["file_bytes"] == sum(m.size for m in members)
    with read_scope(engine) as session:
        made = session.exec(select(AuditLog.detail).where(AuditLog.action == BACKUP_ACTION)).one()
    assert made["files"] == result["files"] and made["file_count"] == len(stored)


def test_a_file_removed_after_the_snapshot_stays_archived_and_one_written_after_it_is_left_out(
    engine: Engine, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = settings.home
    old, new = home / "assets/ab/old.npz", home / "assets/cd/new.npz"
    old.parent.mkdir(parents=True)
    old.write_bytes(b"the asset the snapshot's rows name")
    copy = backup_module.copy_sqlite

    def remade_meanwhile(*args: object) -> tuple[str, int | None]:
        copied = copy(*args)  # type: ignore[arg-type]
        old.unlink()  # CAM assets remade after the snapshot: the old file goes, a new one comes
        time.sleep(AFTER_TICK_S)
        new.parent.mkdir(parents=True)
        new.write_bytes(b"its replacement, named by no row of the copy")
        return copied

    monkeypatch.setattr(backup_module, "copy_sqlite", remade_meanwhile)
    made = make_backup(settings=settings, dest=tmp_path / "backups", with_files=True)
    assert made.files is not None
    with tarfile.open(made.files) as archive:
        assert archive.getnames() == ["assets/ab/old.npz"]
    assert made.file_count == 1


def test_a_file_replaced_after_the_snapshot_keeps_the_version_the_copy_names(
    engine: Engine, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mask = settings.home / "frames/000001/region_000042.png"
    mask.parent.mkdir(parents=True)
    mask.write_bytes(b"the mask of region 42 in the copy")
    copy = backup_module.copy_sqlite

    def id_reused(*args: object) -> tuple[str, int | None]:
        copied = copy(*args)  # type: ignore[arg-type]
        time.sleep(AFTER_TICK_S)  # region 42 deleted, and a new shape gets its id (SQLite reuses it)
        with published(mask) as partial:
            partial.write_bytes(b"another shape, drawn after the snapshot")
        return copied

    monkeypatch.setattr(backup_module, "copy_sqlite", id_reused)
    made = make_backup(settings=settings, dest=tmp_path / "backups", with_files=True)
    assert made.files is not None
    restored = tmp_path / "restored"
    with tarfile.open(made.files) as archive:
        archive.extractall(restored, filter="data")
    assert (restored / "frames/000001/region_000042.png").read_bytes() == b"the mask of region 42 in the copy"


def test_a_folder_that_cannot_be_read_refuses_the_backup_and_publishes_nothing(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    settings.runs_dir.parent.mkdir(parents=True, exist_ok=True)
    settings.runs_dir.write_bytes(b"not a folder")  # os.walk cannot list it, as with an unreadable one
    dest = tmp_path / "backups"
    with pytest.raises(BackupError, match="cannot read .*runs.*no backup was made"):
        make_backup(settings=settings, dest=dest, with_files=True)
    assert list(dest.iterdir()) == []


def test_postgres_without_pg_dump_is_a_clear_error(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "no-tools"))
    url = "postgresql+psycopg://lusreview:secret@127.0.0.1:5432/lusreview"
    assert main(["backup", str(tmp_path / "backups"), "--home", str(settings.home), "--db-url", url]) == 2
    assert "pg_dump" in capsys.readouterr().err
    assert not (tmp_path / "backups").exists()


@pytest.fixture
def postgres(tmp_path: Path) -> Iterator[Settings]:
    """Settings on a fresh, migrated PostgreSQL database, when one is configured and pg_dump can dump it."""
    urls = _postgres_database()
    url = next(urls)
    eng = make_engine(url)
    upgrade(eng)
    with eng.connect() as conn:
        server = int(conn.execute(text("SHOW server_version_num")).scalar_one()) // 10000
    eng.dispose()
    try:
        version = subprocess.run(["pg_dump", "--version"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        version = ""
    client = version.split()[-1].split(".")[0] if version else ""
    if not client.isdigit() or int(client) < server:
        pytest.skip(f"pg_dump ({version.strip() or 'none'}) cannot dump a PostgreSQL {server} server")
    yield load_settings(home=tmp_path / "home", db_url=url)
    next(urls, None)


def test_postgres_is_dumped_by_pg_dump(
    postgres: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = str(postgres.db_url)
    result = backup_json(capsys, postgres, str(tmp_path / "backups"), "--db-url", url)
    dump = Path(str(result["database"]))
    assert dump.suffix == ".dump" and dump.read_bytes()[:5] == b"PGDMP"  # pg_dump's custom format
    assert result["bytes"] == dump.stat().st_size > 0 and result["revision"] == "0005"
    listing = subprocess.run(["pg_restore", "--list", str(dump)], capture_output=True, text=True, check=True)
    assert "alembic_version" in listing.stdout and "audit_log" in listing.stdout
    eng = make_engine(url)
    with read_scope(eng) as session:
        assert (
            session.exec(select(AuditLog).where(AuditLog.action == BACKUP_ACTION)).one().detail["bytes"] > 0
        )
    eng.dispose()


def test_pg_dump_gets_the_password_by_environment_only(
    postgres: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tools = tmp_path / "tools"
    tools.mkdir()
    spy = tools / "pg_dump"
    spy.write_text(
        '#!/bin/sh\nprintf "%s\\n" "$@" > "$0.args"\necho "$PGPASSWORD $PGUSER $PGDATABASE" > "$0.env"\n'
        'for a in "$@"; do case "$a" in --file=*) echo dump > "${a#--file=}";; esac; done\n'
    )
    spy.chmod(0o755)
    monkeypatch.setenv("PATH", str(tools))
    url = make_url(str(postgres.db_url)).update_query_dict({"connect_timeout": "7"})
    monkeypatch.delenv("PGUSER", raising=False)
    monkeypatch.delenv("PGDATABASE", raising=False)
    make_backup(
        settings=postgres.model_copy(update={"db_url": url.render_as_string(hide_password=False)}),
        dest=tmp_path / "backups",
        with_files=False,
    )
    arguments = (tools / "pg_dump.args").read_text().split()
    assert str(url.password) not in " ".join(arguments) and "--format=custom" in arguments
    dbname = make_url(next(a.removeprefix("--dbname=") for a in arguments if a.startswith("--dbname=")))
    assert (dbname.username, dbname.host, dbname.port, dbname.database) == (
        url.username,
        url.host,
        url.port,
        url.database,
    )
    assert dbname.password is None and dbname.query == {"connect_timeout": "7"}  # the app's database exactly
    assert (tools / "pg_dump.env").read_text().split() == [url.password]


def test_a_file_replaced_before_the_snapshot_is_archived_in_its_new_version(
    engine: Engine, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    weights = settings.home / "runs/run-00001/fold-0.weights.h5"
    weights.parent.mkdir(parents=True)
    weights.write_bytes(b"1" * 1000)
    copy = backup_module.copy_sqlite

    def replaced_first(*args: object) -> tuple[str, int | None]:
        with published(weights) as partial:  # a run finishing its fold just before the snapshot
            partial.write_bytes(b"5" * 5000)
        return copy(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(backup_module, "copy_sqlite", replaced_first)
    made = make_backup(settings=settings, dest=tmp_path / "backups", with_files=True)
    assert made.files is not None
    restored = tmp_path / "restored"
    with tarfile.open(made.files) as archive:
        archive.extractall(restored, filter="data")  # the last copy of a name wins
    assert (restored / "runs/run-00001/fold-0.weights.h5").read_bytes() == b"5" * 5000
    assert (made.file_count, made.file_bytes) == (1, 5000)


def test_a_file_being_written_is_left_out_until_it_is_whole(settings: Settings, tmp_path: Path) -> None:
    asset = settings.home / "assets/ab/token.npz"
    with published(asset) as partial:
        partial.write_bytes(b"half")
        assert list(stored_files(settings)) == []  # hidden while written
    assert list(stored_files(settings)) == [asset] and asset.read_bytes() == b"half"
    with pytest.raises(RuntimeError), published(settings.home / "assets/ab/other.npz") as partial:
        partial.write_bytes(b"never whole")
        raise RuntimeError("the encoder failed")
    assert sorted(p.name for p in asset.parent.iterdir()) == ["token.npz"]  # no partial, no target


def test_a_folder_removed_during_the_walk_is_skipped(settings: Settings) -> None:
    for name in ("runs/run-00001/fold-0.weights.h5", "runs/run-00002/fold-0.weights.h5"):
        (settings.home / name).parent.mkdir(parents=True, exist_ok=True)
        (settings.home / name).write_bytes(b"w")
    walk = stored_files(settings)
    first = next(walk)
    shutil.rmtree(settings.home / "runs/run-00002")  # a failed training run cleans up after itself
    assert [first, *walk] == [settings.home / "runs/run-00001/fold-0.weights.h5"]


def test_a_part_that_cannot_be_published_takes_the_others_back(
    engine: Engine, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = tmp_path / "backups"
    publish = backup_module._publish

    def database_name_taken(folder: Path, parts: dict[Path, str]) -> None:
        assert list(parts.values())[-1].endswith(".sqlite3")  # the database is named last
        (folder / list(parts.values())[-1]).write_bytes(b"made by someone else meanwhile")
        publish(folder, parts)

    monkeypatch.setattr(backup_module, "_publish", database_name_taken)
    with pytest.raises(BackupError, match="exists already"):
        make_backup(settings=settings, dest=dest, with_files=True)
    taken = next(dest.glob("*.sqlite3"))
    assert [p.name for p in dest.iterdir()] == [taken.name]  # the archive named first was taken back
    assert taken.read_bytes() == b"made by someone else meanwhile"
    with read_scope(engine) as session:
        assert session.exec(select(AuditLog).where(AuditLog.action == BACKUP_ACTION)).all() == []
