"""The phantom's anatomy in beam coordinates: chest wall, ribs, pleural line and aerated lung.

Rows are depth samples (0 = probe face), columns are beams. Echo values are linear reflectivities
(about 1 = bright tissue) that :mod:`seed_data.phantom` later multiplies by speckle. Everything below
the pleura lives on a *lung canvas* that is :data:`PAD` beams wider on each side, because the lung
slides sideways under the static chest wall while the patient breathes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from reviewer.vocab import Pattern
from seed_data.geometry import BoolArray, FloatArray

#: Extra beams on each side of the lung canvas; must exceed the largest slide.
PAD = 8
#: Depth of the pleural line as a fraction of the imaged depth (adult chest wall on a convex probe).
PLEURA_DEPTH = (0.17, 0.26)
#: Rows between the chest wall and the pleural line where the lung canvas takes over.
PLEURA_MARGIN = 3.0
#: How much of a rib's acoustic shadow gets through (about -18 dB).
RIB_SHADOW_LEVEL = 0.12


@dataclass
class Scene:
    """Mutable drawing of one phantom: static chest wall plus a sliding lung canvas."""

    n_depth: int
    n_beams: int
    tissue: FloatArray
    shadow: FloatArray
    lung: FloatArray
    pleura_row: FloatArray
    pleura_sigma: FloatArray
    pleura_amp: FloatArray
    free: tuple[int, int] = (0, 0)
    fluid: BoolArray = field(init=False)
    masks: dict[Pattern, BoolArray] = field(default_factory=dict)
    lung_masks: dict[Pattern, BoolArray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.fluid = np.zeros((self.n_depth, self.n_beams), dtype=np.bool_)

    @property
    def rows(self) -> FloatArray:
        """Depth row of every canvas row, as a column vector for broadcasting."""
        return np.arange(self.n_depth, dtype=np.float32)[:, None]

    @property
    def static_pleura(self) -> FloatArray:
        """Pleural depth per static beam (the lung canvas without its padding)."""
        return self.pleura_row[PAD : PAD + self.n_beams]

    def pleura_mask(self) -> BoolArray:
        """The pleural line on the lung canvas: what irregularities and B-lines are anchored to."""
        return np.asarray(np.abs(self.rows - self.pleura_row) <= 2.0 * self.pleura_sigma + 0.5)

    def lung_region(self) -> BoolArray:
        """Static rows that show the sliding lung canvas rather than the chest wall."""
        return np.asarray(self.rows >= self.static_pleura - PLEURA_MARGIN)


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], sigma: tuple[float, float]) -> FloatArray:
    """Zero-mean, unit-variance Gaussian noise blurred by ``sigma = (rows, beams)``.

    Used for every slow variation (layer waviness, texture, brightness) so that nothing in the
    phantom is perfectly regular.
    """
    noise = rng.standard_normal(shape, dtype=np.float32)
    blurred = cv2.GaussianBlur(noise, (0, 0), sigmaX=max(sigma[1], 0.1), sigmaY=max(sigma[0], 0.1))
    std = float(blurred.std())
    return np.asarray(blurred / std if std > 0 else blurred, dtype=np.float32)


def db(level: float) -> float:
    """Echo amplitude of a level in decibels below full white; the display maps 0 dB to white."""
    return float(10.0 ** (level / 20.0))


def sigmoid(x: npt.NDArray[np.floating[Any]]) -> FloatArray:
    """Smooth 0-to-1 step (tanh form, so large arguments cannot overflow)."""
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * x)), dtype=np.float32)


def band(rows: FloatArray, centre: FloatArray, sigma: float | FloatArray) -> FloatArray:
    """Gaussian line profile across depth: the shape of every specular reflector."""
    return np.asarray(np.exp(-0.5 * ((rows - centre) / sigma) ** 2), dtype=np.float32)


def new_scene(rng: np.random.Generator, n_depth: int, n_beams: int) -> Scene:
    """An empty scene with a sampled pleural line and a hazy, aerated lung below it."""
    wide = n_beams + 2 * PAD
    cols = np.arange(wide, dtype=np.float32) / wide - 0.5
    depth = float(rng.uniform(*PLEURA_DEPTH)) * n_depth
    tilt = float(rng.uniform(-0.05, 0.05)) * n_depth
    wave = smooth_noise(rng, (1, wide), (0.1, wide / 8))[0]
    pleura_row = (depth + tilt * cols + 0.8 * wave).astype(np.float32)
    texture = smooth_noise(rng, (1, wide), (0.1, 1.6))[0]
    pleura_amp = (db(float(rng.uniform(-2, 2))) * np.clip(0.8 + 0.3 * texture, 0.3, 1.4)).astype(np.float32)
    pleura_sigma = np.full(wide, float(rng.uniform(0.9, 1.3)), dtype=np.float32)
    scene = Scene(
        n_depth=n_depth,
        n_beams=n_beams,
        tissue=np.zeros((n_depth, n_beams), dtype=np.float32),
        shadow=np.ones((n_depth, n_beams), dtype=np.float32),
        lung=np.zeros((n_depth, wide), dtype=np.float32),
        pleura_row=pleura_row,
        pleura_sigma=pleura_sigma,
        pleura_amp=pleura_amp,
    )
    haze = db(float(rng.uniform(-32, -27))) * np.clip(
        1 + 0.3 * smooth_noise(rng, (n_depth, wide), (5, 3)), 0.3, 2
    )
    scene.lung[:] = np.where(scene.rows >= pleura_row, haze, 0.0)
    return scene


def add_chest_wall(scene: Scene, rng: np.random.Generator) -> None:
    """Skin, subcutaneous fat with septa, striated muscle and fasciae above the pleura.

    These are the off-target structures a poor heatmap lights up, so each gets a mask too.
    """
    rows, pleura, n = scene.rows, scene.static_pleura, scene.n_beams
    wobble = smooth_noise(rng, (1, n), (0.1, n / 10))[0]
    skin = np.full(n, float(rng.uniform(0.012, 0.02)) * scene.n_depth, dtype=np.float32)
    fat = skin + (pleura - skin) * float(rng.uniform(0.25, 0.45)) + 1.2 * wobble
    muscle = pleura - PLEURA_MARGIN - float(rng.uniform(1.5, 3.5))
    striation = np.clip(1 + 0.35 * smooth_noise(rng, (scene.n_depth, n), (1.0, 6)), 0.3, 2)
    septa = sum(
        band(rows, skin + (fat - skin) * float(rng.uniform(0.2, 0.8)) + wobble * float(rng.normal()), 0.7)
        for _ in range(int(rng.integers(1, 4)))
    )
    layers = [
        (rows < skin, db(-6)),
        ((rows >= skin) & (rows < fat), db(-36) + db(-18) * septa),
        ((rows >= fat) & (rows < muscle), db(-27) * striation),
        ((rows >= muscle) & (rows < pleura - PLEURA_MARGIN), db(-30)),
    ]
    for region, echo in layers:
        scene.tissue[:] = np.where(region, echo, scene.tissue)
    fasciae = db(-14) * band(rows, fat, 0.8) + db(-20) * band(rows, muscle, 0.8)
    scene.tissue += fasciae * (rows < pleura - PLEURA_MARGIN)
    scene.masks[Pattern.SKIN] = np.asarray(rows < skin)
    scene.masks[Pattern.FAT] = np.asarray((rows >= skin) & (rows < fat))
    scene.masks[Pattern.MUSCLE] = np.asarray((rows >= fat) & (rows < muscle))


def add_ribs(scene: Scene, rng: np.random.Generator, sides: tuple[str, ...]) -> None:
    """Ribs at the fan's edges: a bright curved cortex with a full acoustic shadow below it.

    The intercostal window left between them (``scene.free``) is where lung patterns are placed,
    as a sonographer would centre the pleura between two ribs (the "bat sign").
    """
    n = scene.n_beams
    beams = np.arange(n, dtype=np.float32)
    lo, hi = 2, n - 3
    for side in sides:
        half = float(rng.uniform(0.06, 0.09)) * n
        offset = float(rng.uniform(0.05, 0.14)) * n
        centre = offset if side == "left" else n - 1 - offset
        top = float(scene.static_pleura[int(centre)]) - float(rng.uniform(0.025, 0.045)) * scene.n_depth
        surface = top + 3.0 * ((beams - centre) / half) ** 2
        lateral = sigmoid((half - np.abs(beams - centre)) / 0.8)
        below = sigmoid((scene.rows - surface - 1.5) / 0.7)
        scene.shadow *= 1.0 - (1.0 - RIB_SHADOW_LEVEL) * lateral * below
        scene.tissue += band(scene.rows, surface, 1.3) * lateral
        if side == "left":
            lo = max(lo, int(np.ceil(centre + half)) + 3)
        else:
            hi = min(hi, int(np.floor(centre - half)) - 3)
    scene.free = (lo, hi)
    scene.masks[Pattern.RIB_SHADOW] = np.asarray(scene.shadow < 0.5)


def draw_pleura(scene: Scene) -> None:
    """Add the pleural line last, so irregularities drawn by patterns are already in its profile."""
    scene.lung += scene.pleura_amp * band(scene.rows, scene.pleura_row, scene.pleura_sigma)


def sample_rib_sides(rng: np.random.Generator, *, avoid: str | None = None) -> tuple[str, ...]:
    """Zero, one or two ribs in view; never on the side an effusion will occupy."""
    count = int(rng.choice([0, 1, 2], p=[0.15, 0.35, 0.5]))
    sides = [side for side in ("left", "right") if side != avoid]
    chosen = rng.permutation(sides)[: min(count, len(sides))]
    return tuple(str(side) for side in sorted(chosen))
