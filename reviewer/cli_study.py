"""``lusreview study``: set up, open, close and list blinded studies, and print a closed study's key.

The command line administers the database file it holds, so it acts as administrator ``None``;
experts and references are named by username. Each call is one transaction: a refusal writes nothing.
Once an open has committed, ``open`` prepares the study's video clips before it returns
(:mod:`reviewer.review_warm`) and says how many videos are ready.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from reviewer.cli_base import AddCommand, CliError, engine
from reviewer.settings import Settings

if TYPE_CHECKING:  # the services import pandas and numpy: only when a study command runs
    from sqlalchemy import Engine
    from sqlmodel import Session

    from reviewer.study_videos import VideoSelection

ACTIONS = ("create", "open", "close", "list", "key")
NAMED_SELECTIONS: dict[str, VideoSelection] = {"correct": "correct", "all": "all"}
log = logging.getLogger(__name__)


def cmd_study(args: argparse.Namespace, settings: Settings) -> Any:
    """Set up, open, close or list blinded expert studies; print the key of a closed study."""
    from db.session import session_scope

    handlers: dict[str, Callable[[argparse.Namespace, Session], Any]] = {
        "create": _create,
        "close": _close,
        "list": _list,
        "key": _key,
    }
    database = engine(settings)
    if args.action == "open":
        return _open(args, database, settings)
    with session_scope(database) as session:
        return handlers[args.action](args, session)


def _create(args: argparse.Namespace, session: Session) -> dict[str, Any]:
    from reviewer.study_admin import user_ids
    from reviewer.study_setup import balance_report, create_study, row_id

    missing = [f"--{n}" for n in ("name", "run", "experts", "reference") if getattr(args, n) is None]
    if missing:
        raise CliError(f"study create needs {', '.join(missing)}")
    experts = user_ids(session=session, usernames=args.experts.split(","))
    (reference,) = user_ids(session=session, usernames=[args.reference])
    study = create_study(
        session=session,
        name=args.name,
        run_id=args.run,
        expert_ids=experts,
        reference_expert_id=reference,
        video_selection=_selection(args.videos),
        actor_id=None,
        description=args.description or "",
        **{k: v for k in ("reread_share", "washout", "seed") if (v := getattr(args, k)) is not None},
    )
    balance = balance_report(session=session, study_id=row_id(study))
    return {**_state(args, session, study.id), "balance": balance}


def _open(args: argparse.Namespace, database: Engine, settings: Settings) -> dict[str, Any]:
    """Open the study and, once that has committed, prepare its clips; a warming failure is only logged."""
    from db.session import session_scope
    from reviewer.review_warm import warm_study_clips
    from reviewer.study_setup import open_study, row_id

    with session_scope(database) as session:
        study_id = row_id(open_study(session=session, study_id=_study_id(args, session), actor_id=None))
        opened = _state(args, session, study_id)
    try:  # the study is open now: experts may start while this runs
        prepared = warm_study_clips(engine=database, settings=settings, study_id=study_id)
    except Exception:
        log.exception("study %s is open; its clips will be made when first viewed", study_id)
        prepared = 0
    return {**opened, "videos_prepared": prepared}


def _close(args: argparse.Namespace, session: Session) -> dict[str, Any]:
    from reviewer.study_setup import close_study

    study = close_study(session=session, study_id=_study_id(args, session), actor_id=None)
    return _state(args, session, study.id)


def _list(args: argparse.Namespace, session: Session) -> list[Any]:
    from reviewer.study_admin import list_studies

    if args.json:
        return list(list_studies(session=session))
    return [
        {
            "id": s.id,
            "name": s.name,
            "state": s.state,
            "run": s.run_id,
            "progress": ", ".join(f"{e.username} {e.done}/{e.items}" for e in s.experts),
        }
        for s in list_studies(session=session)
    ]


def _key(args: argparse.Namespace, session: Session) -> list[Any]:
    from reviewer.study_unblind import key_rows

    return list(key_rows(session=session, study_id=_study_id(args, session), viewer=None))


def _state(args: argparse.Namespace, session: Session, study_id: int | None) -> dict[str, Any]:
    """The study as ``list`` shows it, so every action reports the same fields."""
    from reviewer.study_admin import list_studies

    (summary,) = list_studies(session=session, study_id=study_id)
    if args.json:
        return {"study": summary}
    return {"study_id": summary.id, "name": summary.name, "state": summary.state}


def _study_id(args: argparse.Namespace, session: Session) -> int:
    from reviewer.study_base import find_study, row_id

    if args.study is None:
        raise CliError(f"study {args.action} needs the study's name or id")
    return row_id(find_study(session=session, ref=args.study))


def _selection(text: str) -> VideoSelection:
    if text in NAMED_SELECTIONS:
        return NAMED_SELECTIONS[text]
    parts = [p.strip() for p in text.split(",")]
    if not all(p.isdecimal() for p in parts):
        raise CliError(f"--videos takes correct, all or video ids like 3,5,8, not {text!r}")
    return [int(p) for p in parts]


def register(add: AddCommand) -> None:
    """Add ``study`` with its actions."""
    p = add("study", cmd_study, (cmd_study.__doc__ or "").strip())
    p.add_argument("action", choices=ACTIONS)
    p.add_argument("study", nargs="?", help="name or id (open, close, key)")
    p.add_argument("--name", help="create: unique study name")
    p.add_argument("--run", type=int, help="create: id of a finished model run")
    p.add_argument("--experts", help="create: usernames, comma-separated")
    p.add_argument("--reference", help="create: username of the reference expert (one of --experts)")
    p.add_argument("--videos", default="correct", help="create: correct (default), all, or ids 3,5,8")
    p.add_argument("--reread-share", type=float, help="create: share shown again, 0 (default) to 0.5")
    p.add_argument("--washout", type=int, help="create: least other items before a re-read (default 5)")
    p.add_argument("--seed", type=int, help="create: seed of the orders and sides (default 0)")
    p.add_argument("--description", help="create: instructions shown to the experts above the study")
