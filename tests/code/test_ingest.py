"""Video ingest on real encoded files: good uploads, every bad input, and the rollback guarantees."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path, PurePosixPath

import cv2
import numpy as np
import pytest
from PIL import Image
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from db.models import AuditLog, Frame, PatternTag, Video, VideoLabel
from db.session import session_scope
from reviewer import ingest as ingest_module
from reviewer.frames import Crop
from reviewer.ingest import IngestError, IngestOptions, ingest_file, ingest_video, parse_label, preview_video
from reviewer.settings import Settings
from reviewer.storage import display_name, frame_path, resolve, write_file
from reviewer.vocab import LusClass, Pattern, Probe, TagSource
from tests.code.test_frames import FAN, scanner_frames

DB_PREFIX = "lusreview.sqlite3"


def encode(frames: Sequence[np.ndarray], path: Path, fps: float = 15.0) -> bytes:
    """Write RGB frames as a real file: mp4 (mp4v), avi (MJPG), gif (Pillow), png or jpg."""
    suffix = path.suffix.lower()
    if suffix == ".gif":
        images = [Image.fromarray(f) for f in frames]
        images[0].save(path, save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0)
    elif suffix in (".png", ".jpg"):
        cv2.imwrite(str(path), cv2.cvtColor(frames[0], cv2.COLOR_RGB2BGR))
    else:
        fourcc = cv2.VideoWriter.fourcc(*("MJPG" if suffix == ".avi" else "mp4v"))
        height, width = frames[0].shape[:2]
        writer = cv2.VideoWriter(str(path), fourcc, fps, (width, height))
        for frame in frames:
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        writer.release()
    return path.read_bytes()


@pytest.fixture
def clip(tmp_path: Path) -> bytes:
    """A 3 s, 15 fps mp4 of a scanner screen (45 frames, so 9 samples at 3 Hz)."""
    return encode(scanner_frames(45, label=False), tmp_path / "clip.mp4")


def stored_files(settings: Settings) -> list[Path]:
    return [p for p in settings.home.rglob("*") if p.is_file() and not p.name.startswith(DB_PREFIX)]


def count_rows(engine: Engine) -> dict[str, int]:
    with Session(engine) as session:
        return {
            model.__name__: session.exec(select(func.count()).select_from(model)).one()
            for model in (Video, Frame, VideoLabel, PatternTag, AuditLog)
        }


def refuse(
    engine: Engine, settings: Settings, data: bytes, name: str, options: IngestOptions | None = None
) -> str:
    """Ingest in a unit of work that must fail; return the message after checking nothing was kept."""
    with pytest.raises(IngestError) as caught, session_scope(engine) as session:
        ingest_video(
            session=session, settings=settings, data=data, filename=name, options=options or IngestOptions()
        )
    assert stored_files(settings) == []
    assert set(count_rows(engine).values()) == {0}
    return str(caught.value)


def roll_back(engine: Engine, settings: Settings, data: bytes, name: str) -> None:
    """Ingest successfully, then let the caller's unit of work fail: nothing may stay behind."""
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        ingest_video(session=session, settings=settings, data=data, filename=name, options=IngestOptions())
        assert stored_files(settings)
        raise RuntimeError("the caller changes its mind")
    assert stored_files(settings) == []
    assert set(count_rows(engine).values()) == {0}


def store(
    engine: Engine, settings: Settings, data: bytes, name: str, options: IngestOptions | None = None
) -> Video:
    with session_scope(engine) as session:
        return ingest_video(
            session=session, settings=settings, data=data, filename=name, options=options or IngestOptions()
        )


def frames_of(engine: Engine, video: Video) -> list[Frame]:
    with Session(engine) as session:
        return list(session.exec(select(Frame).where(Frame.video_id == video.id).order_by(Frame.index)))  # type: ignore[arg-type]


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
        assert image.shape == (224, 224, 3) and frame.image_path.endswith(f"{frame.index:03d}.png")
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


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda clip: b"", "The file is empty."),
        (lambda clip: clip[: len(clip) // 2], "could not be opened; it may be truncated"),
        (lambda clip: clip[:32] + bytes(range(256)) * 40, "could not be opened; it may be truncated"),
        (lambda clip: np.random.default_rng(1).bytes(5000), "not a video or image"),
        (lambda clip: b"this is a text file, not a video\n" * 20, "not a video or image"),
        (lambda clip: b"#EXTM3U\n#EXTINF:1,\nfile:///etc/passwd\n", "not a video or image"),
        (lambda clip: b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "image could not be read"),
    ],
    ids=[
        "empty",
        "truncated-mp4",
        "corrupt-mp4",
        "random-bytes",
        "text-named-mp4",
        "playlist",
        "corrupt-png",
    ],
)
def test_bad_files_are_refused_and_leave_nothing(
    engine: Engine, settings: Settings, clip: bytes, make: object, message: str
) -> None:
    assert message in refuse(engine, settings, make(clip), "clip.mp4")  # type: ignore[operator]


