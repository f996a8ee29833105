"""Pruning the review-clip cache on a real folder: unread clips go, the cap evicts the least recently read."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine

from db.session import session_scope
from reviewer.cli import main
from reviewer.review import review_item
from reviewer.review_clip_cache import CLIP_CACHE, PrunedClip, prune_clip_cache
from reviewer.review_media import player_media
from reviewer.settings import Settings
from reviewer.storage import resolve
from tests.code.review_support import review_world

DAY = 86_400
MB = 1024 * 1024


def put_clip(settings: Settings, key: str, *, days_unread: float, mb: int = 0, partial: str = "") -> Path:
    """A cache file named as the product names it (64 hex digits), last read ``days_unread`` ago.

    ``mb`` 0 means a small clip of 100 bytes.
    """
    path = resolve(settings, CLIP_CACHE) / f"{key * 64}{partial}.mp4"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\0" * (mb * MB or 100))
    stamp = time.time() - days_unread * DAY
    os.utime(path, (stamp, stamp))
    return path


def names(settings: Settings) -> set[str]:
    return {p.name[:1] for p in resolve(settings, CLIP_CACHE).iterdir()}


def test_clips_unread_for_the_keep_days_go_and_recent_ones_stay(settings: Settings) -> None:
    old = put_clip(settings, "a", days_unread=31)
    put_clip(settings, "b", days_unread=29)
    removed = prune_clip_cache(settings)
    assert removed == [PrunedClip(old.name, 100, "unused")]
    assert names(settings) == {"b"}


def test_the_keep_days_come_from_the_settings(settings: Settings) -> None:
    put_clip(settings, "a", days_unread=3)
    put_clip(settings, "b", days_unread=1)
    prune_clip_cache(settings.model_copy(update={"review_clip_keep_days": 2}))
    assert names(settings) == {"b"}


def test_over_the_cap_the_least_recently_read_go_first(settings: Settings) -> None:
    for key, days in (("c", 1), ("a", 5), ("d", 0), ("b", 3)):
        put_clip(settings, key, days_unread=days, mb=1)
    removed = prune_clip_cache(settings.model_copy(update={"review_clip_cache_mb": 2}))
    assert [(r.name[:1], r.reason) for r in removed] == [("a", "over size"), ("b", "over size")]
    assert names(settings) == {"c", "d"}


def test_a_clip_being_written_is_never_deleted_and_other_files_are_left_alone(settings: Settings) -> None:
    put_clip(settings, "a", days_unread=0, mb=2, partial=".0123abcd")  # a writer's temporary name
    put_clip(settings, "b", days_unread=40, partial=".0123abcd")  # left by a crashed writer
    put_clip(settings, "c", days_unread=1, mb=1)
    notes = resolve(settings, CLIP_CACHE) / "README.txt"
    notes.write_text("kept")
    os.utime(notes, (0, 0))
    removed = prune_clip_cache(settings.model_copy(update={"review_clip_cache_mb": 1}))
    assert [(r.name[:1], r.reason) for r in removed] == [("b", "unused")]
    assert names(settings) == {"a", "c", "R"}


def test_an_empty_or_missing_cache_prunes_nothing(settings: Settings) -> None:
    assert prune_clip_cache(settings) == []


def test_serving_a_clip_marks_it_read_and_writing_one_prunes(engine: Engine, settings: Settings) -> None:
    world = review_world(engine, settings, n_videos=1, frames=3)
    assert prune_clip_cache(settings) == []  # so only writing a clip can prune again soon after
    stale = put_clip(settings, "f", days_unread=90)
    with session_scope(engine) as session:
        shown = review_item(session=session, study_id=world.study_id, expert_id=world.experts[0], position=0)
        player_media(session=session, settings=settings, item=shown)  # encodes, writes and prunes
        assert not stale.exists()
        clips = list(resolve(settings, CLIP_CACHE).iterdir())  # the sampled frames and the original
        assert len(clips) == 2
        long_ago = time.time() - 40 * DAY
        for clip in clips:
            os.utime(clip, (long_ago, long_ago))
        player_media(session=session, settings=settings, item=shown)
    assert all(clip.stat().st_mtime > long_ago + 39 * DAY for clip in clips)
    assert prune_clip_cache(settings) == []
    assert all(clip.exists() for clip in clips)


def test_cli_prune_cache_prints_what_it_removed(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    old = put_clip(settings, "a", days_unread=45, mb=1)
    put_clip(settings, "b", days_unread=0)
    home = str(settings.home)
    assert main(["prune-cache", "--home", home, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result == {"removed": [{"name": old.name, "bytes": MB, "reason": "unused"}], "freed_mb": 1.0}
    assert names(settings) == {"b"}
    assert main(["prune-cache", "--home", home]) == 0
    assert capsys.readouterr().out.splitlines() == ["removed: []", "freed_mb: 0.0"]
