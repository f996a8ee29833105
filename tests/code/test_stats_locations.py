"""MMD of CAM peak locations: kernel and statistic by hand, and the permutation test's behaviour."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from reviewer.stats_data import FrameError, unblind
from reviewer.stats_locations import (
    PeakRecord,
    gaussian_kernel,
    located,
    mmd_squared,
    mmd_test,
    pairwise_mmd,
    peak_frame,
)
from reviewer.stats_records import StudyData
from reviewer.stats_report import compute_statistics
from tests.code.stock_study import answer


def clustered_peaks(
    centres: dict[str, tuple[float, float]], *, n_videos: int = 8, n_frames: int = 5, seed: int = 0
) -> pd.DataFrame:
    """Per class, videos whose frame peaks scatter around a per-video point near the class centre."""
    rng = np.random.default_rng(seed)
    records: list[PeakRecord] = []
    for label, centre in centres.items():
        for _ in range(n_videos):
            video_centre = rng.normal(centre, 15.0)
            peaks = rng.normal(video_centre, 3.0, size=(n_frames, 2)).round().astype(int)
            records.append(
                PeakRecord(video_id=len(records), label=label, cam_type="test", peaks=peaks.tolist())
            )
    return peak_frame(records)


def test_peak_frame_has_one_row_per_frame() -> None:
    frame = peak_frame([PeakRecord(video_id=3, label="covid", cam_type="train", peaks=[[1, 2], [5, 6]])])
    assert frame.to_dict("records") == [
        {"video_id": 3, "label": "covid", "cam_type": "train", "frame": 0, "x": 1.0, "y": 2.0},
        {"video_id": 3, "label": "covid", "cam_type": "train", "frame": 1, "x": 5.0, "y": 6.0},
    ]
    with pytest.raises(FrameError, match=r"video 4: peak \[1\] is not an \[x, y\] pair"):
        peak_frame([PeakRecord(video_id=4, label="covid", cam_type="test", peaks=[[1]])])


def test_a_frame_without_a_peak_keeps_its_row_but_no_location() -> None:
    frame = peak_frame([PeakRecord(video_id=3, label="covid", cam_type="test", peaks=[[], [5, 6]])])
    assert list(frame["frame"]) == [0, 1] and frame["x"].isna().tolist() == [True, False]
    assert located(frame).to_dict("records") == [
        {"video_id": 3, "label": "covid", "cam_type": "test", "frame": 1, "x": 5.0, "y": 6.0}
    ]


def test_frames_without_a_peak_are_left_out_of_the_mmd_and_counted() -> None:
    peaks = clustered_peaks({"covid": (100.0, 100.0), "healthy": (100.0, 100.0)})
    blank = [
        PeakRecord(video_id=100 + v, label="healthy", cam_type="test", peaks=[[]] * 5) for v in range(3)
    ] + [PeakRecord(video_id=200, label="covid", cam_type="test", peaks=[[], [100, 100]])]
    with_blanks = pd.concat([peaks, peak_frame(blank)], ignore_index=True)
    result = mmd_test(with_blanks, "covid", "healthy", n_perm=100, seed=2)
    plain = mmd_test(pd.concat([peaks, peak_frame(blank[3:])[1:]]), "covid", "healthy", n_perm=100, seed=2)
    assert (result.n_points_a, result.n_points_b, result.n_videos_a, result.n_videos_b) == (41, 40, 9, 8)
    assert (result.n_no_peak_a, result.n_no_peak_b) == (1, 15)
    assert result.observed == plain.observed and result.p_value == plain.p_value
    assert result.message == "frames without a CAM peak left out: covid 1, healthy 15"


def test_the_report_counts_frames_without_a_peak_per_class_and_cam_type() -> None:
    records = [
        PeakRecord(video_id=v, label=label, cam_type=kind, peaks=[[10 * v, 5], [10 * v + 3, 9]])
        for v, label in enumerate(["covid", "covid", "healthy", "healthy"])
        for kind in ("train", "test")
    ] + [PeakRecord(video_id=9, label="healthy", cam_type="test", peaks=[[], []])]
    frame = unblind([answer(1, 0), answer(2, 2, label="healthy", predicted="healthy", guess="healthy")])
    data = StudyData(1, "s", "closed", False, 1, ("covid", "healthy"), "E1", frame, peak_frame(records))
    stats = compute_statistics(data, n_boot=10, n_perm=10)
    counts = {kind: (m.n_no_peak_a, m.n_no_peak_b) for kind, [m] in stats.mmd.items()}
    assert counts == {"train": (0, 0), "test": (0, 2)}
    assert len(stats.peaks) == 16 and not stats.peaks[["x", "y"]].isna().any().any()  # the chart's points


def test_gaussian_kernel_uses_the_median_distance() -> None:
    # Pairwise distances 5, 10, 5: sigma = 5, k(d) = exp(-d^2 / 50).
    kernel, sigma = gaussian_kernel([[0, 0], [3, 4], [6, 8]])
    assert sigma == 5.0
    assert kernel[0, 1] == pytest.approx(math.exp(-0.5)) and kernel[0, 2] == pytest.approx(math.exp(-2.0))
    assert np.allclose(np.diag(kernel), 1.0) and np.allclose(kernel, kernel.T)


def test_mmd_squared_equals_the_mean_kernel_formula() -> None:
    points = np.random.default_rng(1).normal(size=(9, 2))
    kernel, _ = gaussian_kernel(points)
    membership = np.array([[True] * 4 + [False] * 5, [False, True] * 4 + [True]])
    for row, value in zip(membership, mmd_squared(kernel, membership), strict=True):
        a, b = np.flatnonzero(row), np.flatnonzero(~row)
        direct = kernel[np.ix_(a, a)].mean() + kernel[np.ix_(b, b)].mean() - 2 * kernel[np.ix_(a, b)].mean()
        assert value == pytest.approx(direct) and value >= 0


def test_same_distribution_gives_a_large_p() -> None:
    peaks = clustered_peaks({"covid": (100.0, 100.0), "healthy": (100.0, 100.0)})
    result = mmd_test(peaks, "covid", "healthy", n_perm=300, seed=2)
    assert result.message is None and result.null.shape == (300,)
    assert result.p_value is not None and result.p_value > 0.2
    assert result.observed is not None
    assert result.p_value == (1 + np.sum(result.null >= result.observed - 1e-12)) / 301
    assert (result.n_points_a, result.n_points_b, result.n_videos_a, result.n_videos_b) == (40, 40, 8, 8)


def test_separated_clusters_give_the_smallest_possible_p() -> None:
    peaks = clustered_peaks({"covid": (50.0, 50.0), "pneumonia": (200.0, 200.0)})
    result = mmd_test(peaks, "covid", "pneumonia", n_perm=300, seed=2)
    assert result.observed is not None and result.observed > result.null.max()
    assert result.p_value == pytest.approx(1 / 301)


def test_permutations_move_whole_videos_and_are_seeded() -> None:
    peaks = clustered_peaks({"covid": (0.0, 0.0), "healthy": (10.0, 10.0)}, n_videos=2, n_frames=10)
    result = mmd_test(peaks, "covid", "healthy", n_perm=200, seed=3)
    # Four videos, two per class: only 6 splits exist, so the null takes at most 6 values.
    assert len(np.unique(result.null.round(12))) <= 6
    again = mmd_test(peaks, "covid", "healthy", n_perm=200, seed=3)
    assert np.array_equal(result.null, again.null) and result.p_value == again.p_value


def test_mmd_degenerate_cases() -> None:
    peaks = clustered_peaks({"covid": (0.0, 0.0)})
    missing = mmd_test(peaks, "covid", "viral")
    assert (missing.observed, missing.p_value, missing.null.size) == (None, None, 0)
    assert missing.message == "no peak locations for class viral"
    same_spot = peak_frame(
        [
            PeakRecord(video_id=1, label="covid", cam_type="test", peaks=[[5, 5], [5, 5], [5, 5]]),
            PeakRecord(video_id=2, label="healthy", cam_type="test", peaks=[[5, 5], [6, 6]]),
        ]
    )
    coincide = mmd_test(same_spot, "covid", "healthy")
    assert coincide.sigma is None
    assert coincide.message == "most peaks coincide (median distance 0): no kernel width"
    with pytest.raises(ValueError, match="n_perm"):
        mmd_test(peaks, "covid", "viral", n_perm=0)


def test_pairwise_mmd_covers_every_class_pair_in_vocabulary_order() -> None:
    peaks = clustered_peaks(
        {"healthy": (0.0, 0.0), "covid": (60.0, 0.0), "pneumonia": (0.0, 60.0)}, n_videos=3
    )
    results = pairwise_mmd(peaks, n_perm=20)
    assert [(r.class_a, r.class_b) for r in results] == [
        ("covid", "pneumonia"),
        ("covid", "healthy"),
        ("pneumonia", "healthy"),
    ]
    assert all(r.p_value is not None for r in results)


def test_mmd_over_videos_equals_mmd_over_their_points() -> None:
    rng = np.random.default_rng(3)
    points = rng.normal(size=(12, 2))
    codes = np.array([0, 0, 0, 1, 1, 2, 3, 3, 3, 3, 4, 4])  # five videos of 3, 2, 1, 4 and 2 frames
    kernel, _ = gaussian_kernel(points)
    indicator = np.eye(5)[codes]
    videos = np.array([[True, False, True, False, False], [False, True, True, True, False]])
    by_point = mmd_squared(kernel, videos[:, codes])
    by_video = mmd_squared(indicator.T @ kernel @ indicator, videos, indicator.sum(axis=0))
    np.testing.assert_allclose(by_video, by_point)
