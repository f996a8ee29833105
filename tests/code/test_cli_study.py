"""``lusreview study``: create, open, close, list and key through main(), as an admin's script would."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import Engine

from db.models import Study, StudyItem, Video
from db.session import session_scope
from reviewer.cli import main
from reviewer.review_clip_cache import CLIP_CACHE
from reviewer.settings import Settings
from reviewer.storage import resolve
from tests.code.review_support import review_world
from tests.code.stock_study import World, count, items_of, make_world

Capture = pytest.CaptureFixture[str]


def study(settings: Settings, capsys: Capture, *argv: str) -> Any:
    """Run one ``study`` action with --json; return the parsed output."""
    assert main(["study", *argv, "--home", str(settings.home), "--json"]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def refused(settings: Settings, capsys: Capture, *argv: str) -> str:
    """Run one ``study`` action that must fail; return its message."""
    assert main(["study", *argv, "--home", str(settings.home), "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    return captured.err


def create(settings: Settings, capsys: Capture, *extra: str) -> Any:
    return study(
        settings, capsys, "create", "--name", "Pilot", "--run", "1", "--experts", "expert0,Expert1",
        "--reference", "expert1", *extra,
    )  # fmt: skip


@pytest.fixture
def world(engine: Engine) -> World:
    return make_world(engine, n_videos=12, wrong={0})


def test_round_trip_create_open_close_key(
    settings: Settings, engine: Engine, world: World, capsys: Capture
) -> None:
    made = create(
        settings, capsys, "--videos", "all", "--reread-share", "0.1", "--washout", "2", "--seed", "4"
    )
    summary = made["study"]
    assert (summary["name"], summary["state"], summary["run_id"], summary["seed"]) == ("Pilot", "draft", 1, 4)
    assert [(e["username"], e["items"], e["done"], e["reference"]) for e in summary["experts"]] == [
        ("expert0", 13, 0, False),
        ("expert1", 13, 0, True),
    ]
    assert [(b["username"], b["items"], b["rereads"]) for b in made["balance"]] == [
        ("expert0", 13, 1),
        ("expert1", 13, 1),
    ]
    assert all(abs(2 * b["train_left"] - b["items"]) == 1 for b in made["balance"])
    assert "only after the study is closed" in refused(settings, capsys, "key", "Pilot")
    opened = study(settings, capsys, "open", "pilot")
    assert (opened["study"]["state"], opened["videos_prepared"]) == ("open", 0)  # no video has frames here
    assert "only after the study is closed" in refused(settings, capsys, "key", "Pilot")
    closed = study(settings, capsys, "close", str(summary["id"]))["study"]
    assert closed["state"] == "closed" and closed["closed_at"] is not None
    key = study(settings, capsys, "key", "Pilot")
    for expert_id, name in zip(world.experts, ("expert0", "expert1"), strict=True):
        stored = items_of(engine, summary["id"], expert_id)
        mine = [row for row in key if row["expert"] == name]
        assert [(r["item_id"], r["position"], r["video_id"], r["left_kind"]) for r in mine] == [
            (i.id, i.position, i.video_id, i.left_kind) for i in stored
        ]
        assert all({r["left_kind"], r["right_kind"]} == {"train", "test"} for r in mine)
        assert all(r["video"] == f"run1-video{world.videos.index(r['video_id'])}.mp4" for r in mine)


def test_default_videos_are_the_correct_ones_and_ids_can_be_picked(
    settings: Settings, engine: Engine, world: World, capsys: Capture
) -> None:
    summary = create(settings, capsys)["study"]
    assert {i.video_id for i in items_of(engine, summary["id"], world.experts[0])} == set(world.videos[1:])
    picked = study(
        settings, capsys, "create", "--name", "Picked", "--run", "1", "--experts", "expert0",
        "--reference", "expert0", "--videos", f"{world.videos[3]},{world.videos[5]}",
    )  # fmt: skip
    items = items_of(engine, picked["study"]["id"], world.experts[0])
    assert sorted(i.video_id for i in items) == [world.videos[3], world.videos[5]]


def test_refusals_are_clear_and_write_nothing(
    settings: Settings, engine: Engine, world: World, capsys: Capture
) -> None:
    create(settings, capsys)
    items = count(engine, StudyItem)
    base = ["create", "--name", "Second", "--run", "1", "--reference", "expert0"]
    refusals = {
        "A study named 'pilot' already exists": ["create", "--name", "pilot", "--run", "1",
                                                 "--experts", "expert0", "--reference", "expert0"],
        "Unknown user(s): nobody, ghost": [*base, "--experts", "expert0,nobody,ghost"],
        "cannot take part: unknown, inactive or not an expert": [*base, "--experts", "expert0,annotator"],
        "study create needs --experts, --reference": ["create", "--name", "x", "--run", "1"],
        "--videos takes correct, all or video ids": [*base, "--experts", "expert0", "--videos", "3,x"],
        "Model run 7 does not exist": [*base, "--experts", "expert0", "--run", "7"],
        "There is no study named or numbered 'Absent'": ["open", "Absent"],
        "There is no study named or numbered '99'": ["close", "99"],
        "--videos takes correct, all or video ids like 3,5,8, not '3,²'": [*base, "--experts", "expert0",
                                                                          "--videos", "3,²"],
        "seed must be a whole number from 0 to 2147483647": [*base, "--experts", "expert0",
                                                              "--seed", "3000000000"],
        "washout must be a whole number of items from 0 to 1000": [*base, "--experts", "expert0",
                                                                   "--washout", "5000"],
        "needs the study's name or id": ["open"],
        "Only an open study can be closed; study 'Pilot' is draft": ["close", "Pilot"],
    }  # fmt: skip
    for message, argv in refusals.items():
        assert message in refused(settings, capsys, *argv), message
    assert count(engine, Study) == 1 and count(engine, StudyItem) == items


def test_list_shows_state_and_progress_per_expert(settings: Settings, world: World, capsys: Capture) -> None:
    create(settings, capsys)
    study(settings, capsys, "open", "Pilot")
    assert main(["study", "list", "--home", str(settings.home)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "id=1  name=Pilot  state=open  run=1  progress=expert0 0/11, expert1 0/11"
    ]
    listed = study(settings, capsys, "list")
    assert [(s["name"], s["state"], len(s["experts"])) for s in listed] == [("Pilot", "open", 2)]


def test_description_is_stored_listed_and_checked(
    settings: Settings, engine: Engine, world: World, capsys: Capture
) -> None:
    made = create(settings, capsys, "--description", "  Judge the B-lines first.\nTake your time.  ")
    assert made["study"]["description"] == "Judge the B-lines first.\nTake your time."
    assert [s["description"] for s in study(settings, capsys, "list")] == [made["study"]["description"]]
    too_long = ["create", "--name", "Wordy", "--run", "1", "--experts", "expert0", "--reference", "expert0"]
    assert "at most 4000 characters; this one has 4001" in refused(
        settings, capsys, *too_long, "--description", "x" * 4001
    )
    assert count(engine, Study) == 1


def test_open_prepares_the_clips_of_every_video_and_says_how_many(
    settings: Settings, engine: Engine, capsys: Capture
) -> None:
    review = review_world(engine, settings, n_videos=2, frames=3, open_it=False)
    with session_scope(engine) as session:  # one original is gone: the other video is still prepared
        resolve(settings, session.get_one(Video, review.videos[0]).file_path).unlink()
    assert main(["study", "open", "Pilot", "--home", str(settings.home)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"study_id: {review.study_id}",
        "name: Pilot",
        "state: open",
        "videos_prepared: 1",
    ]
    assert len(list(resolve(settings, CLIP_CACHE).iterdir())) == 3  # the second's clips, the first's frames
