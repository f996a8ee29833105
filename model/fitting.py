"""The paper's training recipe, shared by the fold heads and the naive full-network baseline.

Adam 1e-4, batch 8, up to 40 epochs, early stopping (best weights restored) on a validation split
of the training *videos*. Each epoch shows every training frame once, as one of its ``K``
augmented copies; the copies are visited in a per-frame random order without repetition, so with
``K >= epochs`` every epoch sees a fresh augmentation exactly as on-the-fly augmentation would.
Everything random is drawn from generators seeded by the caller, so a run is reproducible.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import keras
import numpy as np

from model.feature_cache import Progress

BatchInputs = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""``(rows, copies) -> model inputs`` for one batch: which frames, and which augmented copy of each."""


@dataclasses.dataclass(frozen=True)
class HeadConfig:
    """Training hyper-parameters of a fold head (the paper's values by default); store with the run."""

    epochs: int = 40
    batch_size: int = 8
    learning_rate: float = 1e-4
    patience: int = 10
    """Epochs without a lower validation loss before stopping. The validation split is ~14 videos on
    POCUS, so its loss is noisy: with 5, one fold of 5 stopped after its first epoch (frame accuracy
    0.79 over folds; 0.81 with 10, as with no stopping). Born et al.'s code waits 20."""
    trainable_conv: bool = True
    dropout: float = 0.5


@dataclasses.dataclass(frozen=True)
class TrainResult:
    """What happened during training: per-epoch losses and the epoch whose weights were kept."""

    history: list[dict[str, float]]
    best_epoch: int
    epochs_run: int


def split_validation(
    video_ids: np.ndarray, labels: np.ndarray, rows: np.ndarray, fraction: float = 0.2, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Hold out about ``fraction`` of the videos of ``rows`` (per class) for early stopping.

    Frames of one video are near-duplicates, so splitting frames would leak and stop too late;
    whole videos are held out instead, in every class that has at least two videos.

    Args:
        video_ids: Video id of every frame (ints or strings), length N.
        labels: Class index of every frame, length N.
        rows: Frame indices of the fold's training part.
        fraction: Share of each class' videos to hold out.
        seed: Seed of the choice.

    Returns:
        ``(fit_rows, val_rows)``: disjoint by video, together equal to ``rows``.
    """
    rng = np.random.default_rng(seed)
    videos = np.unique(video_ids[rows])
    video_label = {v: np.bincount(labels[rows][video_ids[rows] == v]).argmax() for v in videos}
    held: list[object] = []
    for c in sorted(set(video_label.values())):
        of_class = [v for v in videos if video_label[v] == c]
        if len(of_class) >= 2:
            n_held = min(len(of_class) - 1, max(1, round(fraction * len(of_class))))
            held.extend(rng.permutation(np.array(of_class))[:n_held])
    is_val = np.isin(video_ids[rows], np.array(held))
    return rows[~is_val], rows[is_val]


def copy_schedule(n_rows: int, copies: int, epochs: int, rng: np.random.Generator) -> np.ndarray:
    """Which cached copy each frame shows in each epoch: ``(epochs, n_rows)`` ints in ``[0, copies)``.

    Every block of ``copies`` epochs visits each frame's copies in a fresh random order, so no copy
    repeats before all were seen.
    """
    cycles = -(-epochs // copies)
    base = np.tile(np.arange(copies), (n_rows, 1))
    blocks = [rng.permuted(base, axis=1).T for _ in range(cycles)]
    return np.concatenate(blocks, axis=0)[:epochs]


def fit_epochs(
    model: keras.Model,
    inputs: BatchInputs,
    labels: np.ndarray,
    *,
    train_rows: np.ndarray,
    copies: int,
    validation: tuple[np.ndarray, np.ndarray] | None,
    config: HeadConfig,
    seed: int,
    progress: Progress | None = None,
) -> TrainResult:
    """Train with the paper's recipe; shared by head training and the naive full-network baseline.

    Args:
        model: Model to train in place (softmax outputs).
        inputs: Builds a batch of inputs from frame rows and copy indices.
        labels: Class index per frame (indexed by row).
        train_rows: Rows to fit on.
        copies: ``K``, the number of copies ``inputs`` can serve per frame.
        validation: ``(x, y)`` for early stopping on ``val_loss`` (best weights restored); None
            trains all epochs and keeps the last weights.
        config: Hyper-parameters.
        seed: Seeds the epoch order and copy schedule.
        progress: Called with ``("epoch", epoch, config.epochs)`` after every epoch.
    """
    rng = np.random.default_rng(seed)
    schedule = copy_schedule(len(train_rows), copies, config.epochs, rng)
    model.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate), loss="sparse_categorical_crossentropy"
    )
    history: list[dict[str, float]] = []
    best, best_weights, best_epoch, waited = np.inf, None, 0, 0
    for epoch in range(config.epochs):
        order = rng.permutation(len(train_rows))
        loss = _train_epoch(
            model, inputs, labels, train_rows[order], schedule[epoch, order], config.batch_size
        )
        logs = {"epoch": float(epoch + 1), "loss": loss}
        if validation is not None:
            logs |= _validate(model, *validation)
        history.append(logs)
        if progress is not None:
            progress("epoch", epoch + 1, config.epochs)
        if validation is None:
            continue
        if logs["val_loss"] < best:
            best, best_weights, best_epoch, waited = logs["val_loss"], model.get_weights(), epoch + 1, 0
        elif (waited := waited + 1) >= config.patience:
            break
    if best_weights is not None:
        model.set_weights(best_weights)
    else:  # no validation, or no finite validation loss (a diverged fit): the last weights are kept
        best_epoch = len(history)
    return TrainResult(history=history, best_epoch=best_epoch, epochs_run=len(history))


def _validate(model: keras.Model, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Validation loss (Keras' clipped cross-entropy) and accuracy from eager batched predictions.

    ``model.evaluate`` would build a ``tf.data`` pipeline on every call, which costs more than a
    small validation set's whole forward pass.
    """
    probabilities = run_batched(lambda batch: model(batch, training=False), x)
    p_true = np.clip(probabilities[np.arange(len(y)), y], 1e-7, 1.0)
    return {
        "val_loss": float(-np.log(p_true).mean()),
        "val_accuracy": float((probabilities.argmax(1) == y).mean()),
    }


def run_batched(call: Callable[[np.ndarray], object], x: np.ndarray, batch_size: int = 32) -> np.ndarray:
    """Apply a layer or model eagerly to float32 batches of ``x`` (which may be memory-mapped).

    Eager calls trace no ``tf.function`` per new model (5 heads, MC passes); at these sizes the
    convs dominate and run as fast as traced.

    Returns:
        The concatenated outputs as float32.
    """
    parts = [
        keras.ops.convert_to_numpy(call(np.asarray(x[i : i + batch_size], np.float32)))
        for i in range(0, len(x), batch_size)
    ]
    out: np.ndarray = np.concatenate(parts).astype(np.float32)
    return out


def _train_epoch(
    model: keras.Model,
    inputs: BatchInputs,
    labels: np.ndarray,
    rows: np.ndarray,
    copies: np.ndarray,
    batch: int,
) -> float:
    """One pass over ``rows`` (already shuffled) in batches; return the mean batch loss."""
    losses = []
    for start in range(0, len(rows), batch):
        x = inputs(rows[start : start + batch], copies[start : start + batch])
        losses.append(model.train_on_batch(x, labels[rows[start : start + batch]], return_dict=True)["loss"])
    return float(np.mean(losses))
