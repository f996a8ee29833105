"""Fold heads (``block5_conv3`` + GAP + dropout + softmax) and their training on cached features.

A head is the only part of Born et al.'s VGG-CAM that differs between the 5 fold models, so it is
trained on trunk features from :mod:`model.feature_cache` instead of on frames: an epoch costs a
3 x 3 conv at 14 x 14 instead of a whole VGG16 pass. Heads take inputs of any spatial size, so one
saved head serves every input size whose trunk it was trained on.

Training follows the paper's recipe in :mod:`model.fitting`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import keras
import numpy as np

from model.feature_cache import Progress
from model.fitting import HeadConfig, TrainResult, fit_epochs, run_batched
from model.trunk import build_trunk

CONV = "block5_conv3"
GAP = "gap"
DROPOUT = "dropout"
DENSE = "predictions"


def build_head(
    n_classes: int,
    *,
    conv_init: Sequence[np.ndarray] | None = None,
    trainable_conv: bool = True,
    dropout: float = 0.5,
) -> keras.Model:
    """Build a fold head on trunk features ``(N, h, w, 512)``.

    Args:
        n_classes: Number of softmax outputs.
        conv_init: ``[kernel, bias]`` of the backbone's ``block5_conv3`` (fine-tuning starts from the
            pretrained layer, as in the paper); None leaves Keras' random initialisation.
        trainable_conv: Fine-tune ``block5_conv3`` (the paper) or train only the dense layer.
        dropout: Dropout rate between pooling and the dense layer (MC dropout reuses it).

    Returns:
        Model ``features -> probabilities`` with layers named ``block5_conv3``, ``gap``, ``dropout``,
        ``predictions``.

    The dense kernel starts at zero (uniform probabilities, loss ln C) instead of Keras' random
    default: pooled HED activations reach ~180 (about 1900 summed per frame), so a random kernel
    starts with logits in the hundreds, a saturated softmax, and Adam at 1e-4 never recovers when
    the conv is frozen (measured: chance accuracy on a trivial task, 1.0 with zeros). A last layer
    needs no symmetry breaking: each class' gradient differs.
    """
    inputs = keras.Input(shape=(None, None, 512), name="trunk_features")
    conv = keras.layers.Conv2D(512, 3, padding="same", activation="relu", name=CONV)
    x = conv(inputs)
    x = keras.layers.GlobalAveragePooling2D(name=GAP)(x)
    x = keras.layers.Dropout(dropout, name=DROPOUT)(x)
    outputs = keras.layers.Dense(n_classes, activation="softmax", kernel_initializer="zeros", name=DENSE)(x)
    if conv_init is not None:
        conv.set_weights(list(conv_init))
    conv.trainable = trainable_conv
    return keras.Model(inputs, outputs, name="vgg_cam_head")


def build_full_model(backbone: keras.Model, n_classes: int, trainable_conv: bool = True) -> keras.Model:
    """The whole VGG-CAM end to end: frozen VGG16 up to ``block5_conv2``, then a fresh head.

    Only the naive baseline of ``benchmarks/train_ensemble.py`` uses it, to measure what the shared
    trunk saves; it takes preprocessed frames, not features.
    """
    head = build_head(
        n_classes, conv_init=backbone.get_layer(CONV).get_weights(), trainable_conv=trainable_conv
    )
    inputs = keras.Input(shape=backbone.input_shape[1:], name="frames")
    return keras.Model(inputs, head(build_trunk(backbone)(inputs)), name="vgg_cam_full")


def train_head(
    features: np.ndarray,
    labels: np.ndarray,
    *,
    train_rows: np.ndarray,
    val_rows: np.ndarray,
    n_classes: int,
    conv_init: Sequence[np.ndarray] | None,
    config: HeadConfig | None = None,
    seed: int = 0,
    progress: Progress | None = None,
) -> tuple[keras.Model, TrainResult]:
    """Train one fold head on cached trunk features, reproducibly from ``seed``.

    The dense layer trains on *standardised* pooled activations: each channel minus its mean and
    divided by its spread over the fold's training frames (at the pretrained conv). Raw pooled HED
    activations range over three orders of magnitude, so Adam at 1e-4 fits the loud channels and
    barely moves the rest in 40 epochs (measured on 89 real POCUS videos, frozen conv, 5 folds, no
    early stopping: frame accuracy 0.78 raw, 0.83 standardised). The standardisation sits between
    dropout and dense, where it is an affine map per channel, and is folded into the dense weights
    after training (:func:`fold_standardisation`): the saved head is the paper's exact architecture
    and computes the same function, MC dropout included, and its CAMs are ``sum_k w[k, c] * A_k``.

    With ``config.trainable_conv`` False only dropout + dense train, on pooled conv activations
    computed once up front: the same result as running the frozen conv in every step, far faster.

    Args:
        features: ``(N, K, h, w, 512)`` cache from :func:`model.feature_cache.cached_features`.
        labels: ``(N,)`` class indices.
        train_rows: Rows to fit on (augmented copies are sampled per epoch).
        val_rows: Rows of held-out training videos (see :func:`model.fitting.split_validation`),
            judged on their unaugmented copy 0; empty disables early stopping.
        n_classes: Number of classes.
        conv_init: Backbone ``block5_conv3`` weights, ``backbone.get_layer("block5_conv3").get_weights()``.
        config: Hyper-parameters; None means the paper's :class:`HeadConfig`.
        seed: Seeds Keras (initialisation, dropout) and the sampling; same seed, same weights on CPU.
        progress: Per-epoch callback, see :func:`model.fitting.fit_epochs`.

    Returns:
        The trained head (best validation weights, standardisation folded in) and its
        :class:`TrainResult`.
    """
    config = config or HeadConfig()
    keras.utils.set_random_seed(seed)
    head = build_head(
        n_classes, conv_init=conv_init, trainable_conv=config.trainable_conv, dropout=config.dropout
    )
    x: np.ndarray = features
    if config.trainable_conv:
        mean, scale = channel_statistics(_pooled(head, features[:, :1], train_rows)[train_rows, 0])
    else:
        x = _pooled(head, features, np.concatenate([train_rows, val_rows]))
        mean, scale = channel_statistics(x[train_rows, 0])
    model = standardised_model(head, mean, scale, pooled_inputs=not config.trainable_conv)
    val_rows = np.sort(val_rows)
    validation = (np.asarray(x[val_rows, 0], np.float32), labels[val_rows]) if len(val_rows) else None

    def inputs(rows: np.ndarray, copies: np.ndarray) -> np.ndarray:
        return np.asarray(x[rows, copies], dtype=np.float32)

    result = fit_epochs(
        model,
        inputs,
        labels,
        train_rows=train_rows,
        copies=features.shape[1],
        validation=validation,
        config=config,
        seed=seed,
        progress=progress,
    )
    fold_standardisation(head.get_layer(DENSE), mean, scale)
    return head, result


def channel_statistics(pooled: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and spread of pooled activations ``(N, 512)``, for the standardisation.

    The spread is floored at a tenth of the mean spread: a channel (nearly) silent on the training
    frames would otherwise be amplified without bound once the fine-tuned conv or a test frame
    wakes it.
    """
    mean = pooled.mean(axis=0)
    spread = pooled.std(axis=0)
    floor = max(0.1 * float(spread.mean()), 1e-6)
    return mean.astype(np.float32), np.maximum(spread, floor).astype(np.float32)


