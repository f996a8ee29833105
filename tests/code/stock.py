"""Stock a test home with users and real video files, written straight through db.models.

The catalog and page tests must not depend on the ingest pipeline, so they build rows and files
themselves: an H.264 MP4 that browsers can play, and PNG frames the browser shows as thumbnails.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import av
import numpy as np
from PIL import Image
from sqlmodel import Session

from db.models import Frame, PatternTag, Video
from reviewer.settings import Settings
from reviewer.users import create_user

PASSWORD = "correct horse battery"
SIDE = 64
FPS = 10


def write_mp4(path: Path, *, frames: int = 10, seed: int = 0) -> None:
    """A tiny H.264 clip of drifting speckle, playable by Chromium."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width = stream.height = SIDE
        stream.pix_fmt = "yuv420p"
        for _ in range(frames):
            gray = rng.integers(0, 255, (SIDE, SIDE), dtype=np.uint8)
            rgb = np.repeat(gray[:, :, None], 3, axis=2)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        container.mux(stream.encode(None))


def write_png(path: Path, *, shade: int) -> None:
    """A small grey frame image."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((SIDE, SIDE), shade, dtype=np.uint8)).save(path)


def add_video(
    session: Session,
    name: str,
    *,
    label: str | None = "covid",
    probe: str = "convex",
    source: str = "upload",
    tags: Sequence[str] = (),
    frames: int = 0,
    home: Path | None = None,
    source_url: str | None = None,
    license: str | None = None,
) -> Video:
    """Add a video row (plus tags and frame rows); with ``home``, also write its files (an MP4 for *.mp4)."""
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()
    suffix = Path(name).suffix.lower() or ".mp4"
    video = Video(
        checksum=digest,
        display_name=name,
        file_path=f"videos/{digest[:2]}/{digest}{suffix}",
        source=source,
        source_url=source_url,
        license=license,
        probe=probe,
        label=label,
        fps=FPS,
        width=SIDE,
        height=SIDE,
        frame_count=10,
        duration_s=1.0,
        crop_x=0,
        crop_y=0,
        crop_w=SIDE,
        crop_h=SIDE,
    )
    session.add(video)
    session.flush()
    assert video.id is not None
    session.add_all(PatternTag(video_id=video.id, pattern=tag, source="dataset") for tag in tags)
    session.add_all(
        Frame(
            video_id=video.id,
            index=i,
            source_index=i * 3,
            time_s=i / 3,
            image_path=f"frames/{digest[:2]}/{digest}_{i:03d}.png",
        )
        for i in range(frames)
    )
    session.flush()
    if home is not None:
        if suffix == ".mp4":
            write_mp4(home / video.file_path, seed=len(name))
        for i in range(frames):
            write_png(home / f"frames/{digest[:2]}/{digest}_{i:03d}.png", shade=40 + 60 * i)
    return video


def stock_home(session: Session, settings: Settings) -> None:
    """One user per role (password :data:`PASSWORD`) and three videos of different classes, with files."""
    for role in ("admin", "expert", "annotator", "researcher"):
        create_user(session=session, username=role, password=PASSWORD, role=role)
    add_video(
        session,
        "Cov-Atlas-B-lines.mp4",
        label="covid",
        tags=["b_lines", "pleural_line_irregularity"],
        frames=3,
        home=settings.home,
        source_url="https://www.thepocusatlas.com/covid19",
        license="CC BY-NC 4.0",
    )
    add_video(
        session,
        "Pneu-consolidation.mp4",
        label="pneumonia",
        tags=["consolidation"],
        frames=2,
        home=settings.home,
    )
    add_video(
        session,
        "Reg-healthy.mp4",
        label="healthy",
        probe="linear",
        tags=["a_lines"],
        frames=2,
        home=settings.home,
    )
    session.commit()
