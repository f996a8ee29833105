from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest

import model.feature_cache as feature_cache
from model.augment import apply_transforms, copy_transforms
from model.feature_cache import cache_key, cached_features
from model.trunk import trunk_features

from .conftest import SIZE

N, K = 5, 3


@pytest.fixture
def frames() -> np.ndarray:
    return np.random.default_rng(2).integers(0, 256, size=(N, SIZE, SIZE, 3)).astype(np.uint8)


@pytest.fixture
def trunk_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the frames that really go through the trunk."""
    calls: list[int] = []

    def counting(trunk: keras.Model, batch: np.ndarray, batch_size: int = 16) -> np.ndarray:
        calls.append(len(batch))
        return trunk_features(trunk, batch, batch_size)

    monkeypatch.setattr(feature_cache, "trunk_features", counting)
    return calls


def build(trunk: keras.Model, frames: np.ndarray, cache_dir: Path, **kwargs: object) -> np.ndarray:
    return cached_features(trunk, frames, cache_dir=cache_dir, copies=K, seed=4, batch_size=4, **kwargs)  # type: ignore[arg-type]


def test_round_trip_holds_every_augmented_copy(
    none_trunk: keras.Model, frames: np.ndarray, tmp_path: Path
) -> None:
    seen: list[tuple[str, int, int]] = []
    features = build(none_trunk, frames, tmp_path, progress=lambda *a: seen.append(a))
    assert isinstance(features, np.memmap) and features.dtype == np.float16
    assert features.shape == (N, K, SIZE // 16, SIZE // 16, 512)
    for k in range(K):
        expected = trunk_features(none_trunk, apply_transforms(frames, copy_transforms(N, k, seed=4)), 4)
        np.testing.assert_array_equal(features[:, k], expected)
    np.testing.assert_array_equal(features[:, 0], trunk_features(none_trunk, frames, 4))
    assert seen[-1] == ("features", N * K, N * K)
    assert [done for _, done, _ in seen] == sorted(done for _, done, _ in seen)


def test_second_call_reuses_the_file_without_the_trunk(
    none_trunk: keras.Model, frames: np.ndarray, tmp_path: Path, trunk_calls: list[int]
) -> None:
    first = np.array(build(none_trunk, frames, tmp_path))
    assert sum(trunk_calls) == N * K
    second = build(none_trunk, frames, tmp_path)
    assert sum(trunk_calls) == N * K
    np.testing.assert_array_equal(second, first)


@pytest.mark.parametrize("damage", ["truncate", "flip_byte", "header_shape", "no_header", "bad_json"])
def test_damaged_cache_is_detected_and_rebuilt(
    none_trunk: keras.Model, frames: np.ndarray, tmp_path: Path, trunk_calls: list[int], damage: str
) -> None:
    good = np.array(build(none_trunk, frames, tmp_path))
    (data,) = tmp_path.glob("*.npy")
    header = data.with_suffix(".json")
    if damage == "truncate":
        data.write_bytes(data.read_bytes()[:-1000])
    elif damage == "flip_byte":
        raw = bytearray(data.read_bytes())
        raw[len(raw) // 2] ^= 0xFF
        data.write_bytes(bytes(raw))
    elif damage == "header_shape":
        meta = json.loads(header.read_text())
        header.write_text(json.dumps({**meta, "shape": [N, K + 1, 4, 4, 512]}))
    elif damage == "no_header":
        header.unlink()
    else:
        header.write_text("{not json")
    rebuilt = build(none_trunk, frames, tmp_path)
    assert sum(trunk_calls) == 2 * N * K
    np.testing.assert_array_equal(rebuilt, good)
    build(none_trunk, frames, tmp_path)  # and the rebuilt entry is trusted again
    assert sum(trunk_calls) == 2 * N * K


def test_key_depends_on_weights_frames_copies_and_seed(
    none_trunk: keras.Model, hed_trunk: keras.Model, frames: np.ndarray
) -> None:
    base = cache_key(none_trunk, frames, copies=K, seed=0)
    assert base == cache_key(none_trunk, frames.copy(), copies=K, seed=0)
    others = {
        cache_key(hed_trunk, frames, copies=K, seed=0),
        cache_key(none_trunk, frames[::-1], copies=K, seed=0),
        cache_key(none_trunk, frames, copies=K + 1, seed=0),
        cache_key(none_trunk, frames, copies=K, seed=1),
        cache_key(none_trunk, frames, copies=K, seed=0, frame_ids=[str(i) for i in range(N)]),
    }
    assert base not in others and len(others) == 5
    with pytest.raises(ValueError, match="frame ids"):
        cache_key(none_trunk, frames, copies=K, seed=0, frame_ids=["a"])
