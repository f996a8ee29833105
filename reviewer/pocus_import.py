"""Import the public POCUS dataset (Born et al.): its videos plus its own ``dataset_metadata.csv``.

Transaction policy: **one transaction per video**. This function opens its own
``session_scope(engine)`` for every file, so a corrupt video is rolled back alone and reported with
its message while the others are kept; re-running the import skips what is already stored (same
checksum), so an interrupted import can simply be started again.

Nothing in the CSV is trusted: required columns are checked, blanks and NaN are tolerated, 0/1 flags
are parsed whatever their spelling ("1", "1.0"), URLs must be http(s), and texts are trimmed. Files
are matched to rows by file stem, exactly first and then ignoring case; a file without a row is
reported, never guessed, and so are rows without a file and rows with an unknown label.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import cv2
from sqlalchemy import Engine
from sqlmodel import select

from db.models import Video
from db.session import session_scope
from reviewer.ingest import IngestError, IngestOptions, ingest_video
from reviewer.pocus_metadata import PocusImportError, PocusRow, read_metadata
from reviewer.settings import Settings
from reviewer.vocab import Probe, TagSource, VideoSource

METADATA = "dataset_metadata.csv"
MEGABYTE = 1024 * 1024
MEDIA_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mpeg", ".mpg", ".gif", ".png", ".jpg", ".jpeg"})

#: ``progress(stage, done, total)``, called after every video (the CLI prints it as a counter).
Progress = Callable[[str, int, int], None]
PROGRESS_STAGE = "import-pocus"


@dataclass
class ImportReport:
    """What happened to every file and row; :meth:`as_dict` is its JSON form."""

    imported: int = 0
    skipped_duplicates: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    unmatched_files: list[str] = field(default_factory=list)
    rows_without_file: list[str] = field(default_factory=list)
    rejected_rows: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    per_label: dict[str, int] = field(default_factory=dict)
    per_pattern: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON types only, with stable key order for scripts and diffs."""
        return {
            "imported": self.imported,
            "skipped_duplicates": self.skipped_duplicates,
            "failed": [{"file": name, "message": message} for name, message in self.failed],
            "unmatched_files": list(self.unmatched_files),
            "rows_without_file": list(self.rows_without_file),
            "rejected_rows": [{"row": name, "message": message} for name, message in self.rejected_rows],
            "warnings": list(self.warnings),
            "per_label": dict(sorted(self.per_label.items())),
            "per_pattern": dict(sorted(self.per_pattern.items())),
        }


def import_pocus(
    *,
    engine: Engine,
    settings: Settings,
    root: Path,
    progress: Progress | None = None,
    user_id: int | None = None,
) -> ImportReport:
    """Import every video of a POCUS-layout folder that has a valid metadata row.

    Args:
        engine: database to write to; one ``session_scope`` (transaction) is opened per video.
        settings: where files go and how frames are sampled.
        root: the dataset folder (``videos/convex``, ``pocus_videos/Convex``... found recursively) that
            holds ``dataset_metadata.csv`` (at its top or, if unique, anywhere below it).
        progress: called as ``progress("import-pocus", done, total)`` after every video.
        user_id: recorded as the importing user.

    Raises:
        PocusImportError: if the folder or its metadata cannot be read at all.
    """
    folder = Path(root)
    if not folder.is_dir():
        raise PocusImportError(f"{folder} is not a folder.")
    report = ImportReport()
    rows = read_metadata(_metadata_path(folder), report.rejected_rows, report.warnings)
    pairs = match_files(rows, find_media(folder), report, folder)
    for done, (path, row) in enumerate(pairs, start=1):
        name = _relative(path, folder)
        try:
            options = _options(row, PurePosixPath(name))
            stored = _import_one(
                engine=engine, settings=settings, path=path, options=options, user_id=user_id
            )
        except (IngestError, OSError, ValueError, cv2.error) as exc:
            report.failed.append((name, _message(exc)))
        else:
            _count(report, row, stored=stored)
        if progress is not None:
            progress(PROGRESS_STAGE, done, len(pairs))
    return report


