"""End to end on phantom videos: seed -> frames -> cached trunk features -> fold heads -> predictions."""

from __future__ import annotations

import dataclasses
from collections import Counter

import numpy as np
import pytest
from sqlalchemy import Engine
from sqlmodel import select

from db.models import FoldAssignment, ModelRun, Prediction
from db.session import session_scope
from reviewer.settings import Settings
from reviewer.training import TrainConfig, TrainingError, train_model

pytestmark = pytest.mark.slow
CONFIG = TrainConfig(weights="hed", folds=3, input_size=64, epochs=3, augmentations=2, patience=2, seed=1)


def test_ensemble_trains_stores_folds_predictions_and_metrics(
    phantom_engine: Engine, settings: Settings
) -> None:
    run = train_model(engine=phantom_engine, settings=settings, config=CONFIG)
    with session_scope(phantom_engine) as session:
        stored = session.get_one(ModelRun, run.id)
        folds = {
            a.video_id: a.fold
            for a in session.exec(select(FoldAssignment).where(FoldAssignment.run_id == run.id))
        }
        predictions = session.exec(select(Prediction).where(Prediction.run_id == run.id)).all()
    assert stored.status == "done" and stored.finished_at is not None
    assert len(folds) == 12 and sorted(Counter(folds.values()).values()) == [4, 4, 4]
    held_out = [p for p in predictions if p.fold is not None]
    assert held_out and all(
        p.fold == folds[p.video_id] for p in held_out
    )  # the test model never saw the video
    video_level = [p for p in predictions if p.frame_index is None]
    assert len(video_level) == 24  # held-out and ensemble row per video
    for p in predictions:
        assert sum(p.probabilities.values()) == pytest.approx(1.0, abs=1e-4)
    for fold in range(CONFIG.folds):
        assert (settings.home / stored.weights_dir / f"fold-{fold}.weights.h5").exists()
    frame_level = stored.metrics["levels"]["frame"]["pooled"]
    assert frame_level["n"] == len([p for p in held_out if p.frame_index is not None])
    assert stored.progress == 1.0
    training = stored.metrics["training"]  # read back through the JSON column
    assert [fold["fold"] for fold in training] == list(range(CONFIG.folds))
    for fold in training:
        assert 1 <= fold["best_epoch"] <= fold["epochs_run"] <= CONFIG.epochs
        assert [log["epoch"] for log in fold["history"]] == list(range(1, fold["epochs_run"] + 1))
        assert all({"loss", "val_loss", "val_accuracy"} <= set(log) for log in fold["history"])


def test_predictions_carry_both_confidences_and_the_fold_members(
    phantom_engine: Engine, settings: Settings
) -> None:
    run = train_model(engine=phantom_engine, settings=settings, config=CONFIG)
    with session_scope(phantom_engine) as session:
        predictions = session.exec(select(Prediction).where(Prediction.run_id == run.id)).all()
    for p in predictions:
        assert p.confidence_epistemic is not None and 0.0 <= p.confidence_epistemic <= 1.0
        assert p.confidence_aleatoric is not None and 0.0 <= p.confidence_aleatoric <= 1.0
    epistemic = {p.confidence_epistemic for p in predictions}
    assert len(epistemic) > 1  # real spreads, not a constant
    assert any(c < 1.0 for c in epistemic)  # dropout 0.5 moves the winning probability
    ensemble_videos = [p for p in predictions if p.fold is None and p.frame_index is None]
    assert len(ensemble_videos) == 12
    for p in ensemble_videos:
        assert p.members is not None and len(p.members) == CONFIG.folds
        mean = {c: np.mean([m[c] for m in p.members]) for c in p.probabilities}
        assert mean == pytest.approx(p.probabilities, abs=1e-4)  # the ensemble is the mean of its members
    assert all(p.members is None for p in predictions if p.fold is not None or p.frame_index is not None)


def test_same_seed_gives_the_same_predictions(phantom_engine: Engine, settings: Settings) -> None:
    first, second = (train_model(engine=phantom_engine, settings=settings, config=CONFIG) for _ in range(2))
    with session_scope(phantom_engine) as session:
        probs = [
            np.array(
                [
                    list(p.probabilities.values())
                    for p in session.exec(
                        select(Prediction).where(Prediction.run_id == run.id).order_by(Prediction.id)
                    )
                ]
            )
            for run in (first, second)
        ]
    np.testing.assert_allclose(probs[0], probs[1], atol=1e-5)


def test_too_few_videos_is_refused_and_recorded_nowhere(phantom_engine: Engine, settings: Settings) -> None:
    with pytest.raises(TrainingError, match="at least"):
        train_model(engine=phantom_engine, settings=settings, config=dataclasses.replace(CONFIG, folds=5))
    with session_scope(phantom_engine) as session:
        assert session.exec(select(ModelRun)).all() == []


def test_train_and_cams_from_the_command_line(
    phantom_engine: Engine, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from reviewer.cli import main

    home = ["--home", str(settings.home), "--json", "--quiet"]
    flags = [
        "--folds",
        "3",
        "--input-size",
        "64",
        "--epochs",
        "1",
        "--augmentations",
        "1",
        "--classes",
        "COVID-19,pneumonia,healthy",
    ]
    assert main(["train", *flags, *home]) == 0
    trained = json.loads(capsys.readouterr().out)
    assert trained["status"] == "done" and trained["videos"] == 12
    assert main(["cams", str(trained["run_id"]), *home]) == 0
    assert json.loads(capsys.readouterr().out) == {"run_id": trained["run_id"], "assets": 24, "videos": 12}
