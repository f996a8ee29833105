"""The frozen, shared trunk: VGG16 from the input up to ``block5_conv2``.

Every layer up to ``block5_conv2`` is frozen and identical in the 5 fold models (only
``block5_conv3`` and the classifier differ), so its output is computed once per frame and
augmentation, cached, and reused by every head for training, inference, CAMs and MC dropout.
"""

from __future__ import annotations

import hashlib

import keras
import numpy as np

from model.backbone import preprocess

TRUNK_OUTPUT = "block5_conv2"


def build_trunk(backbone: keras.Model) -> keras.Model:
    """Cut a VGG16 backbone after ``block5_conv2`` and freeze it.

    Args:
        backbone: A model from :func:`model.backbone.build_vgg16`.

    Returns:
        A frozen model mapping preprocessed frames ``(N, S, S, 3)`` to ``(N, S/16, S/16, 512)``
        (14 x 14 x 512 at 224 px); it shares its layers (and weights) with ``backbone``.
    """
    trunk = keras.Model(backbone.input, backbone.get_layer(TRUNK_OUTPUT).output, name="trunk")
    trunk.trainable = False
    return trunk


def trunk_features(trunk: keras.Model, frames: np.ndarray, batch_size: int = 16) -> np.ndarray:
    """Run uint8 RGB frames through the trunk, in batches to bound memory.

    Args:
        trunk: A model from :func:`build_trunk`.
        frames: ``(N, S, S, 3)`` uint8 RGB frames at the trunk's input size.
        batch_size: Frames per forward pass.

    Returns:
        ``(N, S/16, S/16, 512)`` float16 features: half the disk and memory of float32, and ReLU
        activations of this size lose nothing a CAM or a classifier could notice.

    Raises:
        ValueError: The frames do not have the trunk's input shape.
    """
    expected = tuple(trunk.input_shape[1:])
    if frames.ndim != 4 or tuple(frames.shape[1:]) != expected:
        raise ValueError(f"frames must have shape (N, {', '.join(map(str, expected))}); got {frames.shape}")
    out = np.empty((len(frames), *trunk.output_shape[1:]), dtype=np.float16)
    for start in range(0, len(frames), batch_size):
        batch = preprocess(frames[start : start + batch_size])
        out[start : start + len(batch)] = np.asarray(trunk.predict_on_batch(batch), dtype=np.float16)
    return out


def weights_fingerprint(model: keras.Model) -> str:
    """Hash a model's weights, names and input shape, to key caches by what really computes them.

    A name such as ``"hed"`` can hide different files across package versions and ``"none"`` is
    random on every build, so cached features are tied to the exact weights instead.

    Returns:
        A hex digest that changes whenever any weight, layer name or the input shape changes.
    """
    digest = hashlib.sha256(repr(tuple(model.input_shape)).encode())
    for weight in model.weights:
        value = np.ascontiguousarray(keras.ops.convert_to_numpy(weight))
        digest.update(f"{weight.path}:{value.shape}:{value.dtype}".encode())
        digest.update(value.data)
    return digest.hexdigest()
