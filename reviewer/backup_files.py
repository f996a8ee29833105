"""The stored files of a backup: one tar archive, written around the database copy in two passes.

Every stored file is written under a hidden name and renamed into place once whole
(:func:`reviewer.storage.write_file`, :func:`reviewer.storage.published`), so a visible file is complete
and never changes in place: a new version is a new file (a new inode) under the same or another name.
The first pass archives every file before the database snapshot; the second, after it, adds the files
that appeared meanwhile and, again, any file replaced since the first pass read it, so that the archive
holds the version each row of the snapshot names (extraction keeps the last copy of a name). The second
pass leaves out every version written after the snapshot: a file is written before its row commits, so
such a version belongs to no row of the copy, and it may replace one that does (SQLite reuses the id of
a deleted region, and with it the mask's file name).
"""

from __future__ import annotations

import os
import stat
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from reviewer.settings import Settings


@dataclass(frozen=True, slots=True)
class Version:
    """Which version of a file the archive holds: a replaced file has another inode, size or time."""

    inode: int
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, stat: os.stat_result) -> Version:
        """The version an open file's (or a path's) status describes."""
        return cls(stat.st_ino, stat.st_size, stat.st_mtime_ns)


Archived = dict[Path, Version]


def stored_files(settings: Settings) -> Iterator[Path]:
    """The home's stored files, in a stable order: videos, frames, CAM assets and runs.

    Left out: caches rebuilt on demand (review clips live outside these folders, the feature cache
    inside ``runs``) and hidden files, which are files still being written. A folder that vanishes
    during the walk (a failed training run removes its own) is skipped, as its files are; any other
    error reading a folder is raised, so that a backup never leaves out what it could not read.
    """
    cache = settings.feature_cache_dir.resolve()
    for folder in (settings.videos_dir, settings.frames_dir, settings.assets_dir, settings.runs_dir):
        for root, dirs, names in os.walk(folder, onerror=_unless_vanished):
            here = Path(root)
            dirs[:] = sorted(d for d in dirs if not (here / d).resolve().is_relative_to(cache))
            yield from (here / name for name in sorted(names) if not name.startswith("."))


def _unless_vanished(error: OSError) -> None:
    if not isinstance(error, FileNotFoundError):
        raise error


def archive_files(
    settings: Settings, target: Path, archived: Archived, *, written_until_ns: int | None = None
) -> Archived:
    """Add to the tar at ``target`` every stored file whose current version it does not hold yet.

    Names in the archive are relative to home. Returns the version now archived of every file. A file
    that vanishes before it is read belonged to work that rolled back or was replaced, and is skipped,
    as is, with ``written_until_ns``, a version last written after that time (the snapshot's).
    """
    added = dict(archived)
    newest = float("inf") if written_until_ns is None else written_until_ns
    with tarfile.open(target, "a" if archived else "w") as archive:
        for path in stored_files(settings):
            try:
                with path.open("rb") as stream:
                    status = os.fstat(stream.fileno())
                    if not stat.S_ISREG(status.st_mode) or added.get(path) == Version.of(status):
                        continue
                    if status.st_mtime_ns > newest:
                        continue
                    name = path.relative_to(settings.home).as_posix()
                    archive.addfile(archive.gettarinfo(arcname=name, fileobj=stream), stream)
            except FileNotFoundError:
                continue
            added[path] = Version.of(status)
    return added
