"""The lusreview command line, called as a user or script would (through main(), with --json)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reviewer.cli import main


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> object:
    assert main([*argv, "--json", "--quiet"]) == 0
    return json.loads(capsys.readouterr().out)


def test_init_creates_the_first_admin_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = str(tmp_path / "home")
    first = run_json(capsys, "init", "--home", home, "--admin-password", "a-long-password")
    again = run_json(capsys, "init", "--home", home)
    assert first["admin_created"] is True and "admin_password" not in first  # type: ignore[index]
    assert again["admin_created"] is False  # type: ignore[index]
    assert (tmp_path / "home" / "lusreview.sqlite3").exists()


def test_init_without_password_generates_and_prints_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_json(capsys, "init", "--home", str(tmp_path))
    assert len(result["admin_password"]) >= 12  # type: ignore[index]


def test_ingest_reports_good_and_bad_files_and_videos_lists_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.code.stock import write_mp4

    home = str(tmp_path / "home")
    good = tmp_path / "good clip.mp4"
    write_mp4(good, frames=30, seed=3)
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video")
    result = run_json(capsys, "ingest", str(good), str(bad), "--label", "COVID-19", "--home", home)
    assert [s["file"] for s in result["stored"]] == [str(good)]  # type: ignore[index]
    assert [f["file"] for f in result["failed"]] == [str(bad)]  # type: ignore[index]
    videos = run_json(capsys, "videos", "--home", home)
    assert [(v["display_name"], v["label"]) for v in videos] == [("good clip.mp4", "covid")]  # type: ignore[union-attr]


def test_unknown_label_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ingest", "x.mp4", "--label", "flu", "--home", str(tmp_path)]) == 2
    assert "flu" in capsys.readouterr().err


def test_import_pocus_refuses_a_missing_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["import-pocus", str(tmp_path / "absent"), "--home", str(tmp_path)]) == 2
    assert "not a folder" in capsys.readouterr().err


def test_demo_prepares_accounts_and_videos_then_serves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import reviewer.cli as cli

    served: list[Path] = []
    monkeypatch.setattr(cli, "cmd_serve", lambda args, settings: served.append(settings.home) or 0)
    assert main(["demo", "--home", str(tmp_path), "--quiet"]) == 0
    assert served == [tmp_path]
    videos = run_json(capsys, "videos", "--home", str(tmp_path))
    assert len(videos) == 30  # type: ignore[arg-type]
    from db.session import session_scope
    from reviewer.context import open_engine
    from reviewer.settings import load_settings
    from reviewer.users import authenticate

    with session_scope(open_engine(load_settings(home=tmp_path))) as session:
        assert authenticate(session=session, username="admin", password="admin-demo-pass") is not None


def test_ingest_takes_a_crop_override_and_refuses_a_bad_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.code.stock import write_mp4

    clip = tmp_path / "clip.mp4"
    write_mp4(clip, frames=30)
    home = str(tmp_path / "home")
    assert main(["ingest", str(clip), "--crop", "1,2,3", "--home", home]) == 2
    assert "four whole numbers" in capsys.readouterr().err
    outside = run_json(capsys, "ingest", str(clip), "--crop", "10,10,500,500", "--home", home)
    assert "outside" in outside["failed"][0]["error"]  # type: ignore[index]
    stored = run_json(capsys, "ingest", str(clip), "--crop", "8,8,40,40", "--home", home)
    assert len(stored["stored"]) == 1  # type: ignore[index]
    from sqlmodel import select

    from db.models import Video
    from db.session import session_scope
    from reviewer.context import open_engine
    from reviewer.settings import load_settings

    with session_scope(open_engine(load_settings(home=Path(home)))) as session:
        video = session.exec(select(Video)).one()
    assert (video.crop_x, video.crop_y, video.crop_w, video.crop_h) == (8, 8, 40, 40)
