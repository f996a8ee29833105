"""Screen a video that is not (or need not be) in the database with a finished run's ensemble.

The frames come from the ingest pipeline's own decode / crop / clean step (same checks, same
messages, nothing stored), then the trunk runs once and every fold head on its output: the
ensemble's probabilities (mean over heads, then over frames, as the paper predicts a video), the
epistemic (MC dropout) and aleatoric (test-time augmentation) confidence of the predicted class,
and the train-CAM of that class as an overlay video the page can play. A research tool: nothing
here is a diagnosis, and callers must say so.

Screening takes about a minute on a small server, so it reports ``(stage, step, total)`` as it goes:
a :class:`Stage` (its value is the plain-language text a user sees) and which of the stage's
``total`` steps is starting. :func:`progress_state` turns a report into one bar for the whole job.
"""

from __future__ import annotations

import dataclasses
import secrets
import time
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
from sqlmodel import Session

from db.models import ModelRun, Video
from reviewer.cam_assets import SAMPLED_FPS, load_heads, overlay
from reviewer.encode import write_h264
from reviewer.frames import Crop
from reviewer.ingest_options import IngestError, IngestOptions
from reviewer.ingest_prepare import check_upload_size, prepare
from reviewer.predictions import class_probabilities
from reviewer.run_uncertainty import PASSES, Confidence, Progress, head_passes, run_trunk, video_confidence
from reviewer.settings import Settings
from reviewer.storage import resolve
from reviewer.training import TrainConfig, run_config
from reviewer.vocab import Probe, RunStatus

OVERLAY_KEEP_S = 24 * 3600.0
"""Overlay videos of screened uploads are deleted after a day: they belong to no record."""


class Stage(StrEnum):
    """The stages of a screening, in order; each value is what the user reads while it runs."""

    LOADING = "Loading the model"
    PREPARING = "Decoding and preparing the frames"
    MODEL = "Running the model"
    STABILITY = "Checking stability under small image changes"
    HEATMAP = "Rendering the heatmap video"


STAGE_STEPS = {
    Stage.LOADING: 1,
    Stage.PREPARING: 1,
    Stage.MODEL: 1,
    Stage.STABILITY: PASSES,
    Stage.HEATMAP: 1,
}
"""Steps of each stage; one step is roughly one trunk pass, the unit that dominates the wait.
Loading is reported by the caller that loads (and caches) the :class:`RunModel`, not by screening."""


def progress_state(stage: str, step: int, total: int) -> tuple[float, str]:
    """Turn a ``(stage, step, total)`` report into the fraction of the whole job done and a label.

    One bar over all stages, weighted by :data:`STAGE_STEPS`, so it only ever moves forward and a
    busy user can judge the remaining wait; per-stage bars would refill from zero four times.
    """
    current = Stage(stage)
    stages = list(Stage)
    before = sum(STAGE_STEPS[s] for s in stages[: stages.index(current)])
    done = before + STAGE_STEPS[current] * (step - 1) / max(total, 1)
    label = f"{current.value} ({step} of {total})…" if total > 1 else f"{current.value}…"
    return done / sum(STAGE_STEPS.values()), label


def _silent(stage: str, step: int, total: int) -> None:
    """The progress callback of callers that want none (the CLI, tests)."""


class ScreeningError(ValueError):
    """A run or file that cannot be screened; the message is safe to show."""


@dataclasses.dataclass(frozen=True)
class RunModel:
    """A finished run's trunk and fold heads, loaded once (pages cache it per run)."""

    run_id: int
    config: TrainConfig
    trunk: Any
    heads: list[Any]


@dataclasses.dataclass(frozen=True)
class Screening:
    """The ensemble's verdict on one file, with its confidences and CAM overlay (if rendered)."""

    name: str
    run_id: int
    predicted_class: str
    probabilities: dict[str, float]
    confidence: Confidence
    frames: int
    overlay_path: Path | None
    warnings: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        """JSON form for ``lusreview predict --json``."""
        return {
            "path": self.name,
            "run_id": self.run_id,
            "predicted_class": self.predicted_class,
            "probabilities": self.probabilities,
            "confidence_epistemic": round(self.confidence.epistemic, 4),
            "confidence_aleatoric": round(self.confidence.aleatoric, 4),
            "frames": self.frames,
            "overlay": None if self.overlay_path is None else str(self.overlay_path),
            "warnings": list(self.warnings),
        }


