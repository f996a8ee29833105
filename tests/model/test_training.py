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
from reviewer.seed import seed_demo
from reviewer.settings import Settings
from reviewer.training import TrainConfig, TrainingError, train_model
from seed_data import load_manifest

pytestmark = pytest.mark.slow
CONFIG = TrainConfig(weights="hed", folds=3, input_size=64, epochs=3, augmentations=2, patience=2, seed=1)


@pytest.fixture
def seeded(engine: Engine, settings: Settings) -> Engine:
    manifest = load_manifest()
    per_class: Counter[str] = Counter()
    videos = []
    for video in manifest.videos:  # 4 videos per class keep 3 folds stratified and the test fast
        if per_class[video.label] < 4:
            per_class[video.label] += 1
            videos.append(video)
    small = dataclasses.replace(
        manifest, videos=tuple(videos), render=dataclasses.replace(manifest.render, seconds=1.0)
    )
    with session_scope(engine) as session:
        seed_demo(session=session, settings=settings, manifest=small)
    return engine


def test_ensemble_trains_stores_folds_predictions_and_metrics(seeded: Engine, settings: Settings) -> None:
    run = train_model(engine=seeded, settings=settings, config=CONFIG)
    with session_scope(seeded) as session:
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


def test_same_seed_gives_the_same_predictions(seeded: Engine, settings: Settings) -> None:
    first, second = (train_model(engine=seeded, settings=settings, config=CONFIG) for _ in range(2))
    with session_scope(seeded) as session:
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


def test_too_few_videos_is_refused_and_recorded_nowhere(seeded: Engine, settings: Settings) -> None:
    with pytest.raises(TrainingError, match="at least"):
        train_model(engine=seeded, settings=settings, config=dataclasses.replace(CONFIG, folds=5))
    with session_scope(seeded) as session:
        assert session.exec(select(ModelRun)).all() == []