def find_media(root: Path) -> list[Path]:
    """Video and image files anywhere below ``root``, sorted; hidden files and symlinks are ignored."""
    found = [
        path
        for path in root.rglob("*")
        if path.suffix.lower() in MEDIA_SUFFIXES
        and not path.is_symlink()
        and path.is_file()
        and not any(part.startswith(".") for part in path.relative_to(root).parts)
    ]
    return sorted(found)


def match_files(
    rows: dict[str, PocusRow], files: Iterable[Path], report: ImportReport, root: Path
) -> list[tuple[Path, PocusRow]]:
    """Pair rows with files by stem: exact matches first, then ignoring case among what is left.

    A name that fits several files is rejected rather than guessed; leftovers on either side are
    reported (files relative to ``root``).
    """
    unclaimed = list(files)
    pending = list(rows.values())
    pairs: list[tuple[Path, PocusRow]] = []
    for key in (str, str.casefold):
        waiting: list[PocusRow] = []
        for row in pending:
            hits = [path for path in unclaimed if key(path.stem) == key(row.name)]
            if len(hits) == 1:
                pairs.append((hits[0], row))
            elif hits:
                report.rejected_rows.append((row.name, f"{len(hits)} files have this name; keep only one."))
            else:
                waiting.append(row)
            unclaimed = [path for path in unclaimed if path not in hits]
        pending = waiting
    report.rows_without_file.extend(row.name for row in pending)
    report.unmatched_files.extend(_relative(path, root) for path in unclaimed)
    return sorted(pairs, key=lambda pair: pair[0])


def _import_one(
    *, engine: Engine, settings: Settings, path: Path, options: IngestOptions, user_id: int | None
) -> bool:
    """One video in its own transaction; False (nothing stored) if its checksum is already stored."""
    if path.stat().st_size > settings.max_upload_mb * MEGABYTE:  # refuse before reading it into memory
        raise PocusImportError(f"The file is larger than the {settings.max_upload_mb} MB limit.")
    data = path.read_bytes()
    checksum = hashlib.sha256(data).hexdigest()
    with session_scope(engine) as session:
        if session.exec(select(Video.id).where(Video.checksum == checksum)).first() is not None:
            return False
        ingest_video(
            session=session,
            settings=settings,
            data=data,
            filename=path.name,
            options=options,
            user_id=user_id,
        )
    return True


def _count(report: ImportReport, row: PocusRow, *, stored: bool) -> None:
    if not stored:
        report.skipped_duplicates += 1
        return
    report.imported += 1
    report.per_label[row.label.value] = report.per_label.get(row.label.value, 0) + 1
    for pattern in row.patterns:
        report.per_pattern[pattern.value] = report.per_pattern.get(pattern.value, 0) + 1


def _options(row: PocusRow, relative: PurePosixPath) -> IngestOptions:
    """Ingest options from a metadata row; the probe falls back to a folder below the root (``convex/``)."""
    probe = row.probe or _probe_from_folder(relative)
    if probe is None:
        raise PocusImportError(
            "The metadata gives no probe (convex or linear) and the folder does not either."
        )
    return IngestOptions(
        label=row.label,
        probe=probe,
        source=VideoSource.POCUS,
        source_url=row.source_url,
        license=row.license,
        license_url=row.license_url,
        comment=row.comment,
        remove_overlays=None,
        crop=None,
        patterns=row.patterns,
        tag_source=TagSource.DATASET,
    )


def _metadata_path(folder: Path) -> Path:
    direct = folder / METADATA
    if direct.is_file():
        return direct
    found = [path for path in folder.rglob(METADATA) if path.is_file()]
    if len(found) != 1:
        where = "no" if not found else f"{len(found)}"
        raise PocusImportError(f"Found {where} {METADATA} below {folder.name}; the import needs exactly one.")
    return found[0]


def _probe_from_folder(relative: PurePosixPath) -> Probe | None:
    for part in reversed(relative.parent.parts):
        if part.casefold() in {probe.value for probe in Probe}:
            return Probe(part.casefold())
    return None


def _relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def _message(exc: BaseException) -> str:
    text = str(exc) if isinstance(exc, ValueError) else ""
    if isinstance(exc, OSError):
        text = f"The file could not be read ({exc.strerror or type(exc).__name__})."
    return text or f"The video could not be processed ({type(exc).__name__})."
