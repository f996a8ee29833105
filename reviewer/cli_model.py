"""``lusreview`` commands of the model: train the fold ensemble, make its CAMs, screen files."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from reviewer.cli_base import AddCommand, CliError, engine, progress
from reviewer.settings import Settings


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
        uncertainty_passes=args.uncertainty_passes,
    )
    run = train_model(engine=engine(settings), settings=settings, config=config, progress=progress(args))
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
        engine=engine(settings),
        settings=settings,
        run_id=args.run,
        use_prediction=args.target == "prediction",
        progress=progress(args),
    )
    return {"run_id": args.run, "assets": len(assets), "videos": len({a.video_id for a in assets})}


def cmd_predict(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    """Screen video files that are not stored with a finished run (research tool, not a diagnosis)."""
    from db.session import session_scope
    from reviewer.screening import screen_bytes
    from reviewer.screening_ensemble import ScreeningError, load_run_model

    with session_scope(engine(settings)) as session:
        try:
            model = load_run_model(session=session, settings=settings, run_id=args.run)
        except ScreeningError as exc:
            raise CliError(str(exc)) from exc
    overlays = None if args.overlays is None else Path(args.overlays)
    results: list[dict[str, Any]] = []
    for name in args.files:
        try:
            data = _read_checked(Path(name), settings)
            screened = screen_bytes(
                model=model, settings=settings, data=data, name=name, overlay_dir=overlays
            )
            results.append(screened.as_dict())
        except (ScreeningError, OSError) as exc:
            results.append({"path": name, "error": str(exc)})
    return {"run_id": args.run, "files": results}


def _read_checked(path: Path, settings: Settings) -> bytes:
    """Read a file after checking its size, so an oversized one is refused before it is loaded."""
    from reviewer.ingest_options import IngestError
    from reviewer.ingest_prepare import check_upload_size
    from reviewer.screening_ensemble import ScreeningError

    try:
        check_upload_size(path.stat().st_size, settings)
    except IngestError as exc:
        raise ScreeningError(str(exc)) from exc
    return path.read_bytes()


def register(add: AddCommand) -> None:
    """Add ``train``, ``cams`` and ``predict``."""
    p = add("train", cmd_train, (cmd_train.__doc__ or "").strip())
    p.add_argument(
        "--weights", default="hed", help="hed (offline default), imagenet, none, or a weights file"
    )
    p.add_argument("--trainable-conv", type=int, choices=[0, 1], default=1)
    p.add_argument("--augmentations", type=int, default=8, help="augmented copies per frame (K)")
    p.add_argument(
        "--uncertainty-passes",
        type=int,
        default=10,
        help="MC-dropout and TTA passes (paper: 10; passes beyond K-1 run the trunk again)",
    )
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
    p = add("predict", cmd_predict, (cmd_predict.__doc__ or "").strip())
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--run", type=int, required=True, help="a finished training run")
    p.add_argument("--overlays", metavar="DIR", help="also write each file's CAM overlay video here")
