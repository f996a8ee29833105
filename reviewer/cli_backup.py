"""``lusreview backup``: a checked copy of the database (and the stored files) while the app runs.

The work is done by :mod:`reviewer.backup`; refusals (a destination inside the home folder, an
existing file, no ``pg_dump`` for PostgreSQL) are its ``BackupError`` messages, shown with exit status 2.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from reviewer.cli_base import AddCommand
from reviewer.settings import Settings


def cmd_backup(args: argparse.Namespace, settings: Settings) -> Any:
    """Back up the database (with --with-files also the stored files) to DEST_DIR, while the app runs."""
    from reviewer.backup import make_backup

    backup = make_backup(settings=settings, dest=Path(args.dest), with_files=args.with_files)
    made = dataclasses.asdict(backup)
    return made if args.with_files else {k: v for k, v in made.items() if not k.startswith("file")}


def register(add: AddCommand) -> None:
    """Add ``backup``."""
    p = add("backup", cmd_backup, (cmd_backup.__doc__ or "").strip())
    p.add_argument("dest", metavar="DEST_DIR", help="folder for the backup (outside the home folder)")
    p.add_argument(
        "--with-files",
        action="store_true",
        help="also archive the stored videos, frames, CAM assets and runs (caches left out) as a .tar",
    )
