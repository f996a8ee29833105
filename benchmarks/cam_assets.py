"""Train-CAM + test-CAM of one video: shared trunk against 6 independent full-network passes.

* shared: one trunk pass over the frames, then the 5 fold heads' convs on its output give the
  train-CAM (mean of 5) and the test-CAM (the held-out fold's head);
* naive: 5 full VGG-CAM passes for the train-CAM plus a 6th for the test-CAM, keras-io style
  (a model from frames to ``block5_conv3`` activations per fold);
* reference: one plain VGG16 pass (``include_top=False``) over the same frames.

Both CAM paths include normalising, upsampling to the frame and the peak of every map; the maps are
checked to be equal. Every path runs once untimed first (tracing), then the paths take turns
``--repeats`` times (median).

    python benchmarks/cam_assets.py                 # 30 frames at 224 px, ~3 min on 2 cores
    python benchmarks/cam_assets.py --frames 10 --size 112
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

from model import cams as cam_lib
from model.backbone import build_vgg16, preprocess
from model.heads import build_head
from model.trunk import build_trunk, trunk_features

BATCH = 16


Shown = tuple[np.ndarray, list[tuple[int, int]]]
"""Upsampled maps and their peaks."""


def display(maps: np.ndarray, size: int) -> Shown:
    """What the asset pipeline does after the CAM: upsample to the frame and find the peaks."""
    big = cam_lib.upsample(maps, size)
    return big, [cam_lib.peak(m) for m in big]


def shared_path(
    trunk: keras.Model, heads: list[keras.Model], test_fold: int, frames: np.ndarray, target: int
) -> Callable[[], tuple[Shown, Shown]]:
    def run() -> tuple[Shown, Shown]:
        features = trunk_features(trunk, frames, BATCH)
        train = cam_lib.train_cam(heads, features, target)
        test = cam_lib.test_cam(heads[test_fold], features, target)
        return display(train, frames.shape[1]), display(test, frames.shape[1])

    return run


def naive_path(
    trunk: keras.Model, heads: list[keras.Model], test_fold: int, frames: np.ndarray, target: int
) -> Callable[[], tuple[Shown, Shown]]:
    """Per fold an independent frames -> block5_conv3 model, as a per-model CAM script would build."""
    models = []
    for head in heads:
        inputs = keras.Input(trunk.input_shape[1:])
        models.append(keras.Model(inputs, head.get_layer("block5_conv3")(trunk(inputs))))
    weights = [head.get_layer("predictions").get_weights()[0][:, target] for head in heads]

    def fold_cam(fold: int) -> np.ndarray:
        x = preprocess(frames)
        activations = np.concatenate(
            [models[fold].predict_on_batch(x[i : i + BATCH]) for i in range(0, len(x), BATCH)]
        )
        cam: np.ndarray = activations @ weights[fold]
        return cam

    def run() -> tuple[Shown, Shown]:
        train = cam_lib.normalise(np.mean([fold_cam(fold) for fold in range(len(heads))], axis=0))
        test = cam_lib.normalise(fold_cam(test_fold))
        return display(train, frames.shape[1]), display(test, frames.shape[1])

    return run


def plain_path(backbone: keras.Model, frames: np.ndarray) -> Callable[[], object]:
    def run() -> object:
        x = preprocess(frames)
        return [backbone.predict_on_batch(x[i : i + BATCH]) for i in range(0, len(x), BATCH)]

    return run


def timed(runs: dict[str, Callable[[], object]], repeats: int) -> dict[str, tuple[float, float, object]]:
    """Median wall and CPU seconds per path (CPU: all threads of this process).

    Each path runs once untimed (tracing), then the paths take turns ``repeats`` times, so a change
    in other jobs' load hits them alike; CPU time is the more robust figure on a shared machine.
    """
    results = {name: run() for name, run in runs.items()}
    walls: dict[str, list[float]] = {name: [] for name in runs}
    cpus: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            wall, cpu = time.perf_counter(), time.process_time()
            results[name] = run()
            walls[name].append(time.perf_counter() - wall)
            cpus[name].append(time.process_time() - cpu)
    return {n: (statistics.median(walls[n]), statistics.median(cpus[n]), results[n]) for n in runs}


def fold_heads(backbone: keras.Model, folds: int, classes: int) -> list[keras.Model]:
    """Distinct heads as after training: backbone conv slightly perturbed, random class weights."""
    rng = np.random.default_rng(0)
    kernel, bias = backbone.get_layer("block5_conv3").get_weights()
    heads = []
    for _ in range(folds):
        conv = [kernel * rng.uniform(0.95, 1.05, kernel.shape[-1]).astype(np.float32), bias]
        head = build_head(classes, conv_init=conv)
        head.get_layer("predictions").set_weights(
            [rng.normal(0, 0.05, (512, classes)).astype(np.float32), np.zeros(classes, np.float32)]
        )
        heads.append(head)
    return heads


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--classes", type=int, default=3)
    parser.add_argument("--weights", default="hed")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    tf.get_logger().setLevel("ERROR")  # per-model predict functions trace twice (batch 16 and the rest)

    frames = (
        np.random.default_rng(0)
        .integers(0, 256, size=(args.frames, args.size, args.size, 3))
        .astype(np.uint8)
    )
    backbone = build_vgg16(args.weights, args.size)
    trunk = build_trunk(backbone)
    heads = fold_heads(backbone, args.folds, args.classes)
    print(f"{args.frames} frames at {args.size} px, {args.folds} fold heads, weights={args.weights}")

    runs = {
        "plain": plain_path(backbone, frames),
        "shared": shared_path(trunk, heads, 2, frames, 1),
        "naive": naive_path(trunk, heads, 2, frames, 1),
    }
    times = timed(runs, args.repeats)
    for (a, _), (b, _) in zip(times["shared"][2], times["naive"][2], strict=True):  # type: ignore[call-overload]
        np.testing.assert_allclose(a, b, atol=2e-2)
    labels = {"plain": "plain VGG16 pass", "shared": "shared trunk CAMs", "naive": "6 full passes (naive)"}
    print("                          wall s    CPU s")
    for name, label in labels.items():
        print(f"{label:<23} {times[name][0]:8.2f} {times[name][1]:8.2f}")
    for a, b, goal in (("shared", "plain", "<= 1.3x"), ("naive", "shared", ">= 4x")):
        wall, cpu = times[a][0] / times[b][0], times[a][1] / times[b][1]
        print(f"{a + ' / ' + b:<23} {wall:7.2f}x {cpu:7.2f}x  (goal {goal})")


if __name__ == "__main__":
    main()