@pytest.mark.parametrize(
    ("limit", "message"),
    [
        (
            {"max_video_pixels": 320 * 240 - 1},
            "The resolution 320 x 240 is above the limit of 76,799 pixels.",
        ),
        ({"max_video_seconds": 2.0}, "longer than the limit of 2 seconds"),
        ({"max_upload_mb": 1}, "larger than the 1 MB limit"),
    ],
)
def test_limits_are_enforced(
    engine: Engine, settings: Settings, clip: bytes, limit: dict[str, float], message: str
) -> None:
    strict = settings.model_copy(update=limit)
    data = clip + b"\x00" * (1024 * 1024) if "max_upload_mb" in limit else clip
    assert message in refuse(engine, strict, data, "clip.mp4")


def test_huge_image_is_refused_from_its_header(engine: Engine, settings: Settings, tmp_path: Path) -> None:
    data = encode(scanner_frames(1), tmp_path / "big.png")
    assert "above the limit" in refuse(
        engine, settings.model_copy(update={"max_video_pixels": 1000}), data, "b.png"
    )


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("../../etc/passwd.mp4", "passwd.mp4"),
        ("..\\..\\windows\\evil.mp4", "evil.mp4"),
        ("Ünïcödé 肺.mp4", "Ünïcödé 肺.mp4"),
        ("bad\x00name\x1b[31m.mp4", "badname[31m.mp4"),
        ("/", "video"),
    ],
)
def test_hostile_names_only_reach_the_display_name(
    engine: Engine, settings: Settings, clip: bytes, name: str, shown: str
) -> None:
    roll_back(engine, settings, clip, name)
    video = store(engine, settings, clip, name)
    assert video.display_name == shown
    files = stored_files(settings)
    assert files and all(p.resolve().is_relative_to(settings.home.resolve()) for p in files)
    assert all(shown not in p.name and "passwd" not in str(p) for p in files)
    assert not Path(video.file_path).is_absolute()


def test_display_name_is_limited() -> None:
    assert len(display_name("x" * 1000 + ".mp4")) == 255


def test_a_duplicate_names_the_stored_video_and_keeps_its_files(
    engine: Engine, settings: Settings, clip: bytes
) -> None:
    first = store(engine, settings, clip, "first.mp4")
    before = sorted(stored_files(settings))
    rows = count_rows(engine)
    with pytest.raises(IngestError, match=rf"already stored as video {first.id} \('first.mp4'\)"):
        store(engine, settings, clip, "again.mp4")
    assert sorted(stored_files(settings)) == before and count_rows(engine) == rows


@pytest.mark.parametrize("text", ["sick", "", "covid-20"])
def test_unknown_labels_are_refused(engine: Engine, settings: Settings, clip: bytes, text: str) -> None:
    with pytest.raises(IngestError, match="use one of: COVID-19, Bacterial pneumonia"):
        parse_label(text)
    assert "Unknown label" in refuse(engine, settings, clip, "c.mp4", IngestOptions(label=text))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("COVID-19", LusClass.COVID),
        ("covid", LusClass.COVID),
        (" Bacterial   pneumonia ", LusClass.PNEUMONIA),
        ("pneumonia", LusClass.PNEUMONIA),
        ("regular", LusClass.HEALTHY),
        ("Healthy", LusClass.HEALTHY),
        ("Viral pneumonia", LusClass.VIRAL),
        (LusClass.UNINFORMATIVE, LusClass.UNINFORMATIVE),
    ],
)
def test_labels_as_clinicians_write_them(text: str, label: LusClass) -> None:
    assert parse_label(text) is label


def test_bad_options_are_refused(engine: Engine, settings: Settings, clip: bytes) -> None:
    bad_link = IngestOptions(source_url="javascript:alert(1)")
    assert "http:// or https://" in refuse(engine, settings, clip, "c.mp4", bad_link)
    bad_pattern = IngestOptions(patterns=("glitter",))  # type: ignore[arg-type]
    assert "Unknown option value" in refuse(engine, settings, clip, "c.mp4", bad_pattern)


def test_a_failure_while_writing_leaves_no_files_even_before_the_caller_rolls_back(
    engine: Engine, settings: Settings, clip: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = encode(scanner_frames(45, label=False, seed=1), tmp_path / "other.mp4")
    real_write_png = ingest_module.write_png
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
        monkeypatch.setattr(ingest_module, "write_png", failing_write_png)
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
