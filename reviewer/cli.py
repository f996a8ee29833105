"""The ``lusreview`` command line: one entry point for admins, scripts and CI.

Every subcommand takes ``--home`` and ``--db-url`` (or the ``LUSREVIEW_HOME`` / ``LUSREVIEW_DB_URL``
environment variables) and, where it reports results, ``--json`` so scripts can read them. Heavy
modules (TensorFlow, OpenCV) are imported inside the commands that need them, so ``--help`` is fast.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from reviewer import cli_backup, cli_model, cli_stats, cli_study
from reviewer.cli_base import CliError, Handler, engine, jsonable, progress
from reviewer.settings import Settings, load_settings

COMMAND_MODULES = (cli_model, cli_study, cli_stats, cli_backup)  # each adds its subcommands: register(add)


def cmd_init(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    """Create or upgrade the database; create the first admin if there is none."""
    from db.session import session_scope
    from reviewer.users import create_user, list_users
    from reviewer.vocab import Role

    result: dict[str, Any] = {"database": settings.database_url, "home": str(settings.home.resolve())}
    with session_scope(engine(settings)) as session:
        if list_users(session=session, role=Role.ADMIN):
            result["admin_created"] = False
            return result
        password = args.admin_password or os.environ.get("LUSREVIEW_ADMIN_PASSWORD")
        generated = password is None
        password = password or secrets.token_urlsafe(12)
        create_user(
            session=session,
            username=args.admin_user,
            password=password,
            role=Role.ADMIN,
            display_name="Administrator",
        )
    result.update(admin_created=True, admin_user=args.admin_user)
    if generated:
        result["admin_password"] = password
    return result


def cmd_seed(args: argparse.Namespace, settings: Settings) -> Any:
    """Load the embedded phantom demo data (idempotent)."""
    from db.session import session_scope
    from reviewer.seed import seed_demo

    with session_scope(engine(settings)) as session:
        return seed_demo(session=session, settings=settings)


def cmd_import_pocus(args: argparse.Namespace, settings: Settings) -> Any:
    """Import the public POCUS dataset layout: one transaction per video, failures reported."""
    from reviewer.pocus_import import import_pocus

    root = Path(args.path)
    if not root.is_dir():
        raise CliError(f"{root} is not a folder")
    return import_pocus(engine=engine(settings), settings=settings, root=root, progress=progress(args))


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    """Ingest video files, each in its own transaction; a bad file does not stop the others."""
    from db.session import session_scope
    from reviewer.ingest import IngestError, IngestOptions, ingest_file, parse_label
    from reviewer.vocab import Probe

    try:
        label = parse_label(args.label) if args.label else None
    except IngestError as exc:
        raise CliError(str(exc)) from exc
    options = IngestOptions(
        label=label, probe=Probe(args.probe), remove_overlays=not args.keep_overlays, crop=_crop(args.crop)
    )
    db_engine = engine(settings)
    stored: list[dict[str, Any]] = []
    failed: list[dict[str, str]] = []
    for name in args.files:
        try:
            with session_scope(db_engine) as session:
                video = ingest_file(session=session, settings=settings, path=Path(name), options=options)
                stored.append({"file": name, "video_id": video.id, "frames": video.frame_count})
        except (IngestError, OSError) as exc:
            failed.append({"file": name, "error": str(exc)})
    return {"stored": stored, "failed": failed}


def _crop(text: str | None) -> Any:
    """Parse ``x,y,w,h`` into a validated crop (None: suggest one automatically)."""
    from reviewer.frames import Crop

    if text is None:
        return None
    parts = text.split(",")
    if len(parts) != 4 or not all(p.strip().isdigit() for p in parts):
        raise CliError(f"--crop takes four whole numbers x,y,w,h, not {text!r}")
    return Crop(*(int(p) for p in parts))


def cmd_videos(args: argparse.Namespace, settings: Settings) -> Any:
    """List stored videos with their labels and tags."""
    from db.session import session_scope
    from reviewer.catalog import list_videos
    from reviewer.ingest import parse_label

    label = parse_label(args.label).value if args.label else None
    with session_scope(engine(settings)) as session:
        return list_videos(session=session, label=label, limit=args.limit)


def cmd_prune_cache(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    """Delete review clips unread for review_clip_keep_days, then the oldest above review_clip_cache_mb."""
    from reviewer.review_clip_cache import prune_clip_cache

    removed = prune_clip_cache(settings)
    return {"removed": removed, "freed_mb": round(sum(r.bytes for r in removed) / 2**20, 1)}


def _streamlit_command(settings: Settings, port: int | None) -> list[str]:
    import pages

    entry = Path(pages.__file__).parent / "app.py"
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(entry),
        "--server.address",
        settings.server_address,
        "--server.port",
        str(port or settings.server_port),
        "--server.headless",
        "true",
        "--server.maxUploadSize",  # our own limit (with its clear message), not Streamlit's 200 MB
        str(settings.max_upload_mb),
        "--browser.gatherUsageStats",
        "false",
    ]


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    """Start the web app on localhost (unless configured otherwise)."""
    engine(settings)
    env = {**os.environ, "LUSREVIEW_HOME": str(settings.home.resolve())}
    if settings.db_url:
        env["LUSREVIEW_DB_URL"] = settings.db_url
    print(
        f"lusreview: open http://{settings.server_address}:{args.port or settings.server_port}",
        file=sys.stderr,
    )
    return subprocess.call(_streamlit_command(settings, args.port), env=env)


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    """Seed the demo (accounts, phantom videos) and serve; a model run, CAMs and studies fill in meanwhile."""
    report = cmd_seed(args, settings)  # creates the demo accounts, the admin among them
    cmd_init(args, settings)
    print(json.dumps(jsonable(report), indent=2), file=sys.stderr)
    if args.no_model:
        return cmd_serve(args, settings)
    from reviewer.demo_job import start_demo_pipeline

    def echo(line: str) -> None:
        if not args.quiet:
            print(line, file=sys.stderr, flush=True)

    job = start_demo_pipeline(engine=engine(settings), settings=settings, echo=echo)
    try:
        return cmd_serve(args, settings)
    finally:
        job.stop()  # the server has stopped: the pipeline stops at its next step, the next demo resumes


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--home", type=Path, help="folder for the database and files (env LUSREVIEW_HOME)")
    common.add_argument("--db-url", help="SQLAlchemy database URL, e.g. PostgreSQL (env LUSREVIEW_DB_URL)")
    common.add_argument("--json", action="store_true", help="print the result as JSON")
    common.add_argument("--quiet", action="store_true", help="no progress output")
    parser = argparse.ArgumentParser(prog="lusreview", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, parents=[common], help=help_text, description=help_text)
        p.set_defaults(handler=handler)
        return p

    for name, handler in (("init", cmd_init), ("demo", cmd_demo)):
        p = add(name, handler, (handler.__doc__ or "").strip())
        p.add_argument("--admin-user", default="admin")
        p.add_argument("--admin-password", help="default: env LUSREVIEW_ADMIN_PASSWORD or a random one")
        if name == "demo":
            p.add_argument("--port", type=int)
            p.add_argument(
                "--no-model", action="store_true", help="skip the demo model run, CAMs and studies"
            )
    add("seed", cmd_seed, "Load the embedded phantom demo data (idempotent).")
    add("import-pocus", cmd_import_pocus, "Import the POCUS dataset layout.").add_argument("path")
    p = add("ingest", cmd_ingest, "Ingest video files.")
    p.add_argument("files", nargs="+")
    p.add_argument("--label", help="class, e.g. COVID-19, pneumonia, healthy")
    p.add_argument("--probe", choices=["convex", "linear"], default="convex")
    p.add_argument("--keep-overlays", action="store_true", help="do not remove burnt-in text and pointers")
    p.add_argument("--crop", help="x,y,w,h in original pixels instead of the suggested crop")
    p = add("videos", cmd_videos, "List stored videos.")
    p.add_argument("--label")
    p.add_argument("--limit", type=int, default=1000)
    for module in COMMAND_MODULES:
        module.register(add)
    add("prune-cache", cmd_prune_cache, (cmd_prune_cache.__doc__ or "").strip())
    add("serve", cmd_serve, "Start the web app.").add_argument("--port", type=int)
    return parser


def _print(result: Any, as_json: bool) -> None:
    if result is None or isinstance(result, int):
        return
    data = jsonable(result)
    if as_json:
        print(json.dumps(data, indent=2, sort_keys=True))
    elif isinstance(data, list):
        for row in data:
            print("  ".join(f"{k}={v}" for k, v in row.items()) if isinstance(row, dict) else row)
    else:
        for key, value in data.items():
            print(f"{key}: {value}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; user errors print a message and exit with status 2."""
    args = _parser().parse_args(argv)
    try:
        settings = load_settings(home=args.home, db_url=args.db_url)
        result = args.handler(args, settings)
    except CliError as exc:
        print(f"lusreview: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:  # services raise ValueError subclasses with messages safe to show
        print(f"lusreview: {exc}", file=sys.stderr)
        return 2
    _print(result, args.json)
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    raise SystemExit(main())
