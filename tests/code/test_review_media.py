"""The media of a review item: real playable clips as hex, cached clips, fallbacks, clear refusals."""

from __future__ import annotations

import dataclasses
import io
import re

import av
import pytest
from sqlalchemy import Engine
from sqlmodel import select

from db.models import Frame, Video
from db.session import session_scope
from reviewer import review_media
from reviewer.review import ReviewError, ReviewItem, review_item
from reviewer.review_clip_cache import CLIP_CACHE
from reviewer.review_media import PlayerMedia, player_media
from reviewer.review_original import per_sample
from reviewer.settings import Settings
from reviewer.storage import resolve
from tests.code.review_support import ReviewWorld, review_world

FRAMES = 4


@pytest.fixture
def world(engine: Engine, settings: Settings) -> ReviewWorld:
    return review_world(engine, settings, n_videos=2, frames=FRAMES)


def media_of(engine: Engine, settings: Settings, world: ReviewWorld) -> tuple[ReviewItem, PlayerMedia]:
    with session_scope(engine) as session:
        shown = review_item(session=session, study_id=world.study_id, expert_id=world.experts[0], position=0)
        return shown, player_media(session=session, settings=settings, item=shown)


def decoded_frames(hex_text: str) -> tuple[str, int]:
    with av.open(io.BytesIO(bytes.fromhex(hex_text)), mode="r") as container:
        stream = container.streams.video[0]
        return stream.codec_context.name, sum(1 for _ in container.decode(stream))


def test_the_heatmaps_are_the_stored_files_the_frames_and_the_original_h264_clips(
    engine: Engine, settings: Settings, world: ReviewWorld
) -> None:
    shown, media = media_of(engine, settings, world)
    assert bytes.fromhex(media.heat_a.hex) == resolve(settings, shown.panel_a.overlay_path).read_bytes()
    assert bytes.fromhex(media.heat_b.hex) == resolve(settings, shown.panel_b.overlay_path).read_bytes()
    assert bytes.fromhex(media.original.hex) != resolve(settings, shown.video_path).read_bytes()
    assert (media.original_is_sampled, media.frame_count) == (False, FRAMES)
    with session_scope(engine) as session:
        sources = list(session.exec(select(Frame.source_index).where(Frame.video_id == shown.video_id)))
    slots = per_sample(sources, settings)
    assert slots > 1  # the original (10 fps) shows more than the samples, in the same time
    assert decoded_frames(media.original.hex) == ("h264", FRAMES * slots)
    assert decoded_frames(media.frames.hex) == ("h264", FRAMES)
    assert decoded_frames(media.heat_a.hex) == ("h264", FRAMES)


def test_nothing_in_the_media_can_spell_a_cam_type(
    engine: Engine, settings: Settings, world: ReviewWorld
) -> None:
    _, media = media_of(engine, settings, world)
    for clip in (media.original, media.frames, media.heat_a, media.heat_b):
        assert re.fullmatch("[0-9a-f]+", clip.hex)
        assert clip.mime == "video/mp4"
    assert {f.name for f in dataclasses.fields(media)} == {
        *("original", "original_is_sampled", "frames", "heat_a", "heat_b", "frame_count"),
    }


def test_the_frames_clip_and_the_original_are_encoded_once_and_reused(
    engine: Engine, settings: Settings, world: ReviewWorld
) -> None:
    _, first = media_of(engine, settings, world)
    cached = {p.name: p.stat().st_ino for p in resolve(settings, CLIP_CACHE).iterdir()}
    assert len(cached) == 2
    _, second = media_of(engine, settings, world)
    assert (second.frames, second.original) == (first.frames, first.original)
    # read again, not encoded again and renamed over them
    assert {p.name: p.stat().st_ino for p in resolve(settings, CLIP_CACHE).iterdir()} == cached


def test_a_new_cleaning_makes_the_original_again_instead_of_serving_the_cached_one(
    engine: Engine, settings: Settings, world: ReviewWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    media_of(engine, settings, world)
    before = {p.name for p in resolve(settings, CLIP_CACHE).iterdir()}
    monkeypatch.setattr(review_media, "CLEANING_VERSION", review_media.CLEANING_VERSION + 1)
    media_of(engine, settings, world)
    added = {p.name for p in resolve(settings, CLIP_CACHE).iterdir()} - before
    assert len(added) == 1  # the original again; the frames clip does not depend on the cleaning


def test_an_original_that_cannot_be_decoded_is_shown_as_its_sampled_frames(
    engine: Engine, settings: Settings, world: ReviewWorld
) -> None:
    with session_scope(engine) as session:
        video = session.get(Video, world.videos[0])
        assert video is not None
        resolve(settings, video.file_path).write_bytes(b"not a video at all")
    _, media = media_of(engine, settings, world)
    assert media.original_is_sampled and media.original == media.frames


def test_a_missing_original_gives_a_clear_message(
    engine: Engine, settings: Settings, world: ReviewWorld
) -> None:
    with session_scope(engine) as session:
        video = session.get(Video, world.videos[0])
        assert video is not None
        resolve(settings, video.file_path).unlink()
    with pytest.raises(ReviewError, match="files are unavailable"):
        media_of(engine, settings, world)


def test_a_missing_file_gives_a_clear_message(engine: Engine, settings: Settings, world: ReviewWorld) -> None:
    shown, _ = media_of(engine, settings, world)
    resolve(settings, shown.panel_b.overlay_path).unlink()
    with pytest.raises(ReviewError, match="files are unavailable; please tell the study administrator"):
        media_of(engine, settings, world)
