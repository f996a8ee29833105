"""Every bad input to the ingest is refused with a clear message and leaves nothing behind."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine

from reviewer.ingest import IngestError, IngestOptions, parse_label
from reviewer.settings import Settings
from reviewer.storage import display_name
from reviewer.vocab import LusClass
from tests.code import stock_ingest as kit
from tests.code.test_frames import scanner_frames


@pytest.fixture
def clip(tmp_path: Path) -> bytes:
    return kit.scanner_clip(tmp_path)


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
    assert message in kit.refuse(engine, settings, make(clip), "clip.mp4")  # type: ignore[operator]


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
    assert message in kit.refuse(engine, strict, data, "clip.mp4")


def test_huge_image_is_refused_from_its_header(engine: Engine, settings: Settings, tmp_path: Path) -> None:
    data = kit.encode(scanner_frames(1), tmp_path / "big.png")
    assert "above the limit" in kit.refuse(
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
    kit.roll_back(engine, settings, clip, name)
    video = kit.store(engine, settings, clip, name)
    assert video.display_name == shown
    files = kit.stored_files(settings)
    assert files and all(p.resolve().is_relative_to(settings.home.resolve()) for p in files)
    assert all(shown not in p.name and "passwd" not in str(p) for p in files)
    assert not Path(video.file_path).is_absolute()


def test_display_name_is_limited() -> None:
    assert len(display_name("x" * 1000 + ".mp4")) == 255


def test_a_duplicate_names_the_stored_video_and_keeps_its_files(
    engine: Engine, settings: Settings, clip: bytes
) -> None:
    first = kit.store(engine, settings, clip, "first.mp4")
    before = sorted(kit.stored_files(settings))
    rows = kit.count_rows(engine)
    with pytest.raises(IngestError, match=rf"already stored as video {first.id} \('first.mp4'\)"):
        kit.store(engine, settings, clip, "again.mp4")
    assert sorted(kit.stored_files(settings)) == before and kit.count_rows(engine) == rows


@pytest.mark.parametrize("text", ["sick", "", "covid-20"])
def test_unknown_labels_are_refused(engine: Engine, settings: Settings, clip: bytes, text: str) -> None:
    with pytest.raises(IngestError, match="use one of: COVID-19, Bacterial pneumonia"):
        parse_label(text)
    assert "Unknown label" in kit.refuse(engine, settings, clip, "c.mp4", IngestOptions(label=text))  # type: ignore[arg-type]


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
    assert "http:// or https://" in kit.refuse(engine, settings, clip, "c.mp4", bad_link)
    bad_pattern = IngestOptions(patterns=("glitter",))  # type: ignore[arg-type]
    assert "Unknown option value" in kit.refuse(engine, settings, clip, "c.mp4", bad_pattern)
