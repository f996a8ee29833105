"""Screen a video that is not (or need not be) in the database with a finished run's ensemble.

The frames come from the ingest pipeline's own decode / crop / clean step (same checks, same
messages, nothing stored), then the trunk runs once and every fold head on its output: the
ensemble's probabilities (mean over heads, then over frames, as the paper predicts a video), the
epistemic (MC dropout) and aleatoric (test-time augmentation) confidence of the predicted class,
and the train-CAM of that class as an overlay video the page can play. A research tool: nothing
here is a diagnosis, and callers must say so.

The ten augmented trunk passes behind the aleatoric confidence are nine tenths of the wait, so the
verdict, the epistemic confidence and the heatmap are handed to the caller first, as soon as the one
plain pass is done (``benchmarks/uncertainty_cost.py`` measures both times); the stability passes follow.

Progress is reported in the stages of :mod:`reviewer.screening_progress`.
"""

from __future__ import annotations

import dataclasses
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from sqlmodel import Session

from db.models import Video
from reviewer.cam_assets import SAMPLED_FPS, overlay
from reviewer.encode import write_h264
from reviewer.frames import Crop
from reviewer.ingest_options import IngestError, IngestOptions
from reviewer.ingest_prepare import check_upload_size, prepare
from reviewer.predictions import class_probabilities
from reviewer.run_uncertainty import PASSES, Progress, augmented_passes, plain_passes
from reviewer.screening_ensemble import RunModel, ScreeningError
from reviewer.screening_progress import Stage
from reviewer.settings import Settings
from reviewer.storage import resolve
from reviewer.vocab import Probe

OVERLAY_KEEP_S = 24 * 3600.0
"""Overlay videos of screened uploads are deleted after a day: they belong to no record."""


def _silent(stage: str, step: int, total: int) -> None:
    """The progress callback of callers that want none (the CLI, tests)."""


def _ignore(verdict: Screening) -> None:
    """The early-verdict callback of callers that wait for the whole screening."""


@dataclasses.dataclass(frozen=True)
class Screening:
    """The ensemble's verdict on one file, with its confidences and CAM overlay (if rendered)."""

    name: str
    run_id: int
    predicted_class: str
    probabilities: dict[str, float]
    epistemic: float
    aleatoric: float | None
    """None in the early verdict: the stability passes that give it are still running."""
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
            "confidence_epistemic": round(self.epistemic, 4),
            "confidence_aleatoric": None if self.aleatoric is None else round(self.aleatoric, 4),
            "frames": self.frames,
            "overlay": None if self.overlay_path is None else str(self.overlay_path),
            "warnings": list(self.warnings),
        }


Verdict = Callable[[Screening], None]
"""Called with the early verdict, whose ``aleatoric`` is still None."""


def screen_bytes(
    *,
    model: RunModel,
    settings: Settings,
    data: bytes,
    name: str,
    overlay_dir: Path | None = None,
    options: IngestOptions | None = None,
    progress: Progress | None = None,
    on_verdict: Verdict | None = None,
) -> Screening:
    """Screen an uploaded file; ``overlay_dir`` None skips the CAM overlay (the CLI's default).

    ``progress`` gets ``(stage, step, total)`` reports (a :class:`Stage` each), so a page can show the wait.
    ``on_verdict`` gets the early verdict (class, probabilities, model confidence and heatmap) as soon
    as the plain pass is done, about a tenth of the way in: the stability passes take the rest.

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
    return _screen(model, frames, name, overlay_dir, prepared.decoded.warnings, report, on_verdict or _ignore)


@dataclasses.dataclass(frozen=True)
class StoredSource:
    """What screening a stored video needs from the database, read in one short unit of work."""

    data: bytes
    name: str
    options: IngestOptions


def stored_source(*, session: Session, settings: Settings, video_id: int) -> StoredSource:
    """A stored video's original file with the crop and cleaning it was stored with.

    Pass it to :func:`screen_bytes` after the session closes: screening takes minutes and needs no
    transaction held open meanwhile.

    Raises:
        ScreeningError: when the video or its file is missing.
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
    return StoredSource(data=data, name=video.display_name, options=options)


def _screen(
    model: RunModel,
    frames: np.ndarray,
    name: str,
    overlay_dir: Path | None,
    warnings: tuple[str, ...],
    report: Progress,
    on_verdict: Verdict,
) -> Screening:
    """Trunk once and all heads with MC dropout, the predicted class' train-CAM, then augmented passes."""
    from model.augment import augment_batch, resize_frames
    from model.trunk import trunk_features
    from model.uncertainty import video_confidence

    config = model.config
    images = resize_frames(frames, config.input_size)
    report(Stage.MODEL, 1, 1)
    plain = trunk_features(model.trunk, images)
    deterministic, mc = plain_passes(model.heads, plain, PASSES, config.seed)
    probabilities = deterministic.mean(axis=(0, 1))  # heads, then frames
    target = int(probabilities.argmax())
    path = None
    if overlay_dir is not None:
        report(Stage.HEATMAP, 1, 1)
        path = _render(model, frames, plain, target, overlay_dir)
    verdict = Screening(
        name=name,
        run_id=model.run_id,
        predicted_class=config.classes[target].value,
        probabilities=class_probabilities(probabilities, config.classes),
        epistemic=video_confidence(mc.mean(axis=0), target),
        aleatoric=None,
        frames=len(frames),
        overlay_path=path,
        warnings=warnings,
    )
    rng = np.random.default_rng(config.seed)

    def augmented(p: int) -> np.ndarray:
        report(Stage.STABILITY, p + 1, PASSES)
        return trunk_features(model.trunk, augment_batch(images, rng))

    try:
        on_verdict(verdict)
        tta = augmented_passes(model.heads, augmented, PASSES)
    except BaseException:  # cancelled (a page's rerun stops it here) or failed: it leaves no file
        if path is not None:
            path.unlink(missing_ok=True)
        raise
    return dataclasses.replace(verdict, aleatoric=video_confidence(tta.mean(axis=0), target))


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
