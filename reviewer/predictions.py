"""Store a run's predictions: each frame and video by its held-out fold model and by the ensemble."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sqlmodel import Session

from db.models import Prediction
from reviewer.features import FrameSet
from reviewer.vocab import LusClass


def _row(
    run_id: int,
    video_id: int,
    frame_index: int | None,
    fold: int | None,
    probs: np.ndarray,
    classes: Sequence[LusClass],
) -> Prediction:
    return Prediction(
        run_id=run_id,
        video_id=video_id,
        frame_index=frame_index,
        fold=fold,
        probabilities={c.value: round(float(p), 6) for c, p in zip(classes, probs, strict=True)},
        predicted_class=classes[int(np.argmax(probs))].value,
    )


def store_predictions(
    *,
    session: Session,
    run_id: int,
    frame_set: FrameSet,
    classes: Sequence[LusClass],
    held_out: np.ndarray,
    ensemble: np.ndarray,
) -> int:
    """Add frame- and video-level rows; a video's probabilities are the mean over its frames.

    ``fold`` is the held-out fold for test-model rows and None for ensemble rows.

    Returns:
        The number of rows added.
    """
    rows: list[Prediction] = []
    for video_id in np.unique(frame_set.video_ids):
        mask = frame_set.video_ids == video_id
        fold = int(frame_set.folds[mask][0])
        for source, fold_value in ((held_out, fold), (ensemble, None)):
            for index, probs in zip(frame_set.frame_indices[mask], source[mask], strict=True):
                rows.append(_row(run_id, int(video_id), int(index), fold_value, probs, classes))
            rows.append(_row(run_id, int(video_id), None, fold_value, source[mask].mean(axis=0), classes))
    session.add_all(rows)
    return len(rows)
