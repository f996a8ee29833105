"""Video ingest on real encoded files: good uploads, previews, and the rollback guarantees."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import cv2
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from db.models import AuditLog
from db.session import session_scope
from reviewer import storage
from reviewer.frames import Crop
from reviewer.ingest import IngestError, IngestOptions, ingest_file, ingest_video, preview_video
from reviewer.settings import Settings
from reviewer.storage import frame_path, resolve, write_file
from reviewer.vocab import LusClass, Pattern, Probe, TagSource
from tests.code.stock_ingest import (
    count_rows,
    encode,
    frames_of,
    refuse,
    roll_back,
    scanner_clip,
    store,
    stored_files,
)
from tests.code.test_frames import FAN, scanner_frames


@pytest.fixture
def clip(tmp_path: Path) -> bytes:
    return scanner_clip(tmp_path)


@pytest.mark.parametrize(
    ("suffix", "fps", "sources"),
    [
        (".mp4", 15, [0, 5, 10, 15, 20, 25, 30, 35, 40]),
        (".avi", 15, [0, 5, 10, 15, 20, 25, 30, 35, 40]),
        (".gif", 10, [0, 3, 7, 10, 13, 17, 20, 23, 27]),  # GIF delays are whole centiseconds
    ],
)
def test_a_3_second_video_gives_9_frames_at_3_hz_cropped_and_stored(
    engine: Engine, settings: Settings, tmp_path: Path, suffix: str, fps: int, sources: list[int]
) -> None:
    data = encode(scanner_frames(3 * fps), tmp_path / f"clip{suffix}", fps=fps)
    options = IngestOptions(label=LusClass.COVID, patterns=(Pattern.B_LINES, Pattern.B_LINES, Pattern.SKIN))
    video = store(engine, settings, data, f"clip{suffix}", options)
    assert (video.fps, video.frame_count, video.width, video.height) == (fps, 3 * fps, 320, 240)
    assert video.duration_s == pytest.approx(3.0)
    assert video.crop_w == video.crop_h  # convex: square
    frames = frames_of(engine, video)
    assert [f.source_index for f in frames] == sources
    assert [f.time_s for f in frames] == pytest.approx([s / fps for s in sources])
    for frame in frames:
        image = cv2.imread(str(resolve(settings, frame.image_path)))
        assert (
            image is not None
            and image.shape == (224, 224, 3)
            and frame.image_path.endswith(f"{frame.index:03d}.png")
        )
        assert frame.mask_path is not None and resolve(settings, frame.mask_path).exists()
        assert 0 < frame.overlay_fraction < 0.05  # the burnt-in label, nothing more
    assert resolve(settings, video.file_path).read_bytes() == data
    assert video.file_path == f"videos/{video.checksum[:2]}/{video.checksum}.{suffix[1:]}"
    rows = count_rows(engine)
    assert (rows["VideoLabel"], rows["PatternTag"], rows["AuditLog"]) == (1, 2, 1)


def test_max_frames_keeps_the_first_samples(engine: Engine, settings: Settings, clip: bytes) -> None:
    video = store(engine, settings.model_copy(update={"max_frames": 4}), clip, "clip.mp4")
    assert [f.source_index for f in frames_of(engine, video)] == [0, 5, 10, 15]


def test_overlay_removal_off_keeps_every_frame_without_masks(
    engine: Engine, settings: Settings, clip: bytes
) -> None:
    video = store(engine, settings, clip, "clip.mp4", IngestOptions(remove_overlays=False))
    frames = frames_of(engine, video)
    assert not video.overlay_removal and len(frames) == 9
    assert all(f.mask_path is None and f.overlay_fraction == 0 for f in frames)


def test_user_crop_is_used_and_validated(engine: Engine, settings: Settings, clip: bytes) -> None:
    message = refuse(engine, settings, clip, "clip.mp4", IngestOptions(crop=Crop(200, 0, 200, 200)))
    assert "outside the 320 x 240 frame" in message
    video = store(engine, settings, clip, "clip.mp4", IngestOptions(probe=Probe.LINEAR, crop=Crop(*FAN)))
    assert (video.crop_x, video.crop_y, video.crop_w, video.crop_h) == FAN


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_a_still_image_is_one_frame(engine: Engine, settings: Settings, tmp_path: Path, suffix: str) -> None:
    video = store(engine, settings, encode(scanner_frames(1), tmp_path / f"still{suffix}"), f"still{suffix}")
    assert (video.frame_count, video.fps, video.duration_s) == (1, 1.0, 1.0)
    assert [f.source_index for f in frames_of(engine, video)] == [0]


def test_a_video_with_one_frame_is_accepted(engine: Engine, settings: Settings, tmp_path: Path) -> None:
    data = encode(scanner_frames(1), tmp_path / "one.mp4")
    roll_back(engine, settings, data, "one.mp4")
    video = store(engine, settings, data, "one.mp4")
    assert video.frame_count == 1 and len(frames_of(engine, video)) == 1


def test_a_truncated_avi_keeps_the_frames_before_the_break(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    data = encode(scanner_frames(45, label=False), tmp_path / "cut.avi")
    video = store(engine, settings, data[: len(data) * 6 // 10], "cut.avi")
    assert 0 < video.frame_count < 45
    with Session(engine) as session:
        audit = session.exec(select(AuditLog)).one()
    assert "truncated" in audit.detail["warnings"][0]


def test_a_failure_while_writing_leaves_no_files_even_before_the_caller_rolls_back(
    engine: Engine, settings: Settings, clip: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = encode(scanner_frames(45, label=False, seed=1), tmp_path / "other.mp4")
    real_write_png = storage.write_png
    calls = 0

    def failing_write_png(**kwargs: object) -> str:
        nonlocal calls
        calls += 1
        if calls == 5:
            raise OSError("disk full")
        return real_write_png(**kwargs)  # type: ignore[arg-type]

    with session_scope(engine) as session:
        kept = ingest_video(
            session=session, settings=settings, data=clip, filename="a.mp4", options=IngestOptions()
        )
        kept_files = sorted(stored_files(settings))
        monkeypatch.setattr("reviewer.ingest.write_png", failing_write_png)  # where ingest looks it up
        with pytest.raises(IngestError, match="could not be stored; nothing was kept"):
            ingest_video(
                session=session, settings=settings, data=other, filename="b.mp4", options=IngestOptions()
            )
        assert sorted(stored_files(settings)) == kept_files  # the savepoint took its files with it
    assert count_rows(engine)["Video"] == 1 and sorted(stored_files(settings)) == kept_files
    assert frames_of(engine, kept)


def test_ingest_file_reads_from_disk_and_reports_missing_files(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "sub dir" / "Reg scan.avi"
    path.parent.mkdir()
    encode(scanner_frames(15, label=False), path)
    options = IngestOptions(label=LusClass.HEALTHY, tag_source=TagSource.DATASET, patterns=(Pattern.A_LINES,))
    with session_scope(engine) as session:
        video = ingest_file(session=session, settings=settings, path=path, options=options)
    assert video.display_name == "Reg scan.avi" and video.label == "healthy"
    with pytest.raises(IngestError, match="missing.mp4 could not be read"), session_scope(engine) as session:
        ingest_file(session=session, settings=settings, path=tmp_path / "missing.mp4", options=options)
    huge = tmp_path / "huge.mp4"
    huge.write_bytes(b"\x00" * (1024 * 1024 + 1))
    strict = settings.model_copy(update={"max_upload_mb": 1})
    with pytest.raises(IngestError, match="larger than the 1 MB limit"), session_scope(engine) as session:
        ingest_file(session=session, settings=strict, path=huge, options=options)


def test_preview_suggests_a_crop_and_writes_nothing(settings: Settings, clip: bytes) -> None:
    preview = preview_video(settings=settings, data=clip, filename="../x/clip.mp4", probe=Probe.CONVEX)
    assert preview.display_name == "clip.mp4" and preview.first_frame.shape == (240, 320, 3)
    assert preview.crop.w == preview.crop.h and preview.info.frame_count == 45
    assert not settings.home.exists() or stored_files(settings) == []
    with pytest.raises(IngestError, match="empty"):
        preview_video(settings=settings, data=b"", filename="x.mp4", probe=Probe.CONVEX)


def test_rollback_guard_follows_savepoints_commits_and_closes(engine: Engine, settings: Settings) -> None:
    name = PurePosixPath("scratch")

    def write(session: Session, label: str) -> Path:
        return resolve(
            settings, write_file(session=session, settings=settings, relative=name / label, data=b"x")
        )

    with session_scope(engine) as session:
        kept = write(session, "kept")
        with pytest.raises(RuntimeError), session.begin_nested():
            dropped = write(session, "nested")
            raise RuntimeError
        assert not dropped.exists() and kept.exists()
        with session.begin_nested():
            released = write(session, "released")
    assert kept.exists() and released.exists()  # committed: forgotten, never deleted later
    with Session(engine) as session:
        closed = write(session, "closed")
    assert not closed.exists()
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        rolled = write(session, "rolled")
        raise RuntimeError
    assert not rolled.exists()


def test_stored_paths_never_leave_home(settings: Settings) -> None:
    with pytest.raises(ValueError, match="inside the home folder"):
        resolve(settings, "../outside.png")
    with pytest.raises(ValueError, match="inside the home folder"):
        resolve(settings, "/etc/passwd")
    with pytest.raises(ValueError, match="checksum"):
        frame_path(settings, "../" + "a" * 61, 0)
