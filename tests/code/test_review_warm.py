"""Warming the review-clip cache when a study opens: real videos, a real SQLite file, the player's clips."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from db.models import StudyItem, Video
from db.session import session_scope
from reviewer import review_warm
from reviewer.review import review_item
from reviewer.review_clip_cache import CLIP_CACHE
from reviewer.review_media import player_media
from reviewer.review_warm import STAGE, start_warming, warm_study_clips
from reviewer.settings import Settings
from reviewer.storage import resolve
from tests.code.review_support import ReviewWorld, review_world

VIDEOS = 3


@pytest.fixture
def world(engine: Engine, settings: Settings) -> ReviewWorld:
    return review_world(engine, settings, n_videos=VIDEOS, frames=4)


def cached(settings: Settings) -> dict[str, int]:
    folder = resolve(settings, CLIP_CACHE)
    return {p.name: p.stat().st_ino for p in folder.iterdir()} if folder.is_dir() else {}


def no_encoding(monkeypatch: pytest.MonkeyPatch) -> None:
    """From now on any encoding fails the test: the player may only read what warming cached."""

    def refuse(*_args: object) -> Path:
        raise AssertionError("encoded a clip that warming should have prepared")

    monkeypatch.setattr("reviewer.review_clip_cache.write_h264", refuse)


def show_items(engine: Engine, settings: Settings, world: ReviewWorld, videos: set[int]) -> int:
    """Show every item of both experts whose video is in ``videos``; return how many were shown."""
    shown = 0
    with session_scope(engine) as session:
        for expert in world.experts:
            items = session.exec(
                select(StudyItem.position, StudyItem.video_id).where(StudyItem.expert_id == expert)
            ).all()
            for position, video_id in items:
                if video_id in videos:
                    item = review_item(
                        session=session, study_id=world.study_id, expert_id=expert, position=position
                    )
                    media = player_media(session=session, settings=settings, item=item)
                    assert not media.original_is_sampled
                    shown += 1
    return shown


def test_after_warming_every_item_plays_from_the_cache(
    engine: Engine, settings: Settings, world: ReviewWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    steps: list[tuple[str, int, int]] = []
    prepared = warm_study_clips(
        engine=engine,
        settings=settings,
        study_id=world.study_id,
        progress=lambda *step: steps.append(step),
    )
    assert prepared == VIDEOS  # distinct videos, though each expert reads every one
    assert steps == [(STAGE, done, VIDEOS) for done in range(1, VIDEOS + 1)]
    warmed = cached(settings)
    assert len(warmed) == 2 * VIDEOS  # the sampled frames and the cleaned original of each
    no_encoding(monkeypatch)
    assert show_items(engine, settings, world, set(world.videos)) == 2 * VIDEOS
    assert cached(settings) == warmed  # read, not written again


def test_warming_again_reads_the_cache_without_encoding(
    engine: Engine, settings: Settings, world: ReviewWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    warm_study_clips(engine=engine, settings=settings, study_id=world.study_id)
    warmed = cached(settings)
    no_encoding(monkeypatch)
    assert warm_study_clips(engine=engine, settings=settings, study_id=world.study_id) == VIDEOS
    assert cached(settings) == warmed


def test_a_video_without_its_original_is_skipped_and_the_others_are_warmed(
    engine: Engine, settings: Settings, world: ReviewWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = world.videos[1]
    with session_scope(engine) as session:
        resolve(settings, session.get_one(Video, missing).file_path).unlink()
    assert warm_study_clips(engine=engine, settings=settings, study_id=world.study_id) == VIDEOS - 1
    no_encoding(monkeypatch)
    others = set(world.videos) - {missing}
    assert show_items(engine, settings, world, others) == 2 * (VIDEOS - 1)


def test_an_undecodable_original_is_not_counted_as_prepared(
    engine: Engine, settings: Settings, world: ReviewWorld
) -> None:
    with session_scope(engine) as session:
        resolve(settings, session.get_one(Video, world.videos[0]).file_path).write_bytes(b"not a video")
    assert warm_study_clips(engine=engine, settings=settings, study_id=world.study_id) == VIDEOS - 1
    assert len(cached(settings)) == 2 * VIDEOS - 1  # its sampled frames are still cached


def test_the_background_job_warms_the_study_once_per_process(
    engine: Engine, settings: Settings, world: ReviewWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = start_warming(engine=engine, settings=settings, study_id=world.study_id)
    job.thread.join(300)
    assert (job.prepared, job.error) == (VIDEOS, None)
    assert len(cached(settings)) == 2 * VIDEOS

    release, calls = threading.Event(), []

    def held(**kwargs: object) -> int:
        calls.append(kwargs["study_id"])
        release.wait(60)
        return 7

    monkeypatch.setattr(review_warm, "warm_study_clips", held)
    first = start_warming(engine=engine, settings=settings, study_id=world.study_id)
    assert first is not job
    assert start_warming(engine=engine, settings=settings, study_id=world.study_id) is first
    release.set()
    first.thread.join(60)
    assert (first.prepared, calls) == (7, [world.study_id])


def test_a_failing_background_job_keeps_its_error(
    engine: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(**_kwargs: object) -> int:
        raise RuntimeError("database gone")

    monkeypatch.setattr(review_warm, "warm_study_clips", broken)
    job = start_warming(engine=engine, settings=settings, study_id=99)
    job.thread.join(60)
    assert (job.prepared, job.error) == (None, "RuntimeError: database gone")
