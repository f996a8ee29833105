"""Train-CAMs and test-CAMs of a trained run: maps, peaks, playable overlays, blinded names."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from sqlalchemy import Engine
from sqlmodel import select

from db.models import CamAsset, FoldAssignment, Study, StudyItem, User
from db.session import session_scope
from reviewer.cam_assets import CamError, make_cams, overlay, stored_peaks
from reviewer.settings import Settings
from reviewer.storage import resolve
from reviewer.training import TrainConfig, train_model

pytestmark = pytest.mark.slow
CONFIG = TrainConfig(weights="hed", folds=3, input_size=64, epochs=2, augmentations=2, patience=2, seed=2)


def test_every_video_gets_a_blinded_train_and_test_cam(phantom_engine: Engine, settings: Settings) -> None:
    run = train_model(engine=phantom_engine, settings=settings, config=CONFIG)
    assets = make_cams(engine=phantom_engine, settings=settings, run_id=int(run.id or 0))
    with session_scope(phantom_engine) as session:
        stored = session.exec(select(CamAsset).where(CamAsset.run_id == run.id)).all()
        n_videos = len(session.exec(select(FoldAssignment).where(FoldAssignment.run_id == run.id)).all())
    assert len(assets) == len(stored) == 2 * n_videos
    for asset in stored:
        cams = np.load(resolve(settings, asset.raw_path))["cams"]
        assert cams.dtype == np.float16 and cams.min() >= 0.0 and cams.max() <= 1.0
        assert len(asset.peaks) == len(cams)
        assert all(p == [] or (0 <= p[0] < 224 and 0 <= p[1] < 224) for p in asset.peaks)
        assert [p == [] for p in asset.peaks] == [not frame.any() for frame in cams]
        for text in (asset.token, asset.raw_path, asset.overlay_path):
            assert "train" not in text and "test" not in text
        with av.open(str(resolve(settings, asset.overlay_path))) as container:
            stream = container.streams.video[0]
            assert stream.codec_context.name == "h264"
            assert sum(1 for _ in container.decode(stream)) == len(cams)


def test_a_frame_without_evidence_is_stored_without_a_peak() -> None:
    maps = np.zeros((3, 8, 8), np.float32)
    maps[1, 2, 5] = 1.0
    maps[2, 0, 0] = 0.3
    assert stored_peaks(maps) == [[], [5, 2], [0, 0]]


def test_rerunning_cams_replaces_old_files_but_keeps_pinned_assets(
    phantom_engine: Engine, settings: Settings
) -> None:
    run = train_model(engine=phantom_engine, settings=settings, config=CONFIG)
    run_id = int(run.id or 0)
    first = make_cams(engine=phantom_engine, settings=settings, run_id=run_id)
    pinned, unpinned = first[0], first[2]
    with session_scope(phantom_engine) as session:
        expert = User(username="e", display_name="E", password_hash="x", role="expert")
        study = Study(name="s", run_id=run_id)
        session.add_all([expert, study])
        session.flush()
        session.add(
            StudyItem(
                study_id=int(study.id or 0),
                expert_id=int(expert.id or 0),
                video_id=pinned.video_id,
                position=0,
                left_kind=pinned.kind,
                left_asset_id=pinned.id,
                token="t",
            )
        )
    second = make_cams(engine=phantom_engine, settings=settings, run_id=run_id)
    with session_scope(phantom_engine) as session:
        stored = session.exec(select(CamAsset).where(CamAsset.run_id == run_id)).all()
    assert len(second) == len(first) - 1 and len(stored) == len(first)
    tokens = {a.token for a in stored}
    assert pinned.token in tokens and unpinned.token not in tokens
    for path in (pinned.raw_path, pinned.overlay_path):
        assert resolve(settings, path).exists()
    for path in (unpinned.raw_path, unpinned.overlay_path):
        assert not resolve(settings, path).exists()
    on_disk = {p.name for p in settings.assets_dir.rglob("*") if p.is_file()}
    expected = {Path(a.raw_path).name for a in stored} | {Path(a.overlay_path).name for a in stored}
    assert (
        on_disk == expected
    )  # no orphans: neither replaced files nor the dropped duplicate of the pinned slot


def test_cams_need_a_finished_run(phantom_engine: Engine, settings: Settings) -> None:
    with pytest.raises(CamError, match="not finished"):
        make_cams(engine=phantom_engine, settings=settings, run_id=999)


def test_overlay_leaves_low_values_clear_and_colours_the_peak() -> None:
    frames = np.full((1, 8, 8, 3), 100, np.uint8)
    maps = np.zeros((1, 8, 8), np.float32)
    maps[0, 2, 3] = 1.0
    blended = overlay(frames, maps)
    assert (blended[0, 0, 0] == 100).all()  # under the threshold: the image itself
    assert not (blended[0, 2, 3] == 100).all()
