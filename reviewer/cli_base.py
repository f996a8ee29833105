"""What every ``lusreview`` subcommand module shares: errors, the engine, JSON output and progress.

Subcommands live in small modules (``cli_model``, ``cli_study``, ...) that each expose
``register(add)``; :mod:`reviewer.cli` collects them. Heavy modules (TensorFlow, OpenCV) are imported
inside the handlers, so ``lusreview --help`` stays fast.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Engine

from reviewer.settings import Settings

Handler = Callable[[argparse.Namespace, Settings], Any]


class AddCommand(Protocol):
    """Adds one subcommand (with the common options) and returns its parser for more arguments."""

    def __call__(self, name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        """Add subcommand ``name`` run by ``handler``."""
        ...


class CliError(Exception):
    """A failure the user can fix; printed without a traceback, exit status 2."""


def engine(settings: Settings) -> Engine:
    """The migrated engine of the configured database."""
    from reviewer.context import open_engine

    return open_engine(settings)


def jsonable(value: Any) -> Any:
    """Plain JSON data from service results (``as_dict`` objects, dataclasses, paths, datetimes)."""
    if hasattr(value, "as_dict"):
        return jsonable(value.as_dict())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def progress(args: argparse.Namespace) -> Callable[[str, int, int], None]:
    """A progress callback printing ``stage: done/total`` on stderr unless ``--quiet``."""

    def report(stage: str, done: int, total: int) -> None:
        if not args.quiet:
            print(
                f"\r{stage}: {done}/{total}", end="\n" if done == total else "", file=sys.stderr, flush=True
            )

    return report
