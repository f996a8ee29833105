"""The ``lusreview`` command line: one entry point for admins, scripts and CI.

Every subcommand takes ``--home`` and ``--db-url`` (or the ``LUSREVIEW_HOME`` / ``LUSREVIEW_DB_URL``
environment variables) and, where it reports results, ``--json`` so scripts can read them. Heavy
modules (TensorFlow, OpenCV) are imported inside the commands that need them, so ``--help`` is fast.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from reviewer.settings import Settings, load_settings

Handler = Callable[[argparse.Namespace, Settings], Any]


class CliError(Exception):
    """A failure the user can fix; printed without a traceback, exit status 2."""


def _engine(settings: Settings) -> Engine:
    from reviewer.context import open_engine

    return open_engine(settings)


def _jsonable(value: Any) -> Any:
    if hasattr(value, "as_dict"):
        return _jsonable(value.as_dict())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _jsonable(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def cmd_init(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    """Create or upgrade the database; create the first admin if there is none."""
    from db.session import session_scope
    from reviewer.users import create_user, list_users
    from reviewer.vocab import Role

    engine = _engine(settings)
    result: dict[str, Any] = {"database": settings.database_url, "home": str(settings.home.resolve())}
    with session_scope(engine) as session:
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

    with session_scope(_engine(settings)) as session:
        return seed_demo(session=session, settings=settings)


def cmd_import_pocus(args: argparse.Namespace, settings: Settings) -> Any:
    """Import the public POCUS dataset layout: one transaction per video, failures reported."""
    from reviewer.pocus_import import import_pocus

    root = Path(args.path)
    if not root.is_dir():
        raise CliError(f"{root} is not a folder")
    return import_pocus(engine=_engine(settings), settings=settings, root=root, progress=_progress(args))


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
    engine = _engine(settings)
    stored: list[dict[str, Any]] = []
    failed: list[dict[str, str]] = []
    for name in args.files:
        try:
            with session_scope(engine) as session:
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
    with session_scope(_engine(settings)) as session:
        return list_videos(session=session, label=label, limit=args.limit)


def cmd_train(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    """Train the 5-fold VGG-CAM ensemble on the stored labelled videos and record the run."""
    from reviewer.ingest import parse_label
    from reviewer.training import TrainConfig, train_model
    from reviewer.vocab import Probe

    config = TrainConfig(
        weights=args.weights,
        trainable_conv=bool(args.trainable_conv),
        augmentations=args.augmentations,
        epochs=args.epochs,
        folds=args.folds,
        input_size=args.input_size,
        seed=args.seed,
        probe=Probe(args.probe),
        classes=tuple(parse_label(c) for c in args.classes.split(",")),
    )
    run = train_model(engine=_engine(settings), settings=settings, config=config, progress=_progress(args))
    levels = run.metrics.get("levels", {})
    return {
        "run_id": run.id,
        "status": run.status,
        "config": run.config,
        "videos": len(run.data_snapshot),
        "weights_dir": run.weights_dir,
        "accuracy": {name: level["pooled"]["accuracy"] for name, level in levels.items()},
        "balanced_accuracy": {name: level["pooled"]["balanced_accuracy"] for name, level in levels.items()},
    }


def cmd_cams(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    """Make the train-CAM and test-CAM of every video of a run (raw maps, peaks, overlay videos)."""
    from reviewer.cam_assets import make_cams

    assets = make_cams(
        engine=_engine(settings),
        settings=settings,
        run_id=args.run,
        use_prediction=args.target == "prediction",
        progress=_progress(args),
    )
    return {"run_id": args.run, "assets": len(assets), "videos": len({a.video_id for a in assets})}


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
        "--browser.gatherUsageStats",
        "false",
    ]


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    """Start the web app on localhost (unless configured otherwise)."""
    _engine(settings)
    env = {**os.environ, "LUSREVIEW_HOME": str(settings.home.resolve())}
    if settings.db_url:
        env["LUSREVIEW_DB_URL"] = settings.db_url
    print(
        f"lusreview: open http://{settings.server_address}:{args.port or settings.server_port}",
        file=sys.stderr,
    )
    return subprocess.call(_streamlit_command(settings, args.port), env=env)


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    """Everything the demo needs (database, demo accounts and phantom videos), then serve."""
    report = cmd_seed(args, settings)  # creates the demo accounts, the admin among them
    cmd_init(args, settings)
    print(json.dumps(_jsonable(report), indent=2), file=sys.stderr)
    return cmd_serve(args, settings)


def _progress(args: argparse.Namespace) -> Callable[[str, int, int], None]:
    def report(stage: str, done: int, total: int) -> None:
        if not args.quiet:
            print(
                f"\r{stage}: {done}/{total}", end="\n" if done == total else "", file=sys.stderr, flush=True
            )

    return report


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
    p = add("train", cmd_train, (cmd_train.__doc__ or "").strip())
    p.add_argument(
        "--weights", default="hed", help="hed (offline default), imagenet, none, or a weights file"
    )
    p.add_argument("--trainable-conv", type=int, choices=[0, 1], default=1)
    p.add_argument("--augmentations", type=int, default=8, help="augmented copies per frame (K)")
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--input-size", type=int, default=224)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--probe", choices=["convex", "linear"], default="convex")
    p.add_argument("--classes", default="covid,pneumonia,healthy", help="comma-separated")
    p = add("cams", cmd_cams, (cmd_cams.__doc__ or "").strip())
    p.add_argument("run", type=int)
    p.add_argument(
        "--target", choices=["label", "prediction"], default="label", help="class the CAMs explain"
    )
    add("serve", cmd_serve, "Start the web app.").add_argument("--port", type=int)
    return parser


def _print(result: Any, as_json: bool) -> None:
    if result is None or isinstance(result, int):
        return
    data = _jsonable(result)
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
