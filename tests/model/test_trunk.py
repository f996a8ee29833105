from __future__ import annotations

import keras
import numpy as np
import pytest

from model.backbone import preprocess
from model.trunk import build_trunk, trunk_features, weights_fingerprint

from .conftest import SIZE


def test_trunk_stops_at_block5_conv2_and_is_frozen(hed_backbone: keras.Model, hed_trunk: keras.Model) -> None:
    assert hed_trunk.output_shape == (None, SIZE // 16, SIZE // 16, 512)
    assert hed_trunk.layers[-1].name == "block5_conv2"
    assert not hed_trunk.trainable_weights


def test_trunk_features_are_float16_block5_conv2_outputs(
    hed_backbone: keras.Model, hed_trunk: keras.Model
) -> None:
    frames = np.random.default_rng(0).integers(0, 256, size=(5, SIZE, SIZE, 3)).astype(np.uint8)
    got = trunk_features(hed_trunk, frames, batch_size=2)
    assert got.dtype == np.float16 and got.shape == (5, SIZE // 16, SIZE // 16, 512)
    reference = keras.Model(hed_backbone.input, hed_backbone.get_layer("block5_conv2").output)
    expected = keras.ops.convert_to_numpy(reference(preprocess(frames)))
    np.testing.assert_allclose(got.astype(np.float32), expected, rtol=2e-3, atol=2e-2)
    assert expected.max() > 1.0  # real activations, not an all-zero coincidence


def test_trunk_features_refuse_frames_of_another_size(hed_trunk: keras.Model) -> None:
    with pytest.raises(ValueError, match="frames must have shape"):
        trunk_features(hed_trunk, np.zeros((1, SIZE + 16, SIZE + 16, 3), np.uint8))


def test_fingerprint_follows_the_weights(
    hed_backbone: keras.Model, hed_trunk: keras.Model, none_trunk: keras.Model
) -> None:
    assert weights_fingerprint(hed_trunk) == weights_fingerprint(build_trunk(hed_backbone))
    assert weights_fingerprint(hed_trunk) != weights_fingerprint(none_trunk)