def fold_standardisation(dense: keras.layers.Dense, mean: np.ndarray, scale: np.ndarray) -> None:
    """Fold ``z = (g - mean) / scale`` into the dense layer that follows it: ``w' = w / scale``.

    ``dense((g - mean) / scale) == dense'(g)`` with ``w'[k] = w[k] / scale[k]`` and
    ``b' = b - sum_k w[k] * mean[k] / scale[k]``; dropout before the map masks ``g`` either way.
    """
    kernel, bias = (np.asarray(v, np.float32) for v in dense.get_weights())
    folded = kernel / scale[:, None]
    dense.set_weights([folded, bias - mean @ folded])


def standardised_model(
    head: keras.Model, mean: np.ndarray, scale: np.ndarray, *, pooled_inputs: bool
) -> keras.Model:
    """The training model: the head's own layers, with a fixed standardisation before the dense.

    On ``pooled_inputs`` (frozen conv) it starts after the pooling: with a frozen conv,
    ``GAP(conv(x))`` never changes, so it is computed once per frame and copy (:func:`_pooled`)
    instead of in every epoch. Training it trains the head (same layer objects).
    """
    if pooled_inputs:
        inputs = keras.Input(shape=(head.get_layer(CONV).filters,), name="pooled")
        x = inputs
    else:
        inputs = keras.Input(shape=(None, None, 512), name="trunk_features")
        x = head.get_layer(GAP)(head.get_layer(CONV)(inputs))
    x = head.get_layer(DROPOUT)(x)
    x = keras.layers.Normalization(mean=mean, variance=np.square(scale), name="standardise")(x)
    return keras.Model(inputs, head.get_layer(DENSE)(x), name="standardised_head")


def _pooled(head: keras.Model, features: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``GAP(block5_conv3(x))`` of every copy of ``rows``: ``(N, K, 512)`` float32, other rows 0."""
    conv = head.get_layer(CONV)
    pooled = np.zeros((*features.shape[:2], conv.filters), np.float32)
    rows = np.unique(rows)
    for start in range(0, len(rows), 64):
        chunk = rows[start : start + 64]
        for k in range(features.shape[1]):
            pooled[chunk, k] = run_batched(lambda x: keras.ops.mean(conv(x), axis=(1, 2)), features[chunk, k])
    return pooled


def save_head(head: keras.Model, path: Path) -> Path:
    """Save a head's weights (``.weights.h5``, the only Keras 3 weights format); return the path."""
    if not path.name.endswith(".weights.h5"):
        raise ValueError(f"head weights files must end in .weights.h5, got {path.name}")
    path.parent.mkdir(parents=True, exist_ok=True)
    head.save_weights(path)
    return path


def load_head(path: Path, n_classes: int, dropout: float = 0.5) -> keras.Model:
    """Rebuild a head and load its weights; for inference, so the conv is frozen."""
    head = build_head(n_classes, trainable_conv=False, dropout=dropout)
    head.load_weights(path)
    return head
