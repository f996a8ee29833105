from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from model.backbone import preprocess
from model.cams import ensemble_probabilities, head_probabilities
from model.feature_cache import cached_features
from model.fitting import HeadConfig, copy_schedule, fit_epochs, split_validation
from model.heads import (
    build_full_model,
    build_head,
    channel_statistics,
    fold_standardisation,
    load_head,
    save_head,
    standardised_model,
    train_head,
)
from model.trunk import trunk_features

from .conftest import LinesTask, randomise_dense

CONFIG = HeadConfig(epochs=8, patience=8)


@pytest.fixture(scope="module")
def features(
    hed_trunk: keras.Model, lines: LinesTask, tmp_path_factory: pytest.TempPathFactory
) -> np.ndarray:
    return cached_features(
        hed_trunk, lines.frames, cache_dir=tmp_path_factory.mktemp("cache"), copies=2, seed=0
    )


@pytest.fixture(scope="module")
def split(lines: LinesTask) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Test part: videos 0-3 (2 per class); the rest trains, with a grouped validation split."""
    test = np.flatnonzero(lines.videos < 4)
    fit, val = split_validation(lines.videos, lines.labels, np.flatnonzero(lines.videos >= 4), seed=0)
    return fit, val, test


def train(
    features: np.ndarray,
    lines: LinesTask,
    split: tuple[np.ndarray, ...],
    hed_backbone: keras.Model,
    **kw: object,
):  # type: ignore[no-untyped-def]
    fit, val, _ = split
    conv_init = hed_backbone.get_layer("block5_conv3").get_weights()
    return train_head(
        features, lines.labels, train_rows=fit, val_rows=val, n_classes=2, conv_init=conv_init, **kw
    )  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def trained(features: np.ndarray, lines: LinesTask, split: tuple[np.ndarray, ...], hed_backbone: keras.Model):  # type: ignore[no-untyped-def]
    epochs: list[tuple[str, int, int]] = []
    head, result = train(
        features, lines, split, hed_backbone, config=CONFIG, seed=3, progress=lambda *a: epochs.append(a)
    )
    return head, result, epochs


def test_split_validation_is_grouped_by_video_and_stratified(lines: LinesTask) -> None:
    rows = np.flatnonzero(lines.videos >= 2)
    fit, val = split_validation(lines.videos, lines.labels, rows, fraction=0.25, seed=1)
    assert sorted(np.concatenate([fit, val])) == sorted(rows)
    assert not set(lines.videos[fit]) & set(lines.videos[val])
    assert set(lines.labels[val]) == {0, 1}
    np.testing.assert_array_equal(split_validation(lines.videos, lines.labels, rows, 0.25, seed=1)[1], val)


def test_copy_schedule_never_repeats_a_copy_before_all_were_seen() -> None:
    schedule = copy_schedule(n_rows=50, copies=4, epochs=10, rng=np.random.default_rng(0))
    assert schedule.shape == (10, 50)
    for block in (schedule[0:4], schedule[4:8]):
        assert (np.sort(block, axis=0) == np.arange(4)[:, None]).all()
    fresh = copy_schedule(n_rows=50, copies=10, epochs=10, rng=np.random.default_rng(0))
    assert all(len(set(fresh[:, row])) == 10 for row in range(50))  # K = epochs: new copy every epoch


@pytest.mark.slow
def test_head_learns_the_toy_task_far_above_chance(
    trained: tuple, features: np.ndarray, lines: LinesTask, split: tuple[np.ndarray, ...]
) -> None:
    head, result, epochs = trained
    test = split[2]
    accuracy = (head_probabilities(head, features[test, 0]).argmax(axis=1) == lines.labels[test]).mean()
    assert accuracy >= 0.9  # chance is 0.5; test videos were never seen
    assert epochs == [("epoch", e, CONFIG.epochs) for e in range(1, result.epochs_run + 1)]
    assert set(lines.videos[test]).isdisjoint(lines.videos[np.concatenate(split[:2])])


@pytest.mark.slow
def test_early_stopping_restores_the_best_validation_weights(
    features: np.ndarray, lines: LinesTask, split: tuple[np.ndarray, ...], hed_backbone: keras.Model
) -> None:
    """Validation labels are inverted, so learning the task makes val_loss worse: training must stop
    after `patience` epochs without improvement and return the weights of the best epoch."""
    fit, val, _ = split
    inverted = lines.labels.copy()
    inverted[val] = 1 - inverted[val]
    config = HeadConfig(epochs=8, patience=2)
    conv_init = hed_backbone.get_layer("block5_conv3").get_weights()
    head, result = train_head(
        features,
        inverted,
        train_rows=fit,
        val_rows=val,
        n_classes=2,
        conv_init=conv_init,
        config=config,
        seed=0,
    )
    losses = [h["val_loss"] for h in result.history]
    assert result.epochs_run == result.best_epoch + config.patience < config.epochs
    assert losses[result.best_epoch - 1] == min(losses)
    rows = np.sort(val)
    probabilities = head_probabilities(head, np.asarray(features[rows, 0], np.float32))
    loss = -np.log(np.clip(probabilities[np.arange(len(rows)), inverted[rows]], 1e-7, 1.0)).mean()
    assert loss == pytest.approx(min(losses), rel=1e-4)  # the returned (folded) head is the best one


@pytest.mark.slow
def test_same_seed_same_weights_other_seed_other_weights(
    trained: tuple,
    features: np.ndarray,
    lines: LinesTask,
    split: tuple[np.ndarray, ...],
    hed_backbone: keras.Model,
) -> None:
    again, _ = train(features, lines, split, hed_backbone, config=CONFIG, seed=3)
    for a, b in zip(trained[0].get_weights(), again.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    other, _ = train(features, lines, split, hed_backbone, config=HeadConfig(epochs=1), seed=4)
    assert not np.array_equal(trained[0].get_weights()[-2], other.get_weights()[-2])


@pytest.mark.slow
def test_frozen_conv_trains_only_the_dense_layer(
    features: np.ndarray, lines: LinesTask, split: tuple[np.ndarray, ...], hed_backbone: keras.Model
) -> None:
    config = HeadConfig(epochs=2, trainable_conv=False)
    head, _ = train(features, lines, split, hed_backbone, config=config, seed=0)
    kernel, bias = hed_backbone.get_layer("block5_conv3").get_weights()
    np.testing.assert_array_equal(head.get_layer("block5_conv3").get_weights()[0], kernel)
    assert len(head.trainable_weights) == 2
    assert np.abs(head.get_layer("predictions").get_weights()[0]).max() > 0  # trained from zeros


@pytest.mark.slow
def test_frozen_conv_shortcut_equals_training_the_whole_head(
    features: np.ndarray, lines: LinesTask, split: tuple[np.ndarray, ...], hed_backbone: keras.Model
) -> None:
    """Pooling the frozen conv once must give the weights of running it in every step."""
    fit, val, _ = split
    config = HeadConfig(epochs=3, trainable_conv=False)
    conv_init = hed_backbone.get_layer("block5_conv3").get_weights()
    keras.utils.set_random_seed(5)
    reference = build_head(2, conv_init=conv_init, trainable_conv=False)
    pooled = keras.ops.mean(reference.get_layer("block5_conv3")(features[fit, 0]), axis=(1, 2))
    mean, scale = channel_statistics(keras.ops.convert_to_numpy(pooled))
    validation = (np.asarray(features[np.sort(val), 0], np.float32), lines.labels[np.sort(val)])
    expected = fit_epochs(
        standardised_model(reference, mean, scale, pooled_inputs=False),
        lambda rows, copies: np.asarray(features[rows, copies], np.float32),
        lines.labels,
        train_rows=fit,
        copies=features.shape[1],
        validation=validation,
        config=config,
        seed=5,
    )
    fold_standardisation(reference.get_layer("predictions"), mean, scale)
    head, result = train(features, lines, split, hed_backbone, config=config, seed=5)
    for a, b in zip(head.get_weights(), reference.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    assert [h["val_loss"] for h in result.history] == pytest.approx(
        [h["val_loss"] for h in expected.history], rel=1e-4
    )


def test_save_and_load_give_the_same_predictions(features: np.ndarray, tmp_path: Path) -> None:
    keras.utils.set_random_seed(0)
    head = randomise_dense(build_head(2))
    path = save_head(head, tmp_path / "fold0.weights.h5")
    loaded = load_head(path, n_classes=2)
    x = np.asarray(features[:6, 0], np.float32)
    np.testing.assert_allclose(head_probabilities(loaded, x), head_probabilities(head, x), rtol=1e-6)
    with pytest.raises(ValueError, match=".weights.h5"):
        save_head(head, tmp_path / "fold0.h5")


def test_full_model_equals_head_on_trunk_features(
    hed_backbone: keras.Model, hed_trunk: keras.Model, lines: LinesTask
) -> None:
    keras.utils.set_random_seed(0)
    full = build_full_model(hed_backbone, n_classes=2)
    head = randomise_dense(full.layers[-1])
    assert {w.path.split("/")[0] for w in full.trainable_weights} == {"block5_conv3", "predictions"}
    frames = lines.frames[:4]
    direct = keras.ops.convert_to_numpy(full.predict_on_batch(preprocess(frames)))
    via_trunk = ensemble_probabilities([head], trunk_features(hed_trunk, frames))
    np.testing.assert_allclose(direct, via_trunk, atol=1e-3)


def test_folded_standardisation_computes_the_same_function_under_any_dropout_mask() -> None:
    """Dropout sits before the standardisation, so masking ``g`` and folding commute exactly."""
    rng = np.random.default_rng(0)
    pooled = rng.gamma(0.5, 50.0, size=(64, 512)).astype(np.float32)  # heavy-tailed, like HED's
    pooled[:, :8] = 0.0  # silent channels get the floored spread, not a division by zero
    mean, scale = channel_statistics(pooled)
    assert np.all(scale >= 0.1 * pooled.std(axis=0).mean() - 1e-6)
    dense = keras.layers.Dense(3, activation="softmax")
    standardise = keras.layers.Normalization(mean=mean, variance=np.square(scale))
    masked = pooled * rng.integers(0, 2, size=pooled.shape) * 2.0  # one MC dropout draw, rate 0.5
    before = keras.ops.convert_to_numpy(dense(standardise(masked)))
    fold_standardisation(dense, mean, scale)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(dense(masked)), before, rtol=1e-4, atol=1e-6)


def test_a_fit_whose_validation_loss_is_never_finite_reports_the_epoch_it_keeps() -> None:
    """With no finite val_loss nothing is "best": the last weights stay, and the record says so."""
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(16, 4)).astype(np.float32), np.arange(16) % 2
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    result = fit_epochs(
        model,
        lambda rows, copies: x[rows],
        y,
        train_rows=np.arange(16),
        copies=1,
        validation=(np.full((4, 4), np.nan, np.float32), np.zeros(4, np.int64)),
        config=HeadConfig(epochs=6, patience=3),
        seed=0,
    )
    assert result.best_epoch == result.epochs_run == 3
