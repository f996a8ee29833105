"""Folds are assigned to videos: no video's frames may be trained on in the fold that tests it."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from reviewer.folds import FoldError, assign_folds, frame_split

pytestmark = pytest.mark.filterwarnings("error")

# 12 covid, 8 pneumonia and 5 healthy videos with ids that are not 0..n-1.
VIDEO_IDS = [100 + 7 * i for i in range(25)]
LABELS = ["covid"] * 12 + ["pneumonia"] * 8 + ["healthy"] * 5


def _frames(video_ids: list[int], seed: int = 0) -> list[int]:
    """Video id of every frame: 2 to 6 frames per video, interleaved as a database might return them."""
    rng = np.random.default_rng(seed)
    frames = [video for video in video_ids for _ in range(int(rng.integers(2, 7)))]
    return [frames[i] for i in rng.permutation(len(frames))]


def test_no_video_has_frames_in_train_and_test_of_any_fold() -> None:
    folds = assign_folds(VIDEO_IDS, LABELS, n_folds=5, seed=3)
    frame_videos = np.array(_frames(VIDEO_IDS))
    tested = Counter[int]()
    for fold in range(5):
        train_idx, test_idx = frame_split(folds, frame_videos.tolist(), fold)
        train_videos, test_videos = set(frame_videos[train_idx]), set(frame_videos[test_idx])
        assert not train_videos & test_videos
        assert sorted(np.concatenate([train_idx, test_idx])) == list(range(len(frame_videos)))
        assert all(folds[video] == fold for video in test_videos)
        tested.update(test_videos)
    assert tested == Counter(VIDEO_IDS)


def test_every_fold_holds_each_class_about_equally() -> None:
    folds = assign_folds(VIDEO_IDS, LABELS, n_folds=5, seed=0)
    assert sorted(folds) == sorted(VIDEO_IDS)
    for label, total in Counter(LABELS).items():
        per_fold = Counter(
            folds[video] for video, other in zip(VIDEO_IDS, LABELS, strict=True) if other == label
        )
        assert sorted(per_fold) == [0, 1, 2, 3, 4]
        assert max(per_fold.values()) - min(per_fold.values()) <= 1, (label, total, per_fold)


def test_folds_depend_on_seed_not_on_row_order() -> None:
    folds = assign_folds(VIDEO_IDS, LABELS, seed=1)
    order = np.random.default_rng(9).permutation(len(VIDEO_IDS))
    shuffled = assign_folds([VIDEO_IDS[i] for i in order], [LABELS[i] for i in order], seed=1)
    assert shuffled == folds
    assert assign_folds(VIDEO_IDS, LABELS, seed=1) == folds
    assert any(assign_folds(VIDEO_IDS, LABELS, seed=seed) != folds for seed in (2, 3, 4))


def test_class_with_fewer_videos_than_folds_is_named() -> None:
    with pytest.raises(FoldError, match=r"at least 6 videos per class: 'healthy' has 5"):
        assign_folds(VIDEO_IDS, LABELS, n_folds=6)


@pytest.mark.parametrize(
    ("video_ids", "labels", "n_folds", "message"),
    [
        ([1, 2, 3, 4], ["covid"] * 4, 2, "at least 2 classes, got 1"),
        ([1, 2, 3], ["covid", "healthy"], 2, "3 videos but 2 labels"),
        ([1, 1, 2, 3], ["covid", "covid", "healthy", "healthy"], 2, "only once"),
        ([1, 2, 3, 4], ["covid", "covid", "healthy", "healthy"], 1, "at least 2 folds"),
    ],
)
def test_unsplittable_videos_are_refused(
    video_ids: list[int], labels: list[str], n_folds: int, message: str
) -> None:
    with pytest.raises(FoldError, match=message):
        assign_folds(video_ids, labels, n_folds=n_folds)


def test_frame_split_refuses_frames_of_unassigned_videos_and_empty_folds() -> None:
    folds = {1: 0, 2: 1}
    with pytest.raises(FoldError, match="1 video\\(s\\) have frames but no fold, e.g. video 3"):
        frame_split(folds, [1, 2, 3, 3], 0)
    with pytest.raises(FoldError, match="Fold 2 holds no video"):
        frame_split(folds, [1, 2], 2)
