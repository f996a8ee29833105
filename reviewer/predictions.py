"""Store a run's predictions: each frame and video by its held-out fold model and by the ensemble."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sqlmodel import Session

from db.models import Prediction
from reviewer.features import FrameSet
from reviewer.run_uncertainty import Confidence, HeadPasses, Passes, frame_confidences, video_confidence
from reviewer.vocab import LusClass


def class_probabilities(probs: np.ndarray, classes: Sequence[LusClass]) -> dict[str, float]:
    """A probability vector as the JSON the database and the CLI keep: class value -> probability."""
    return {c.value: round(float(p), 6) for c, p in zip(classes, probs, strict=True)}


def _row(
    run_id: int,
    video_id: int,
    frame_index: int | None,
    fold: int | None,
    probs: np.ndarray,
    confidence: Confidence,
    classes: Sequence[LusClass],
) -> Prediction:
    return Prediction(
        run_id=run_id,
        video_id=video_id,
        frame_index=frame_index,
        fold=fold,
        probabilities=class_probabilities(probs, classes),
        predicted_class=classes[int(np.argmax(probs))].value,
        confidence_epistemic=round(confidence.epistemic, 6),
        confidence_aleatoric=round(confidence.aleatoric, 6),
    )


def _model_rows(
    run_id: int,
    video_id: int,
    indices: np.ndarray,
    fold: int | None,
    scored: Passes,
    classes: Sequence[LusClass],
) -> list[Prediction]:
    """A model's rows for one video: a row per frame, then the video row (mean of frame probabilities)."""
    rows = [
        _row(run_id, video_id, int(index), fold, probs, confidence, classes)
        for index, probs, confidence in zip(
            indices, scored.probabilities, frame_confidences(scored), strict=True
        )
    ]
    video = scored.probabilities.mean(axis=0)
    rows.append(_row(run_id, video_id, None, fold, video, video_confidence(scored), classes))
    return rows


def store_predictions(
    *,
    session: Session,
    run_id: int,
    frame_set: FrameSet,
    classes: Sequence[LusClass],
    scored: HeadPasses,
) -> int:
    """Add frame- and video-level rows with their confidences; a video's probabilities are its frames' mean.

    Rows with ``fold`` set belong to the fold model that held the video out: their probabilities and
    both confidences are that one model's (MC dropout through its head, augmentation through its head).
    Rows with ``fold`` None belong to the ensemble: probabilities, MC-dropout and augmentation passes
    are means over all fold heads (most of which saw the video in training). Ensemble video rows also
    keep ``members``: each fold model's video probabilities, in fold order (BALD needs them).

    Returns:
        The number of rows added.
    """
    held_out, ensemble = scored.held_out(frame_set.folds), scored.ensemble()
    rows: list[Prediction] = []
    for video_id in np.unique(frame_set.video_ids):
        mask = np.flatnonzero(frame_set.video_ids == video_id)
        fold, indices = int(frame_set.folds[mask][0]), frame_set.frame_indices[mask]
        rows += _model_rows(run_id, int(video_id), indices, fold, held_out.rows(mask), classes)
        rows += _model_rows(run_id, int(video_id), indices, None, ensemble.rows(mask), classes)
        rows[-1].members = [class_probabilities(p[mask].mean(axis=0), classes) for p in scored.probabilities]
    session.add_all(rows)
    return len(rows)
