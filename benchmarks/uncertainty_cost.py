"""What uncertainty adds to a run, and what screening one video costs.

* training: for N frames at the model's input size, the feature cache fill (K trunk passes, the
  dominant cost of a run besides head training) against the scoring step that gives every frame
  its deterministic, 10 MC-dropout and 10 augmented probabilities from all 5 heads
  (:func:`reviewer.run_uncertainty.head_passes`), once with the cache's K - 1 augmented copies
  reused (what training does) and once with all 10 augmented passes through the trunk;
* screening: :func:`reviewer.screening.screen_bytes` on a phantom mp4 (decode, crop, trunk, 5 heads,
  20 stochastic passes, train-CAM overlay video), per video, and how soon its early verdict (before
  the augmented passes) reaches the page.

Heads are untrained (same cost as trained ones). Run with ``nice``; the figures are medians.

    nice -n 10 python benchmarks/uncertainty_cost.py                     # 30 frames at 224 px
    nice -n 10 python benchmarks/uncertainty_cost.py --frames 10 --size 64
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from model.augment import augment_batch, augmented_copies
from model.heads import build_head
from model.trunk import trunk_features
from reviewer.run_uncertainty import PASSES, head_passes, run_trunk
from reviewer.screening import screen_bytes
from reviewer.screening_ensemble import RunModel
from reviewer.settings import load_settings
from reviewer.training import TrainConfig
from reviewer.vocab import LusClass
from seed_data.phantom import render_phantom, write_video


def _median(call: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    """Print the timings."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--copies", type=int, default=8, help="K of the feature cache")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    config = TrainConfig(input_size=args.size, augmentations=args.copies)
    trunk = run_trunk(config)
    heads = [build_head(3, conv_init=None) for _ in range(config.folds)]
    frames = np.random.default_rng(0).integers(0, 255, (args.frames, args.size, args.size, 3), np.uint8)
    copies = augmented_copies(frames, args.copies, 0)
    cached = np.stack([trunk_features(trunk, copies[:, k]) for k in range(args.copies)], axis=1)
    rng = np.random.default_rng(1)

    def fill() -> None:
        for k in range(args.copies):
            trunk_features(trunk, copies[:, k])

    def reused(p: int) -> np.ndarray:
        return cached[:, p + 1] if p + 1 < args.copies else trunk_features(trunk, augment_batch(frames, rng))

    timings = {
        f"cache fill (K={args.copies} trunk passes)": _median(fill, args.repeats),
        "scoring, cached copies reused": _median(
            lambda: head_passes(heads, cached[:, 0], reused), args.repeats
        ),
        "scoring, all augmented passes fresh": _median(
            lambda: head_passes(
                heads, cached[:, 0], lambda _: trunk_features(trunk, augment_batch(frames, rng))
            ),
            args.repeats,
        ),
    }
    print(f"{args.frames} frames at {args.size} px, {config.folds} heads, {PASSES} + {PASSES} passes")
    base = timings[f"cache fill (K={args.copies} trunk passes)"]
    for name, seconds in timings.items():
        print(f"  {name:42s} {seconds:7.2f} s  ({seconds / base:.2f} x the cache fill)")
    model = RunModel(run_id=0, config=config, trunk=trunk, heads=heads)
    settings = load_settings(home=Path(tempfile.mkdtemp()))
    settings.home.mkdir(parents=True, exist_ok=True)
    phantom = render_phantom(LusClass.COVID, 1, size=256, seconds=args.frames / 3, fps=15.0)
    data = write_video(phantom, settings.home / "p.mp4").read_bytes()
    early: list[float] = []
    totals: list[float] = []
    for _ in range(args.repeats):
        start = time.perf_counter()

        def verdict_shown(_: object, start: float = start) -> None:
            early.append(time.perf_counter() - start)

        screen_bytes(
            model=model,
            settings=settings,
            data=data,
            name="p.mp4",
            overlay_dir=settings.home,
            on_verdict=verdict_shown,
        )
        totals.append(time.perf_counter() - start)
    first, whole = statistics.median(early), statistics.median(totals)
    print(f"  screening one {args.frames}-frame video (with overlay) {whole:7.2f} s")
    print(
        f"  ... its early verdict (class, model confidence, heatmap)  {first:7.2f} s  ({first / whole:.2f} x)"
    )


if __name__ == "__main__":
    main()
