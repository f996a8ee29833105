"""How long ``lusreview demo`` takes to fill its pages: seed, then the demo pipeline step by step.

Seeds the 30 phantom videos into a fresh temporary home (or ``--home``), then runs the pipeline
``lusreview demo`` starts in the background (model run with the demo settings, its CAMs, both demo
studies) and prints wall and CPU seconds (CPU time of all threads of this process, which is less
sensitive to other jobs on the machine) for the seed, the whole pipeline and a second, no-op pass.

    nice -n 10 python -m benchmarks.demo_pipeline                 # the demo settings
    nice -n 10 python -m benchmarks.demo_pipeline --input-size 96 --epochs 5
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from db.models import ModelRun
from db.session import session_scope
from reviewer.context import open_engine
from reviewer.demo_pipeline import DEMO_CONFIG, run_demo_pipeline
from reviewer.seed import seed_demo
from reviewer.settings import load_settings


def timed(label: str, work: Callable[[], Any]) -> Any:
    """Run ``work`` and print its wall and CPU seconds."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    print(f"{label:<22} {time.perf_counter() - wall:8.1f} {time.process_time() - cpu:8.1f}", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--home", type=Path, help="default: a fresh temporary folder")
    parser.add_argument("--input-size", type=int, default=DEMO_CONFIG.input_size)
    parser.add_argument("--epochs", type=int, default=DEMO_CONFIG.epochs)
    parser.add_argument("--augmentations", type=int, default=DEMO_CONFIG.augmentations)
    args = parser.parse_args()
    config = dataclasses.replace(
        DEMO_CONFIG, input_size=args.input_size, epochs=args.epochs, augmentations=args.augmentations
    )
    with tempfile.TemporaryDirectory(prefix="lusreview-demo-bench-") as folder:
        settings = load_settings(home=args.home or Path(folder))
        engine = open_engine(settings)
        start = time.monotonic()

        def echo(line: str) -> None:
            print(f"  [{time.monotonic() - start:6.1f} s] {line}", flush=True)

        def seed() -> None:
            with session_scope(engine) as session:
                seed_demo(session=session, settings=settings)

        print(f"config: {config.as_dict()}")
        print(f"{'step':<22} {'wall s':>8} {'CPU s':>8}")
        timed("seed (30 videos)", seed)
        report = timed(
            "demo pipeline",
            lambda: run_demo_pipeline(engine=engine, settings=settings, config=config, echo=echo),
        )
        timed(
            "second pass (no-op)", lambda: run_demo_pipeline(engine=engine, settings=settings, config=config)
        )
        with session_scope(engine) as session:
            run = session.get_one(ModelRun, report.run_id)
            levels = run.metrics.get("levels", {})
            accuracy = {name: round(level["pooled"]["accuracy"], 3) for name, level in levels.items()}
        print(f"run {report.run_id}: {report.cam_assets} CAM assets, studies {report.studies_created}")
        print(f"held-out accuracy: {accuracy}")


if __name__ == "__main__":
    main()
