"""An open study whose items have real files: original MP4s, sampled frames and CAM overlay videos.

The review page tests need media a browser can play but not a trained model: the overlays are made
by the product's own ``overlay`` and ``write_h264`` from synthetic maps (a hot spot that moves from
frame to frame, in a different place for each CAM type), stored under random tokens like real ones.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from PIL import Image
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from db.models import Answer, CamAsset, Frame, ModelRun, StudyItem, Video
from db.session import session_scope
from reviewer.cam_assets import overlay
from reviewer.encode import write_h264
from reviewer.settings import Settings
from reviewer.storage import resolve
from reviewer.study_setup import KINDS, create_study, open_study, row_id
from tests.code.stock import FPS, SIDE, add_video, write_mp4
from tests.code.stock_study import add_user

CLASSES = ("covid", "pneumonia", "healthy")
SAMPLED_HZ = 3.0


@dataclass(frozen=True)
class ReviewWorld:
    study_id: int
    admin: int
    experts: list[int]
    outsider: int
    videos: list[int]


def review_world(
    engine: Engine, settings: Settings, *, n_videos: int = 4, frames: int = 6, open_it: bool = True
) -> ReviewWorld:
    """Users admin, expert0 (reference), expert1 and outsider (password ``stock.PASSWORD``) and a
    study over ``n_videos`` videos with ``frames`` sampled frames each."""
    with session_scope(engine) as session:
        admin = add_user(session, "admin", "admin")
        experts = [add_user(session, f"expert{i}") for i in range(2)]
        outsider = add_user(session, "outsider")
        run = ModelRun(status="done", classes=list(CLASSES))
        session.add(run)
        session.flush()
        videos = []
        for i in range(n_videos):
            label = CLASSES[i % len(CLASSES)]
            video = add_video(session, f"review-{i}.mp4", label=label)
            _add_files(session, settings, video, frames, seed=i)
            _add_cams(session, settings, row_id(run), row_id(video), label)
            videos.append(row_id(video))
        study = create_study(
            session=session,
            name="Pilot",
            run_id=row_id(run),
            expert_ids=experts,
            reference_expert_id=experts[0],
            video_selection="all",
            actor_id=admin,
        )
        study_id = row_id(study)
    if open_it:
        with session_scope(engine) as session:
            open_study(session=session, study_id=study_id, actor_id=admin)
    return ReviewWorld(study_id, admin, experts, outsider, videos)


def _add_files(session: Session, settings: Settings, video: Video, frames: int, *, seed: int) -> None:
    """An original a little longer than the sampled span, and ``frames`` speckle frames at 3 Hz."""
    write_mp4(settings.home / video.file_path, frames=int(frames * FPS / SAMPLED_HZ) + FPS, seed=seed)
    rng = np.random.default_rng(seed)
    for index in range(frames):
        path = f"frames/review/{row_id(video)}/{index:03d}.png"
        resolve(settings, path).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(resolve(settings, path)), rng.integers(0, 255, (SIDE, SIDE), dtype=np.uint8))
        session.add(
            Frame(
                video_id=row_id(video),
                index=index,
                source_index=round(index * FPS / SAMPLED_HZ),
                time_s=index / SAMPLED_HZ,
                image_path=path,
            )
        )
    session.flush()


def _add_cams(session: Session, settings: Settings, run_id: int, video_id: int, target: str) -> None:
    query = select(Frame.image_path).where(Frame.video_id == video_id).order_by(col(Frame.index))
    paths = session.exec(query)
    images = np.stack([np.asarray(Image.open(resolve(settings, p)).convert("RGB")) for p in paths])
    for k, kind in enumerate(KINDS):
        token = secrets.token_hex(16)
        raw, video = f"assets/{token[:2]}/{token}.npz", f"assets/{token[:2]}/{token}.mp4"
        maps = _moving_spot(len(images), images.shape[1], shift=k)
        resolve(settings, raw).parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(resolve(settings, raw), cams=maps.astype(np.float16))
        write_h264(overlay(images, maps), SAMPLED_HZ, resolve(settings, video))
        session.add(
            CamAsset(
                run_id=run_id,
                video_id=video_id,
                kind=kind,
                target_class=target,
                token=token,
                raw_path=raw,
                overlay_path=video,
                peaks=[],
            )
        )
    session.flush()


def _moving_spot(count: int, side: int, *, shift: int) -> np.ndarray:
    """Maps in [0, 1] with one Gaussian spot walking across the frame."""
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float32)
    maps = np.empty((count, side, side), np.float32)
    for i in range(count):
        cx, cy = side * (0.2 + 0.6 * i / max(count - 1, 1)), side * (0.3 + 0.4 * shift)
        maps[i] = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * (side / 8) ** 2))
    return maps


def answers_of(engine: Engine, expert_id: int) -> dict[int, dict[str, Any]]:
    """Stored answers of one expert by item position, as plain values."""
    with session_scope(engine) as session:
        rows = session.exec(
            select(StudyItem.position, Answer)
            .join(Answer, col(Answer.item_id) == StudyItem.id)
            .where(Answer.expert_id == expert_id)
        ).all()
        return {position: answer.model_dump() for position, answer in rows}
