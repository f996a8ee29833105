"""The phantom generator: deterministic, and its ground-truth masks sit where the patterns are drawn."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from reviewer.vocab import LUNG_PATTERNS, LusClass, Pattern
from seed_data.phantom import CLASS_PATTERNS, PhantomVideo, render_phantom, write_video

SEEDS = (0, 1, 2, 3)
CORE = {
    LusClass.HEALTHY: Pattern.A_LINES,
    LusClass.COVID: Pattern.B_LINES,
    LusClass.PNEUMONIA: Pattern.CONSOLIDATION,
}


@pytest.fixture(scope="module")
def phantoms() -> dict[tuple[LusClass, int], PhantomVideo]:
    """Short clips of every class and a few seeds, rendered once for the whole module."""
    return {
        (label, seed): render_phantom(label, seed, seconds=0.6) for label in CLASS_PATTERNS for seed in SEEDS
    }


def _grey(video: PhantomVideo) -> np.ndarray:
    return video.frames[..., 0].astype(np.float64)


def test_same_seed_renders_the_same_video() -> None:
    first, second = (render_phantom(LusClass.COVID, 42, seconds=0.4) for _ in range(2))
    assert np.array_equal(first.frames, second.frames)
    assert np.array_equal(first.labels, second.labels)
    assert first.patterns == second.patterns and first.crop == second.crop


def test_different_seeds_and_classes_differ(phantoms: dict[tuple[LusClass, int], PhantomVideo]) -> None:
    frames = [video.frames[0] for video in phantoms.values()]
    for i, a in enumerate(frames):
        for b in frames[i + 1 :]:
            assert not np.array_equal(a, b)


def test_frames_are_grey_uint8_and_black_outside_the_fan(
    phantoms: dict[tuple[LusClass, int], PhantomVideo],
) -> None:
    for video in phantoms.values():
        assert video.frames.shape == (9, 256, 256, 3) and video.frames.dtype == np.uint8
        assert np.array_equal(video.frames[..., 0], video.frames[..., 2])
        assert video.frames[:, ~video.sector].max() == 0
        x, y, w, h = video.crop
        assert w == h and x >= 0 and y >= 0 and x + w <= 256 and y + h <= 256
        ys, xs = np.nonzero(video.sector)
        assert x <= xs.min() and xs.max() < x + w and y <= ys.min() and ys.max() < y + h


@pytest.mark.parametrize("label", list(CLASS_PATTERNS))
def test_masks_are_nonempty_exactly_for_the_patterns_present(
    phantoms: dict[tuple[LusClass, int], PhantomVideo], label: LusClass
) -> None:
    for seed in SEEDS:
        video = phantoms[(label, seed)]
        assert CORE[label] in video.patterns
        assert set(video.patterns) <= CLASS_PATTERNS[label]
        for pattern in LUNG_PATTERNS:
            mask = video.masks[pattern]
            assert mask.shape == video.frames.shape[:3] and mask.dtype == np.bool_
            if pattern in video.patterns:
                assert mask.any(axis=(1, 2)).all(), f"{pattern} missing in a frame of seed {seed}"
            else:
                assert not mask.any(), f"{pattern} drawn in {label} seed {seed}"
            assert not (mask & ~video.sector).any()
        for wall in (Pattern.SKIN, Pattern.FAT, Pattern.MUSCLE):
            assert video.masks[wall].all(axis=0).any()
        assert not video.masks[Pattern.OTHER].any()


def test_optional_findings_vary_between_seeds() -> None:
    seen = {render_phantom(LusClass.PNEUMONIA, seed, seconds=0.1).patterns for seed in range(201, 211)}
    assert len(seen) > 1


def test_b_lines_run_from_the_pleura_to_the_bottom(
    phantoms: dict[tuple[LusClass, int], PhantomVideo],
) -> None:
    for seed in SEEDS:
        video = phantoms[(LusClass.COVID, seed)]
        b_lines, pleura, grey = video.masks[Pattern.B_LINES], video.pleura, _grey(video)
        fan_bottom = video.sector.shape[0] - 1 - np.argmax(video.sector[::-1], axis=0)
        for t in range(len(video.frames)):
            for x in np.flatnonzero(b_lines[t].any(axis=0) & pleura[t].any(axis=0)):
                assert np.flatnonzero(b_lines[t][:, x]).min() >= np.flatnonzero(pleura[t][:, x]).min() - 1
            count, components = cv2.connectedComponents(b_lines[t].astype(np.uint8))
            for number in range(1, count):
                ys, xs = np.nonzero(components == number)
                deepest = np.argmax(ys)
                assert ys[deepest] >= fan_bottom[xs[deepest]] - 3, "a B-line fades out before the bottom"
        lung = video.sector & ~video.masks[Pattern.RIB_SHADOW][0] & (np.cumsum(pleura[0], axis=0) > 0)
        assert grey[0][b_lines[0]].mean() > grey[0][lung & ~b_lines[0]].mean() + 20


def test_first_a_line_lies_at_twice_the_pleural_depth(
    phantoms: dict[tuple[LusClass, int], PhantomVideo],
) -> None:
    for seed in SEEDS:
        video = phantoms[(LusClass.HEALTHY, seed)]
        centre = video.sector.shape[1] // 2
        skin = np.flatnonzero(video.sector[:, centre]).min()
        pleura = np.flatnonzero(video.pleura[0][:, centre]).mean()
        rows = np.flatnonzero(video.masks[Pattern.A_LINES][0][:, centre])
        first = rows[rows < rows.min() + 8].mean()
        assert abs((first - skin) - 2 * (pleura - skin)) <= 3
        assert _grey(video)[0][video.masks[Pattern.A_LINES][0]].mean() > _grey(video)[0][video.sector].mean()


def test_consolidation_hangs_from_the_pleura_and_holds_the_bronchograms(
    phantoms: dict[tuple[LusClass, int], PhantomVideo],
) -> None:
    for seed in SEEDS:
        video = phantoms[(LusClass.PNEUMONIA, seed)]
        consolidation, pleura = video.masks[Pattern.CONSOLIDATION][0], video.pleura[0]
        top = np.flatnonzero(consolidation.any(axis=1)).min()
        assert top <= np.flatnonzero(pleura.any(axis=1)).max()
        bronchi = video.masks[Pattern.AIR_BRONCHOGRAM]
        assert not (bronchi & ~video.masks[Pattern.CONSOLIDATION]).any()
        if bronchi.any():
            assert (
                _grey(video)[bronchi].mean()
                > _grey(video)[video.masks[Pattern.CONSOLIDATION] & ~bronchi].mean()
            )


def test_effusion_is_anechoic_and_rib_shadows_are_dark(
    phantoms: dict[tuple[LusClass, int], PhantomVideo],
) -> None:
    effusions = 0
    for video in phantoms.values():
        grey, sector_mean = _grey(video), _grey(video)[:, video.sector].mean()
        if video.masks[Pattern.EFFUSION].any():
            effusions += 1
            assert grey[video.masks[Pattern.EFFUSION]].mean() < 0.3 * sector_mean
        if video.masks[Pattern.RIB_SHADOW].any():
            assert grey[video.masks[Pattern.RIB_SHADOW]].mean() < 0.6 * sector_mean
    assert effusions > 0


def test_lung_slides_under_a_still_chest_wall() -> None:
    video = render_phantom(LusClass.COVID, 7, seconds=2.0)
    columns = [np.flatnonzero(frame.any(axis=0)).mean() for frame in video.masks[Pattern.B_LINES]]
    assert max(columns) - min(columns) >= 2
    muscle = video.masks[Pattern.MUSCLE][0]
    lung = video.masks[Pattern.B_LINES][0]
    grey = _grey(video)
    assert np.abs(grey[1] - grey[0])[muscle].mean() < np.abs(grey[1] - grey[0])[lung].mean()


@pytest.mark.parametrize("suffix", [".mp4", ".avi"])
def test_written_video_reads_back_with_opencv(tmp_path: Path, suffix: str) -> None:
    video = render_phantom(LusClass.HEALTHY, 3, size=128, seconds=0.5, fps=12.0)
    path = write_video(video, tmp_path / f"clip{suffix}")
    capture = cv2.VideoCapture(str(path))
    frames = []
    while (read := capture.read())[0]:
        frames.append(read[1])
    capture.release()
    assert len(frames) == len(video.frames) == 6
    assert capture is not None and frames[0].shape == (128, 128, 3)
    assert np.abs(frames[0].astype(int) - video.frames[0]).mean() < 8


def test_unsupported_requests_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot show"):
        render_phantom(LusClass.VIRAL, 1)
    with pytest.raises(ValueError, match="size"):
        render_phantom(LusClass.COVID, 1, size=16)
    with pytest.raises(ValueError, match="positive"):
        render_phantom(LusClass.COVID, 1, fps=0)
    with pytest.raises(ValueError, match="mp4"):
        write_video(render_phantom(LusClass.COVID, 1, size=64, seconds=0.1), tmp_path / "clip.gif")
