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
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
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
        The trained head (best validation weights) and its :class:`TrainResult`.
    """
    config = config or HeadConfig()
    keras.utils.set_random_seed(seed)
    head = build_head(
        n_classes, conv_init=conv_init, trainable_conv=config.trainable_conv, dropout=config.dropout
    )
    model, x = head, features
    if not config.trainable_conv:
        model, x = _dense_top(head), _pooled(head, features, np.concatenate([train_rows, val_rows]))
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
    return head, result


def _dense_top(head: keras.Model) -> keras.Model:
    """The head's dropout and dense layers as a model on pooled activations (same layer objects).

    Training it trains the head: with a frozen conv, ``GAP(conv(x))`` never changes, so it is
    computed once per frame and copy (:func:`_pooled`) instead of in every epoch.
    """
    inputs = keras.Input(shape=(head.get_layer(CONV).filters,), name="pooled")
    return keras.Model(inputs, head.get_layer(DENSE)(head.get_layer(DROPOUT)(inputs)), name="dense_top")


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
