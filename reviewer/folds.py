"""Cross-validation folds over videos, so that no frame of a test video is ever trained on.

Frames of one video are near-duplicates: splitting frames instead of videos would leak the test
video into training and inflate every metric (Born et al. split by video for this reason). Folds are
therefore assigned to *videos* and frames are expanded afterwards with :func:`frame_split`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt
from sklearn.model_selection import StratifiedGroupKFold

IndexArray = npt.NDArray[np.intp]


class FoldError(ValueError):
    """Videos that cannot be split as asked; the message is safe to show."""


def assign_folds(
    video_ids: Sequence[int], labels: Sequence[str], n_folds: int = 5, seed: int = 0
) -> dict[int, int]:
    """Assign every video to the fold that holds it out, stratified by class.

    Each video is its own group, so a video (and later all its frames) lands in exactly one test
    fold. Videos are sorted by id first, so the result depends on the data and the seed only, not
    on the order in which the database returned the rows.

    Args:
        video_ids: Database ids of the videos, unique.
        labels: Class of each video, aligned with ``video_ids``.
        n_folds: Number of folds (the paper uses 5).
        seed: Seed of the shuffle; the same data and seed give the same folds.

    Returns:
        Fold index (0 to ``n_folds - 1``) per video id.

    Raises:
        FoldError: Mismatched or duplicate inputs, fewer than 2 classes, or a class with fewer
            videos than folds (then some test fold could not contain that class).
    """
    if n_folds < 2:
        raise FoldError(f"Cross-validation needs at least 2 folds, not {n_folds}.")
    ids, classes = _sorted_videos(video_ids, labels)
    _require_per_class(classes, minimum=n_folds, purpose=f"{n_folds}-fold cross-validation")
    splitter = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    fold_of_video: dict[int, int] = {}
    for fold, (_, test) in enumerate(splitter.split(ids, classes, groups=ids)):
        fold_of_video.update(dict.fromkeys(ids[test].tolist(), fold))
    return fold_of_video


def frame_split(
    fold_of_video: Mapping[int, int], frame_video_ids: Sequence[int], fold: int
) -> tuple[IndexArray, IndexArray]:
    """Expand a video fold assignment to frame indices for one fold.

    A frame is tested exactly when its video is, which is what keeps a video's frames out of the
    training part of the fold that tests it.

    Args:
        fold_of_video: Result of :func:`assign_folds`.
        frame_video_ids: Video id of every frame, in frame order.
        fold: The fold to hold out.

    Returns:
        ``(train_idx, test_idx)``: positions into ``frame_video_ids``, ascending.

    Raises:
        FoldError: A frame's video has no fold, or no video belongs to ``fold``.
    """
    if fold not in set(fold_of_video.values()):
        raise FoldError(f"Fold {fold} holds no video.")
    videos, frame_to_video = np.unique(np.asarray(frame_video_ids, dtype=np.int64), return_inverse=True)
    missing = sorted(set(videos.tolist()) - fold_of_video.keys())
    if missing:
        raise FoldError(f"{len(missing)} video(s) have frames but no fold, e.g. video {missing[0]}.")
    video_is_test = np.array([fold_of_video[video] == fold for video in videos.tolist()], dtype=bool)
    frame_is_test = video_is_test[frame_to_video]
    return np.flatnonzero(~frame_is_test), np.flatnonzero(frame_is_test)


def _sorted_videos(
    video_ids: Sequence[int], labels: Sequence[str]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.str_]]:
    """Check that videos and labels pair up one to one, and sort both by video id."""
    if len(video_ids) != len(labels):
        raise FoldError(f"Got {len(video_ids)} videos but {len(labels)} labels.")
    ids = np.asarray(video_ids, dtype=np.int64)
    if len(np.unique(ids)) != len(ids):
        raise FoldError("Each video may appear only once.")
    order = np.argsort(ids, kind="stable")
    return ids[order], np.asarray(labels, dtype=np.str_)[order]


def _require_per_class(classes: npt.NDArray[np.str_], *, minimum: int, purpose: str) -> int:
    """Refuse class counts that cannot be split; return the number of classes."""
    names, counts = np.unique(classes, return_counts=True)
    if len(names) < 2:
        raise FoldError(f"{purpose} needs videos of at least 2 classes, got {len(names)}.")
    pairs = zip(names.tolist(), counts.tolist(), strict=True)
    short = [f"'{name}' has {count}" for name, count in pairs if count < minimum]
    if short:
        raise FoldError(f"{purpose} needs at least {minimum} videos per class: {', '.join(short)}.")
    return len(names)