def load_run_model(*, session: Session, settings: Settings, run_id: int) -> RunModel:
    """Rebuild a finished run's trunk and load its fold heads.

    Raises:
        ScreeningError: the run does not exist, has not finished, or its weights are gone.
    """
    run = session.get(ModelRun, run_id)
    if run is None or run.status != RunStatus.DONE.value:
        raise ScreeningError(f"Run {run_id} does not exist or has not finished training.")
    config = run_config(run)
    try:
        heads = load_heads(settings, run, config)
    except (OSError, ValueError) as exc:
        raise ScreeningError(f"The weights of run {run_id} are missing; train it again.") from exc
    return RunModel(run_id=run_id, config=config, trunk=run_trunk(config), heads=heads)


def screen_bytes(
    *,
    model: RunModel,
    settings: Settings,
    data: bytes,
    name: str,
    overlay_dir: Path | None = None,
    options: IngestOptions | None = None,
    progress: Progress | None = None,
) -> Screening:
    """Screen an uploaded file; ``overlay_dir`` None skips the CAM overlay (the CLI's default).

    ``progress`` gets ``(stage, step, total)`` reports (a :class:`Stage` each), so a page can show the wait.

    Raises:
        ScreeningError: for a file the ingest would refuse (not a video, unreadable, too long...).
    """
    report = progress or _silent
    report(Stage.PREPARING, 1, 1)
    try:
        check_upload_size(len(data), settings)
        prepared = prepare(settings, data, options or IngestOptions(probe=model.config.probe))
    except IngestError as exc:
        raise ScreeningError(str(exc)) from exc
    frames = np.stack(prepared.clean.frames)
    return _screen(model, frames, name, overlay_dir, prepared.decoded.warnings, report)


def screen_stored(
    *,
    session: Session,
    settings: Settings,
    model: RunModel,
    video_id: int,
    overlay_dir: Path | None = None,
    progress: Progress | None = None,
) -> Screening:
    """Screen a stored video from its original file, cropped and cleaned exactly as when it was stored.

    ``progress`` gets the same reports as :func:`screen_bytes`.
    """
    video = session.get(Video, video_id)
    if video is None:
        raise ScreeningError(f"Video {video_id} does not exist.")
    try:
        data = resolve(settings, video.file_path).read_bytes()
    except (OSError, ValueError) as exc:
        raise ScreeningError(f"The file of video {video_id} is missing; re-ingest it.") from exc
    options = IngestOptions(
        probe=Probe(video.probe),
        crop=Crop(video.crop_x, video.crop_y, video.crop_w, video.crop_h),
        remove_overlays=video.overlay_removal,
    )
    return screen_bytes(
        model=model,
        settings=settings,
        data=data,
        name=video.display_name,
        overlay_dir=overlay_dir,
        options=options,
        progress=progress,
    )


def _screen(
    model: RunModel,
    frames: np.ndarray,
    name: str,
    overlay_dir: Path | None,
    warnings: tuple[str, ...],
    report: Progress,
) -> Screening:
    """Trunk once, all heads, MC-dropout and augmented passes, then the predicted class' train-CAM."""
    from model.augment import augment_batch, resize_frames
    from model.trunk import trunk_features

    config = model.config
    images = resize_frames(frames, config.input_size)
    report(Stage.MODEL, 1, 1)
    plain = trunk_features(model.trunk, images)
    rng = np.random.default_rng(config.seed)

    def augmented(p: int) -> np.ndarray:
        report(Stage.STABILITY, p + 1, PASSES)
        return trunk_features(model.trunk, augment_batch(images, rng))

    scored = head_passes(model.heads, plain, augmented, PASSES, config.seed).ensemble()
    probabilities = scored.probabilities.mean(axis=0)
    target = int(probabilities.argmax())
    path = None
    if overlay_dir is not None:
        report(Stage.HEATMAP, 1, 1)
        path = _render(model, frames, plain, target, overlay_dir)
    return Screening(
        name=name,
        run_id=model.run_id,
        predicted_class=config.classes[target].value,
        probabilities=class_probabilities(probabilities, config.classes),
        confidence=video_confidence(scored),
        frames=len(frames),
        overlay_path=path,
        warnings=warnings,
    )


def _render(model: RunModel, frames: np.ndarray, plain: np.ndarray, target: int, folder: Path) -> Path:
    """Write the train-CAM overlay under a random name, pruning overlays older than a day."""
    from model.cams import train_cam, upsample

    folder.mkdir(parents=True, exist_ok=True)
    cutoff = time.time() - OVERLAY_KEEP_S
    for old in folder.glob("*.mp4"):
        if old.stat().st_mtime < cutoff:
            old.unlink(missing_ok=True)
    maps = upsample(train_cam(model.heads, plain, target), frames.shape[1])
    return write_h264(overlay(frames, maps), SAMPLED_FPS, folder / f"{secrets.token_hex(16)}.mp4")


def overlay_folder(settings: Settings) -> Path:
    """Where the page keeps screening overlays (inside the home, so the app may serve them)."""
    return settings.home / "screening"
