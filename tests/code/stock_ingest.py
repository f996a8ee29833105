"""Arrange and check ingest tests: encode real files, ingest them, count what was kept."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from db.models import AuditLog, Frame, PatternTag, Video, VideoLabel
from db.session import session_scope
from reviewer.ingest import IngestError, IngestOptions, ingest_video
from reviewer.settings import Settings
from tests.code.test_frames import scanner_frames

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


def scanner_clip(folder: Path) -> bytes:
    """A 3 s, 15 fps mp4 of a scanner screen (45 frames, so 9 samples at 3 Hz)."""
    return encode(scanner_frames(45, label=False), folder / "clip.mp4")


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
