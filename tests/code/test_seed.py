"""Seeding the demo into a real SQLite file: videos per class, accounts, and aligned ground truth."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from db.models import Frame, PatternTag, User, Video
from db.session import session_scope
from reviewer import seed as seed_module
from reviewer.ingest import IngestError
from reviewer.seed import GROUND_TRUTH_DIR, load_ground_truth, seed_demo
from reviewer.settings import Settings
from reviewer.users import authenticate
from reviewer.vocab import LusClass, Pattern, Role, TagSource, VideoSource
from seed_data import Manifest, load_manifest
from seed_data.phantom import render_phantom

PER_CLASS = 2


@pytest.fixture(scope="module")
def small_manifest() -> Manifest:
    """The packaged manifest cut to two videos per class, to keep the test run short."""
    full = load_manifest()
    kept = [
        video
        for label in (LusClass.COVID, LusClass.PNEUMONIA, LusClass.HEALTHY)
        for video in [v for v in full.videos if v.label is label][:PER_CLASS]
    ]
    return replace(full, videos=tuple(kept))


def _seed(engine: Engine, settings: Settings, manifest: Manifest) -> seed_module.SeedReport:
    with session_scope(engine) as session:
        return seed_demo(session=session, settings=settings, manifest=manifest)


def _stored_frame(settings: Settings, frame: Frame) -> np.ndarray:
    path = Path(frame.image_path)
    image = cv2.imread(str(path if path.is_absolute() else settings.home / path), cv2.IMREAD_GRAYSCALE)
    assert image is not None, f"stored frame {frame.image_path} cannot be read"
    return image.astype(np.float64)


def test_packaged_manifest_is_a_balanced_demo_set() -> None:
    manifest = load_manifest()
    assert Counter(v.label for v in manifest.videos) == {
        LusClass.COVID: 10,
        LusClass.PNEUMONIA: 10,
        LusClass.HEALTHY: 10,
    }
    assert len({v.seed for v in manifest.videos}) == len(manifest.videos)
    assert Counter(u.role for u in manifest.users) == {
        Role.ADMIN: 1,
        Role.EXPERT: 2,
        Role.ANNOTATOR: 1,
        Role.RESEARCHER: 1,
    }


def test_seed_stores_videos_accounts_and_tags(
    engine: Engine, settings: Settings, small_manifest: Manifest
) -> None:
    report = _seed(engine, settings, small_manifest)
    assert report.per_class == {"covid": PER_CLASS, "pneumonia": PER_CLASS, "healthy": PER_CLASS}
    assert len(report.added) == 3 * PER_CLASS and report.skipped == ()
    assert set(report.users_created) == {u.username for u in small_manifest.users}
    with Session(engine) as session:
        videos = session.exec(select(Video)).all()
        assert Counter(v.label for v in videos) == report.per_class
        assert {v.source for v in videos} == {VideoSource.PHANTOM.value}
        for item in small_manifest.videos:
            video = next(v for v in videos if v.display_name.startswith(item.name))
            tags = session.exec(select(PatternTag).where(PatternTag.video_id == video.id)).all()
            assert {t.source for t in tags} == {TagSource.PHANTOM.value}
            assert {t.pattern for t in tags} == {
                p.value for p in render_phantom(item.label, item.seed, seconds=2.0).patterns
            }
        roles = {u.username: u.role for u in session.exec(select(User)).all()}
        assert roles == {u.username: u.role.value for u in small_manifest.users}
        demo = small_manifest.users[0]
        assert authenticate(session=session, username=demo.username, password=demo.password) is not None


def test_ground_truth_is_aligned_with_the_stored_frames(
    engine: Engine, settings: Settings, small_manifest: Manifest
) -> None:
    _seed(engine, settings, replace(small_manifest, users=()))  # accounts are tested above; bcrypt is slow
    size = settings.frame_size
    with Session(engine) as session:
        for video in session.exec(select(Video)).all():
            frames = session.exec(select(Frame).where(Frame.video_id == video.id).order_by(Frame.index)).all()
            truth = load_ground_truth(settings=settings, video=video)
            assert set(truth) == set(Pattern)
            assert all(
                mask.shape == (len(frames), size, size) and mask.dtype == np.bool_ for mask in truth.values()
            )
            assert len(frames) >= 2
            tagged = {
                t.pattern for t in session.exec(select(PatternTag).where(PatternTag.video_id == video.id))
            }
            for pattern in (Pattern.B_LINES, Pattern.A_LINES, Pattern.AIR_BRONCHOGRAM):
                assert truth[pattern].any(axis=(1, 2)).all() == (pattern.value in tagged)
            for position, frame in enumerate(frames):
                image = _stored_frame(settings, frame)
                lung = np.arange(size) > np.flatnonzero(truth[Pattern.MUSCLE][position].any(axis=1)).max()
                for bright in (Pattern.B_LINES, Pattern.A_LINES, Pattern.AIR_BRONCHOGRAM):
                    mask = truth[bright][position]
                    if mask.any():
                        assert image[mask].mean() > image[lung[:, None] & ~mask & (image > 0)].mean() + 10
                if truth[Pattern.EFFUSION][position].any():
                    assert image[truth[Pattern.EFFUSION][position]].mean() < 40


def test_second_seed_skips_everything(engine: Engine, settings: Settings, small_manifest: Manifest) -> None:
    _seed(engine, settings, small_manifest)
    files = {p: p.read_bytes() for p in (settings.home / GROUND_TRUTH_DIR).iterdir()}
    again = _seed(engine, settings, small_manifest)
    assert again.added == () and set(again.skipped) == {v.name for v in small_manifest.videos}
    assert again.users_created == () and set(again.users_existing) == {
        u.username for u in small_manifest.users
    }
    assert again.per_class == {"covid": PER_CLASS, "pneumonia": PER_CLASS, "healthy": PER_CLASS}
    with Session(engine) as session:
        assert len(session.exec(select(Video)).all()) == 3 * PER_CLASS
        assert len(session.exec(select(User)).all()) == len(small_manifest.users)
    assert {p: p.read_bytes() for p in (settings.home / GROUND_TRUTH_DIR).iterdir()} == files


def test_failed_seed_leaves_no_rows_and_no_ground_truth(
    engine: Engine, settings: Settings, small_manifest: Manifest, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = seed_module.ingest_video
    calls: list[str] = []

    def failing_second(**kwargs: object) -> Video:
        calls.append(str(kwargs["filename"]))
        if len(calls) == 2:
            raise IngestError("simulated failure")
        return real(**kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(seed_module, "ingest_video", failing_second)
    with pytest.raises(IngestError, match="simulated"):
        _seed(engine, settings, replace(small_manifest, users=small_manifest.users[:1]))
    with Session(engine) as session:
        assert session.exec(select(Video)).all() == [] and session.exec(select(User)).all() == []
    for folder in (settings.videos_dir, settings.frames_dir, settings.home / GROUND_TRUTH_DIR):
        assert not folder.exists() or [p for p in folder.rglob("*") if p.is_file()] == []


def test_videos_without_ground_truth_give_an_empty_dict(settings: Settings) -> None:
    assert load_ground_truth(settings=settings, video=Video(checksum="ab" * 32)) == {}  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="home folder"):
        load_ground_truth(settings=settings, video=Video(checksum="../../etc/passwd"))  # type: ignore[call-arg]
