"""Ingest on the 100 real POCUS videos (skipped where ``../shared/pocus`` is absent)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from db.models import Frame
from db.session import session_scope
from reviewer.ingest import IngestOptions, ingest_file, ingest_video
from reviewer.settings import Settings
from reviewer.storage import resolve
from reviewer.vocab import Probe

PROBES = (Probe.CONVEX, Probe.LINEAR)
# The POCUS videos are already cut to the image area: a suggestion much smaller than the frame
# would cut anatomy away.
MIN_CROP_SHARE = 0.5


def real_videos(pocus_dir: Path) -> list[tuple[Path, Probe]]:
    return [
        (path, probe) for probe in PROBES for path in sorted((pocus_dir / "videos" / probe.value).iterdir())
    ]


def test_every_real_video_decodes_and_ingests(
    engine: Engine, settings: Settings, pocus_dir: Path, record_property: Callable[[str, object], None]
) -> None:
    videos = real_videos(pocus_dir)
    assert len(videos) == 100
    problems: list[str] = []
    seconds: dict[str, float] = {}
    for path, probe in videos:
        start = time.perf_counter()
        with session_scope(engine) as session:
            video = ingest_file(
                session=session, settings=settings, path=path, options=IngestOptions(probe=probe)
            )
            frames = session.exec(select(Frame).where(Frame.video_id == video.id)).all()
        seconds[path.name] = time.perf_counter() - start
        crop = (video.crop_x, video.crop_y, video.crop_w, video.crop_h)
        if not frames:
            problems.append(f"{path.name}: no frame")
        if video.crop_x + video.crop_w > video.width or video.crop_y + video.crop_h > video.height:
            problems.append(f"{path.name}: crop {crop} outside {video.width} x {video.height}")
        if probe is Probe.CONVEX and video.crop_w != video.crop_h:
            problems.append(f"{path.name}: convex crop {crop} is not square")
        if video.crop_w * video.crop_h < MIN_CROP_SHARE * video.width * video.height:
            problems.append(f"{path.name}: crop {crop} keeps too little of {video.width} x {video.height}")
    slowest = max(seconds, key=seconds.__getitem__)
    record_property("slowest_video", f"{slowest} {seconds[slowest]:.2f} s")
    record_property("total_seconds", round(sum(seconds.values()), 1))
    print(f"100 real videos in {sum(seconds.values()):.1f} s; slowest {slowest} ({seconds[slowest]:.2f} s)")
    assert problems == []


def _burn_in(source: Path, target: Path) -> np.ndarray:
    """Re-encode a real video with white text and a cross burnt in; return where they are."""
    capture = cv2.VideoCapture(str(source))
    fps = capture.get(cv2.CAP_PROP_FPS)
    ok, frame = capture.read()
    height, width = frame.shape[:2]
    writer = cv2.VideoWriter(str(target), cv2.VideoWriter.fourcc(*"mp4v"), fps, (width, height))
    where = np.zeros((height, width), np.uint8)
    while ok:
        for image, colour in ((frame, (255, 255, 255)), (where, 255)):
            cv2.putText(
                image, "R LUNG 5MHz", (width // 4, height // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.8, colour, 2
            )
            cv2.drawMarker(image, (width // 2, height // 3), colour, cv2.MARKER_CROSS, 20, 2)
        writer.write(frame)
        ok, frame = capture.read()
    writer.release()
    return where > 0


@pytest.mark.parametrize(
    "name", ["Pneu_Avi_Video_003.mp4", "Reg_pat1Image_133043.mpeg", "Cov_combatting_Image1.mp4"]
)
def test_text_burnt_into_a_real_video_is_masked_and_inpainted(
    engine: Engine, settings: Settings, pocus_dir: Path, tmp_path: Path, name: str
) -> None:
    target = tmp_path / "burnt.mp4"
    where = _burn_in(pocus_dir / "videos" / "convex" / name, target)
    with session_scope(engine) as session:
        video = ingest_video(
            session=session,
            settings=settings,
            data=target.read_bytes(),
            filename=name,
            options=IngestOptions(),
        )
        frame = session.exec(select(Frame).where(Frame.video_id == video.id, Frame.index == 0)).one()
    assert frame.mask_path is not None
    crop = where[video.crop_y : video.crop_y + video.crop_h, video.crop_x : video.crop_x + video.crop_w]
    text = cv2.resize(crop.astype(np.float32), (settings.frame_size,) * 2, interpolation=cv2.INTER_AREA) > 0.5
    mask = cv2.imread(str(resolve(settings, frame.mask_path)), cv2.IMREAD_GRAYSCALE) > 0
    image = cv2.imread(str(resolve(settings, frame.image_path)), cv2.IMREAD_GRAYSCALE)
    assert mask[text].mean() > 0.9  # the text is found on real speckle and real compression
    assert mask.mean() < 0.05  # and little else is touched
    assert np.median(image[text]) < 200  # what was white text is now filled from the tissue around it


def test_real_videos_leave_nothing_when_rolled_back(
    engine: Engine, settings: Settings, pocus_dir: Path
) -> None:
    path = pocus_dir / "videos" / "linear" / "Cov-Atlas-pleural.mp4"
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        ingest_file(session=session, settings=settings, path=path, options=IngestOptions(probe=Probe.LINEAR))
        raise RuntimeError("the caller changes its mind")
    with Session(engine) as session:
        assert session.exec(select(Frame)).first() is None
    assert [
        p for p in settings.home.rglob("*") if p.is_file() and not p.name.startswith("lusreview.sqlite3")
    ] == []
