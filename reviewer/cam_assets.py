"""The CAMs and assets step: for every video of a run, its train-CAM and test-CAM, stored blinded.

The train-CAM is the normalised mean of all fold heads' CAMs (4 of the 5 saw the video); the
test-CAM comes from the one head whose fold held the video out. Each is stored as raw float16 maps,
per-frame peak locations and a browser-playable overlay video, all named by a random token so that
nothing an expert's browser receives says which is which. A frame whose map has no positive evidence
has no peak and stores ``[]`` in place of ``[x, y]`` (see :func:`stored_peaks`).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

import cv2
import numpy as np
from sqlalchemy import Engine
from sqlmodel import Session, col, delete, select

from db.models import CamAsset, ModelRun, Prediction, StudyItem
from db.session import session_scope
from reviewer.encode import write_h264
from reviewer.features import FrameSet, load_frame_set, run_features
from reviewer.settings import Settings
from reviewer.storage import published, resolve
from reviewer.training import TrainConfig, run_config, run_dir
from reviewer.vocab import CamKind, RunStatus

Progress = Callable[[str, int, int], None]
OVERLAY_THRESHOLD = 0.2
"""CAM values below this stay transparent, so the overlay shows the image where the model does not look."""
OVERLAY_ALPHA = 0.5
SAMPLED_FPS = 3.0


class CamError(ValueError):
    """CAMs cannot be made for this run; the message is safe to show."""


def overlay(frames: np.ndarray, maps: np.ndarray, threshold: float = OVERLAY_THRESHOLD) -> np.ndarray:
    """Blend jet-coloured maps ``(N, S, S)`` in [0, 1] over RGB frames; low values stay clear.

    Leaving values under ``threshold`` transparent keeps the anatomy readable where the model does
    not look, which is what an expert needs to judge whether the hot spots sit on a pattern.
    """
    out = np.empty_like(frames)
    for i, (frame, cam) in enumerate(zip(frames, maps, strict=True)):
        colour = cv2.cvtColor(
            cv2.applyColorMap((cam * 255).astype(np.uint8), cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB
        )
        alpha = np.where(cam >= threshold, OVERLAY_ALPHA, 0.0)[..., None]
        out[i] = np.uint8(frame * (1 - alpha) + colour * alpha)
    return out


def stored_peaks(maps: np.ndarray) -> list[list[int]]:
    """Per-frame peaks ``[x, y]`` as the ``peaks`` column holds them, ``[]`` for a map without a peak.

    An empty list instead of a made-up (0, 0) keeps evidence-free frames out of peak statistics and
    region hits; instead of null it keeps the column a list of int lists, so every stored asset still
    loads. Assets stored before this rule hold (0, 0) for such frames.
    """
    from model.cams import peak

    return [[] if found is None else list(found) for found in map(peak, maps)]


def make_cams(
    *,
    engine: Engine,
    settings: Settings,
    run_id: int,
    use_prediction: bool = False,
    progress: Progress | None = None,
) -> list[CamAsset]:
    """Compute and store both CAMs of every video of a finished run (replacing earlier ones).

    Args:
        engine: Database; read in one short transaction, written in another after the maps exist.
        settings: Where frames, weights and assets live.
        run_id: A finished training run.
        use_prediction: Target the ensemble's predicted class instead of the label (the default).
        progress: ``(stage, done, total)`` callback for the CLI and the page.

    Returns:
        The newly stored assets, two per video minus those whose slot a study item pins.
    """
    with session_scope(engine) as session:
        run = session.get(ModelRun, run_id)
        if run is None or run.status != RunStatus.DONE.value:
            raise CamError(f"Run {run_id} does not exist or has not finished training.")
        frames = load_frame_set(session=session, settings=settings, run=run)
        targets = _targets(session, run, frames, use_prediction)
    config = run_config(run)
    heads = load_heads(settings, run, config)
    features, _ = run_features(settings=settings, config=config, frames=frames, progress=progress)
    plain = np.asarray(features[:, 0], np.float32)
    assets: list[CamAsset] = []
    videos = np.unique(frames.video_ids)
    for done, video_id in enumerate(videos, start=1):
        rows = np.flatnonzero(frames.video_ids == video_id)
        assets += _video_assets(settings, run, frames, rows, plain[rows], heads, targets[int(video_id)])
        if progress is not None:
            progress("cams", done, len(videos))
    return _store_replacing(engine, settings, run_id, assets)


def _store_replacing(engine: Engine, settings: Settings, run_id: int, made: list[CamAsset]) -> list[CamAsset]:
    """Swap a run's assets for ``made``, except those a study item pins: they and their files stay.

    An expert's answer refers to the exact maps shown, so a pinned asset keeps its row and files and
    remains the run's asset for its (video, kind, target); the new one made for that slot is dropped.
    Files of replaced assets are deleted only after the swap has committed, the new files of a swap
    that failed right away.
    """
    try:
        with session_scope(engine) as session:
            old = session.exec(select(CamAsset).where(CamAsset.run_id == run_id)).all()
            pinned = _pinned(session, [a.id for a in old if a.id is not None])
            kept = {_slot(a) for a in old if a.id in pinned}
            stale = [a for a in old if a.id not in pinned]
            stored = [a for a in made if _slot(a) not in kept]
            session.exec(delete(CamAsset).where(col(CamAsset.id).in_([a.id for a in stale])))
            session.add_all(stored)
    except Exception:
        _delete_files(settings, made)
        raise
    _delete_files(settings, stale + [a for a in made if _slot(a) in kept])
    return stored


def _slot(asset: CamAsset) -> tuple[int, str, str]:
    return asset.video_id, asset.kind, asset.target_class


def _pinned(session: Session, asset_ids: list[int]) -> set[int]:
    """Which of these assets a study item shows (left or right)."""
    left = select(StudyItem.left_asset_id).where(col(StudyItem.left_asset_id).in_(asset_ids))
    right = select(StudyItem.right_asset_id).where(col(StudyItem.right_asset_id).in_(asset_ids))
    return {i for i in [*session.exec(left), *session.exec(right)] if i is not None}


def _delete_files(settings: Settings, assets: list[CamAsset]) -> None:
    for asset in assets:
        for relative in (asset.raw_path, asset.overlay_path):
            resolve(settings, relative).unlink(missing_ok=True)


def load_heads(settings: Settings, run: ModelRun, config: TrainConfig) -> list[object]:
    """The fold heads of a finished run, in fold order (CAMs and screening run all of them)."""
    from model.heads import load_head

    folder = run_dir(settings, int(run.id or 0))
    return [load_head(folder / f"fold-{k}.weights.h5", len(config.classes)) for k in range(config.folds)]


def _targets(session: Session, run: ModelRun, frames: FrameSet, use_prediction: bool) -> dict[int, int]:
    """Class index each video's CAMs explain: its label, or the ensemble's video-level prediction."""
    index = {name: i for i, name in enumerate(run.classes)}
    if not use_prediction:
        return {int(v): int(frames.labels[frames.video_ids == v][0]) for v in np.unique(frames.video_ids)}
    query = select(Prediction).where(
        Prediction.run_id == run.id, col(Prediction.fold).is_(None), col(Prediction.frame_index).is_(None)
    )
    return {p.video_id: index[p.predicted_class] for p in session.exec(query)}


def _video_assets(
    settings: Settings,
    run: ModelRun,
    frames: FrameSet,
    rows: np.ndarray,
    features: np.ndarray,
    heads: list[object],
    target: int,
) -> list[CamAsset]:
    from model.cams import test_cam, train_cam, upsample

    fold = int(frames.folds[rows[0]])
    size = frames.images.shape[1]
    maps = {
        CamKind.TRAIN: train_cam(heads, features, target),
        CamKind.TEST: test_cam(heads[fold], features, target),
    }
    assets = []
    for kind, cam in maps.items():
        full = upsample(cam, size)
        token = secrets.token_hex(16)
        raw = f"assets/{token[:2]}/{token}.npz"
        video = f"assets/{token[:2]}/{token}.mp4"
        with published(resolve(settings, raw)) as partial:
            np.savez_compressed(partial, cams=cam.astype(np.float16))
        with published(resolve(settings, video)) as partial:
            write_h264(overlay(frames.images[rows], full), SAMPLED_FPS, partial)
        assets.append(
            CamAsset(
                run_id=int(run.id or 0),
                video_id=int(frames.video_ids[rows[0]]),
                kind=kind.value,
                target_class=run.classes[target],
                token=token,
                raw_path=raw,
                overlay_path=video,
                peaks=stored_peaks(full),
            )
        )
    return assets
