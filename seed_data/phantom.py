"""Procedural lung-ultrasound phantom: short convex-probe videos with per-pattern ground truth.

The demo needs videos whose findings are *known pixel by pixel*, so that later code can measure
whether a class activation map points at the B-lines or at a rib shadow. Real data cannot give that,
so this module renders it: anatomy and patterns are drawn in beam coordinates
(:mod:`seed_data.anatomy`, :mod:`seed_data.patterns`), multiplied by Rayleigh speckle, attenuated
with depth, log-like compressed and fanned out (:mod:`seed_data.geometry`). Every random choice comes
from one ``numpy.random.Generator`` seeded by the caller, so a seed always gives the same video.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from reviewer.encode import write_h264
from reviewer.vocab import LUNG_PATTERNS, LusClass, Pattern
from seed_data.anatomy import (
    Scene,
    add_chest_wall,
    add_ribs,
    draw_pleura,
    new_scene,
    sample_rib_sides,
)
from seed_data.geometry import BoolArray, fan_out, sample_geometry, scan_maps, sector_mask
from seed_data.patterns import (
    add_a_lines,
    add_air_bronchograms,
    add_b_lines,
    add_effusion,
    add_lobar_consolidation,
    add_pleural_irregularities,
    add_subpleural_consolidations,
)
from seed_data.render import PLEURA_BIT, LabelArray, Renderer, unpack

#: Classes the phantom can show, with the lung patterns each may contain.
CLASS_PATTERNS: Mapping[LusClass, frozenset[Pattern]] = {
    LusClass.HEALTHY: frozenset({Pattern.A_LINES}),
    LusClass.COVID: frozenset({Pattern.B_LINES, Pattern.PLEURAL_IRREGULAR, Pattern.CONSOLIDATION}),
    LusClass.PNEUMONIA: frozenset({Pattern.CONSOLIDATION, Pattern.AIR_BRONCHOGRAM, Pattern.EFFUSION}),
}
#: Smallest and largest image side accepted: below 64 px the patterns are a few pixels wide.
SIZE_RANGE = (64, 1024)
#: Containers OpenCV can write everywhere, with the codec used for each.
CODECS = {".mp4": "h264", ".avi": "MJPG"}


@dataclass(frozen=True)
class PhantomVideo:
    """A rendered phantom: frames, exact per-pattern ground truth and where the fan lies.

    Masks are kept packed (one bit per pattern) and unpacked on demand, because a seeder needs only
    the few frames it samples and unpacking every pattern of every frame costs more than rendering.

    Attributes:
        frames: ``(T, H, W, 3)`` uint8, grey stored as three channels like a real recording.
        labels: ``(T, H, W)`` uint16, bit ``i`` set where the ``i``-th :class:`Pattern` is visible.
        sector: ``(H, W)`` bool, the pixels inside the ultrasound fan.
        crop: ``(x, y, w, h)`` square around the fan, the crop an expert would choose.
        fps: frame rate the video is meant to play at.
        label: the class the phantom shows.
        seed: the seed it was rendered from.
        patterns: the lung patterns visible in it, in vocabulary order.
    """

    frames: npt.NDArray[np.uint8]
    labels: LabelArray
    sector: BoolArray
    crop: tuple[int, int, int, int]
    fps: float
    label: LusClass
    seed: int
    patterns: tuple[Pattern, ...]

    def masks_at(
        self, indices: Sequence[int], *, box: tuple[int, int, int, int] | None = None, size: int | None = None
    ) -> dict[Pattern, BoolArray]:
        """Masks of every :class:`Pattern` (all-False where absent) for the frames at ``indices``.

        Args:
            indices: frame numbers, e.g. the source indices of the frames an ingest kept.
            box: optional ``(x, y, w, h)`` crop, to match frames that were cropped the same way.
            size: optional side to resize the (cropped) masks to, nearest-neighbour and
                pixel-centre aligned, so the masks stay exact booleans on the resized frames.

        Returns:
            One ``(len(indices), h, w)`` bool array per pattern.
        """
        chosen = self.labels[np.asarray(indices, dtype=np.intp)]
        if box is not None:
            x, y, w, h = box
            chosen = chosen[:, y : y + h, x : x + w]
        if size is not None:
            resized = [
                cv2.resize(frame, (size, size), interpolation=cv2.INTER_NEAREST_EXACT) for frame in chosen
            ]
            chosen = np.stack(resized) if resized else np.zeros((0, size, size), dtype=np.uint16)
        return {pattern: unpack(chosen, bit) for bit, pattern in enumerate(Pattern)}

    @cached_property
    def masks(self) -> Mapping[Pattern, BoolArray]:
        """``(T, H, W)`` masks of every :class:`Pattern` over all frames."""
        return self.masks_at(range(len(self.frames)))

    @property
    def pleura(self) -> BoolArray:
        """``(T, H, W)`` visible pleural line: the anchor that most patterns hang from."""
        return unpack(self.labels, PLEURA_BIT)


def build_scene(label: LusClass, rng: np.random.Generator, n_depth: int, n_beams: int) -> Scene:
    """Draw the anatomy and the findings of one class; optional findings are drawn by chance."""
    scene = new_scene(rng, n_depth, n_beams)
    add_chest_wall(scene, rng)
    if label is LusClass.HEALTHY:
        add_ribs(scene, rng, sample_rib_sides(rng))
        add_a_lines(scene, rng)
    elif label is LusClass.COVID:
        add_ribs(scene, rng, sample_rib_sides(rng))
        irregular = add_pleural_irregularities(scene, rng) if rng.random() < 0.8 else []
        add_b_lines(scene, rng)
        if rng.random() < 0.5:
            add_subpleural_consolidations(scene, rng, irregular)
    else:
        effusion_side = str(rng.choice(["left", "right"])) if rng.random() < 0.65 else None
        add_ribs(scene, rng, sample_rib_sides(rng, avoid=effusion_side))
        region = add_lobar_consolidation(scene, rng)
        if rng.random() < 0.85:
            add_air_bronchograms(scene, rng, region)
        if effusion_side is not None:
            add_effusion(scene, rng, effusion_side)
    draw_pleura(scene)
    return scene


def render_phantom(
    label: LusClass, seed: int, *, size: int = 256, seconds: float = 2.0, fps: float = 15.0
) -> PhantomVideo:
    """Render one phantom video of ``label`` with its ground-truth masks.

    Args:
        label: healthy, COVID-19 or bacterial pneumonia (the classes with a known pattern set).
        seed: any integer; the same seed (and arguments) always gives the same video.
        size: side of the square frames in pixels.
        seconds: length of the clip; at least one frame is rendered.
        fps: frame rate; lung sliding is sampled at this rate.

    Raises:
        ValueError: for a class the phantom cannot show or out-of-range sizes and rates.
    """
    if label not in CLASS_PATTERNS:
        raise ValueError(
            f"The phantom cannot show {LusClass(label).label!r}; choose healthy, COVID-19 or "
            "bacterial pneumonia."
        )
    if not SIZE_RANGE[0] <= size <= SIZE_RANGE[1]:
        raise ValueError(f"Phantom size must be {SIZE_RANGE[0]}-{SIZE_RANGE[1]} pixels, not {size}.")
    if not (math.isfinite(seconds) and math.isfinite(fps)) or seconds <= 0 or fps <= 0:
        raise ValueError("Phantom length and frame rate must be positive.")
    rng = np.random.default_rng(seed)
    geometry = sample_geometry(rng, size)
    scene = build_scene(label, rng, geometry.n_depth, geometry.n_beams)
    maps = scan_maps(geometry)
    renderer = Renderer(scene, rng, fps=fps)
    count = max(1, round(seconds * fps))
    frames = np.empty((count, size, size, 3), dtype=np.uint8)
    labels = np.empty((count, size, size), dtype=np.uint16)
    for index in range(count):
        image, packed = renderer.frame(index)
        cv2.cvtColor(fan_out(image, maps, nearest=False), cv2.COLOR_GRAY2BGR, dst=frames[index])
        labels[index] = fan_out(packed, maps, nearest=True)
    seen = int(np.bitwise_or.reduce(labels, axis=None))
    present = tuple(p for bit, p in enumerate(Pattern) if p in LUNG_PATTERNS and seen >> bit & 1)
    return PhantomVideo(
        frames=frames,
        labels=labels,
        sector=sector_mask(maps),
        crop=geometry.bounding_square(),
        fps=float(fps),
        label=label,
        seed=seed,
        patterns=present,
    )


def write_video(phantom: PhantomVideo, path: Path | str) -> Path:
    """Encode the frames (``.mp4``: H.264 that browsers play, ``.avi``: MJPG) and return the path.

    Raises:
        ValueError: for another file extension.
        OSError: when OpenCV has no MJPG writer on this machine.
    """
    target = Path(path)
    codec = CODECS.get(target.suffix.lower())
    if codec is None:
        raise ValueError(f"Phantoms are written as {' or '.join(CODECS)}, not {target.suffix!r}.")
    if target.suffix.lower() == ".mp4":
        return write_h264(phantom.frames, phantom.fps, target)
    height, width = phantom.frames.shape[1:3]
    writer = cv2.VideoWriter(str(target), cv2.VideoWriter.fourcc(*codec), phantom.fps, (width, height))
    if not writer.isOpened():
        raise OSError(f"OpenCV cannot write {codec} video to {target.name}.")
    try:
        for frame in phantom.frames:
            writer.write(frame)
    finally:
        writer.release()
    return target
