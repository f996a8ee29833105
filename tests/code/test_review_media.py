"""The media of a review item: real playable clips as hex, cached frame clips, fallbacks, clear refusals."""

from __future__ import annotations

import dataclasses
import io
import re

import av
import pytest
from sqlalchemy import Engine

from db.models import Video
from db.session import session_scope
from reviewer.review import ReviewError, ReviewItem, review_item
from reviewer.review_media import CLIP_CACHE, PlayerMedia, player_media
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


def test_the_three_panels_are_the_stored_files_and_an_h264_clip_of_the_frames(
    engine: Engine, settings: Settings, world: ReviewWorld
) -> None:
    shown, media = media_of(engine, settings, world)
    assert bytes.fromhex(media.heat_a.hex) == resolve(settings, shown.panel_a.overlay_path).read_bytes()
    assert bytes.fromhex(media.heat_b.hex) == resolve(settings, shown.panel_b.overlay_path).read_bytes()
    assert bytes.fromhex(media.original.hex) == resolve(settings, shown.video_path).read_bytes()
    assert (media.original_is_sampled, media.frame_count) == (False, FRAMES)
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


def test_the_frames_clip_is_encoded_once_and_reused(
    engine: Engine, settings: Settings, world: ReviewWorld
) -> None:
    _, first = media_of(engine, settings, world)
    (cached,) = resolve(settings, CLIP_CACHE).iterdir()
    inode = cached.stat().st_ino
    _, second = media_of(engine, settings, world)
    assert second.frames == first.frames
    assert [p.name for p in resolve(settings, CLIP_CACHE).iterdir()] == [cached.name]
    assert cached.stat().st_ino == inode  # read again, not encoded again and renamed over it


def test_an_original_browsers_cannot_play_is_shown_as_its_sampled_frames(
    engine: Engine, settings: Settings, world: ReviewWorld
) -> None:
    shown, _ = media_of(engine, settings, world)
    with session_scope(engine) as session:
        video = session.get(Video, shown.video_id)
        assert video is not None
        avi = video.file_path.replace(".mp4", ".avi")
        resolve(settings, video.file_path).rename(resolve(settings, avi))
        video.file_path = avi
    _, media = media_of(engine, settings, world)
    assert media.original_is_sampled and media.original == media.frames


def test_a_missing_file_gives_a_clear_message(engine: Engine, settings: Settings, world: ReviewWorld) -> None:
    shown, _ = media_of(engine, settings, world)
    resolve(settings, shown.panel_b.overlay_path).unlink()
    with pytest.raises(ReviewError, match="files are unavailable; please tell the study administrator"):
        media_of(engine, settings, world)
