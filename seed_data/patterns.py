"""The sonographic patterns of each class, drawn into a :class:`~seed_data.anatomy.Scene`.

Healthy lungs show A-lines; COVID-19 shows B-lines, an irregular pleural line and small subpleural
consolidations; bacterial pneumonia shows a large hepatised consolidation with air bronchograms and a
pleural effusion. Sizes, positions and counts are drawn per seed, and the optional findings are only
sometimes present, so that a classifier has to look at the patterns rather than at one fixed spot.
"""

from __future__ import annotations

import cv2
import numpy as np

from reviewer.vocab import Pattern
from seed_data.anatomy import PAD, Scene, band, db, smooth_noise
from seed_data.geometry import BoolArray, FloatArray

#: Faintest reverberation still drawn as an A-line (about -32 dB, near the lung haze).
A_LINE_FLOOR = 0.025
#: Closest two B-lines may be, in beams.
B_LINE_SPACING = 7.0
#: Rows between a fluid boundary and the bright reflector that outlines it (just outside the fluid).
EDGE_OFFSET = 2.0
#: Beams kept clear of rib shadows on each side of the intercostal window, so sliding never hides a pattern.
SLIDE_MARGIN = PAD + 2


def _lung_columns(scene: Scene) -> FloatArray:
    return np.arange(scene.lung.shape[1], dtype=np.float32)


def _free_positions(scene: Scene, rng: np.random.Generator, count: int, spacing: float) -> list[float]:
    """Up to ``count`` lung-canvas columns inside the intercostal window, at least ``spacing`` apart."""
    lo, hi = scene.free[0] + PAD + SLIDE_MARGIN, scene.free[1] + PAD - SLIDE_MARGIN
    chosen: list[float] = []
    for _ in range(20 * count):
        candidate = float(rng.uniform(lo, max(lo + 1, hi)))
        if all(abs(candidate - other) >= spacing for other in chosen):
            chosen.append(candidate)
        if len(chosen) == count:
            break
    return sorted(chosen)


def add_a_lines(scene: Scene, rng: np.random.Generator) -> None:
    """Reverberations of the pleura at whole multiples of its depth, fading with each bounce.

    They do not slide: the sound path probe-pleura-probe stays the same while the lung moves.
    """
    rows, pleura = scene.rows, scene.static_pleura
    sigma = 1.2 * scene.pleura_sigma[PAD : PAD + scene.n_beams]
    texture = np.clip(0.85 + 0.25 * smooth_noise(rng, (1, scene.n_beams), (0.1, 6))[0], 0.4, 1.3)
    level, decay = db(float(rng.uniform(-16, -10))), db(-float(rng.uniform(3, 6)))
    mask = np.zeros_like(scene.fluid)
    bounce = 2
    while level >= A_LINE_FLOOR and float(pleura.min()) * bounce < scene.n_depth - 2:
        centre = pleura * bounce
        scene.tissue += level * texture * band(rows, centre, sigma)
        mask |= np.abs(rows - centre) <= 2.0 * sigma + 0.5
        level *= decay
        bounce += 1
    scene.masks[Pattern.A_LINES] = mask & (scene.shadow >= 0.5)


def add_b_lines(scene: Scene, rng: np.random.Generator) -> None:
    """Laser-like vertical comet tails from the pleura to the bottom that move with lung sliding."""
    rows, cols, pleura = scene.rows, _lung_columns(scene), scene.pleura_row
    below = rows >= pleura
    fade = 1.0 - 0.3 * np.clip((rows - pleura) / (scene.n_depth - pleura), 0, 1)
    streaks = np.clip(1 + 0.35 * smooth_noise(rng, scene.lung.shape, (14, 0.8)), 0.4, 1.8)
    confluent = rng.random() < 0.25
    mask = np.zeros(scene.lung.shape, dtype=np.bool_)
    for number, centre in enumerate(_free_positions(scene, rng, int(rng.integers(1, 5)), B_LINE_SPACING)):
        width = float(rng.uniform(5.0, 9.0) if confluent and number == 0 else rng.uniform(1.2, 2.6))
        profile = np.exp(-0.5 * ((cols - centre) / width) ** 2)
        scene.lung += db(float(rng.uniform(-13, -7))) * profile * fade * streaks * below
        mask |= (np.abs(cols - centre) <= 2.0 * width) & below
    scene.lung_masks[Pattern.B_LINES] = mask


def add_pleural_irregularities(scene: Scene, rng: np.random.Generator) -> list[float]:
    """Thickened, fragmented, wavy stretches of the pleural line; returns their centres.

    Only the line's profile is changed here; :func:`~seed_data.anatomy.draw_pleura` draws it.
    """
    cols = _lung_columns(scene)
    wide = scene.lung.shape[1]
    centres = _free_positions(scene, rng, int(rng.integers(1, 3)), 0.15 * scene.n_beams)
    segment = np.zeros(wide, dtype=np.bool_)
    for centre in centres:
        segment |= np.abs(cols - centre) <= float(rng.uniform(0.03, 0.07)) * scene.n_beams
    gaps = smooth_noise(rng, (1, wide), (0.1, 1.5))[0] > 0.5
    wave = smooth_noise(rng, (1, wide), (0.1, 1.5))[0] * float(rng.uniform(1.0, 2.5))
    scene.pleura_sigma[segment] *= float(rng.uniform(1.8, 2.8))
    scene.pleura_amp[segment & gaps] *= 0.15
    scene.pleura_row[segment] += wave[segment]
    scene.lung_masks[Pattern.PLEURAL_IRREGULAR] = scene.pleura_mask() & segment
    return centres


def add_subpleural_consolidations(scene: Scene, rng: np.random.Generator, anchors: list[float]) -> None:
    """Small hypoechoic patches hanging from the pleura, often under an irregular stretch of it."""
    rows, cols, pleura = scene.rows, _lung_columns(scene), scene.pleura_row
    count = int(rng.integers(1, 3))
    centres = (anchors + _free_positions(scene, rng, count, 0.1 * scene.n_beams))[:count]
    texture = np.clip(1 + 0.3 * smooth_noise(rng, scene.lung.shape, (1.5, 1.5)), 0.4, 1.8)
    mask = np.zeros(scene.lung.shape, dtype=np.bool_)
    for centre in centres:
        half = float(rng.uniform(0.025, 0.05)) * scene.n_beams
        depth = float(rng.uniform(0.04, 0.09)) * scene.n_depth
        lateral = np.clip((cols - centre) / half, -1, 1)
        edge = (
            depth
            * np.sqrt(1 - lateral**2)
            * np.clip(1 + 0.2 * smooth_noise(rng, (1, cols.size), (0.1, 2))[0], 0.5, 1.5)
        )
        region = (np.abs(cols - centre) < half) & (rows >= pleura) & (rows <= pleura + edge)
        scene.lung[:] = np.where(region, db(-22) * texture, scene.lung)
        scene.lung += db(-8) * band(rows, pleura + edge, 1.0) * (np.abs(cols - centre) < half)
        mask |= region
    scene.lung_masks[Pattern.CONSOLIDATION] = mask


def add_lobar_consolidation(scene: Scene, rng: np.random.Generator) -> BoolArray:
    """A large tissue-like (hepatised) region under the pleura with a shredded deep border."""
    rows, cols, pleura = scene.rows, _lung_columns(scene), scene.pleura_row
    half = float(rng.uniform(0.18, 0.3)) * scene.n_beams
    centre = float(rng.uniform(PAD + half, PAD + scene.n_beams - half))
    lateral = np.clip((cols - centre) / half, -1, 1)
    shred = smooth_noise(rng, (1, cols.size), (0.1, 2.5))[0]
    deep = pleura + float(rng.uniform(0.3, 0.55)) * scene.n_depth * (1 - lateral**2) ** 0.4 + 4.0 * shred
    region = (np.abs(cols - centre) < half) & (rows >= pleura + 1) & (rows <= deep)
    texture = np.clip(1 + 0.35 * smooth_noise(rng, scene.lung.shape, (2.5, 2.5)), 0.3, 2.0)
    scene.lung[:] = np.where(region, db(float(rng.uniform(-23, -19))) * texture, scene.lung)
    fragments = smooth_noise(rng, (1, cols.size), (0.1, 1.5))[0] > -0.3
    floor_weight = (1 - np.abs(lateral) ** 3) * fragments
    scene.lung += db(-6) * band(rows, deep, 1.3) * floor_weight
    scene.lung_masks[Pattern.CONSOLIDATION] = region
    return np.asarray(region, dtype=np.bool_)


def _branch(
    canvas: np.ndarray,
    rng: np.random.Generator,
    start: tuple[float, float],
    angle: float,
    length: float,
    generations: int,
) -> None:
    end = (start[0] + length * np.cos(angle), start[1] + length * np.sin(angle))
    cv2.line(
        canvas,
        (round(start[0]), round(start[1])),
        (round(end[0]), round(end[1])),
        255,
        int(rng.integers(1, 3)),
    )
    if generations > 1:
        for turn in (-1.0, 1.0)[: int(rng.integers(1, 3))]:
            spread = turn * float(rng.uniform(0.3, 0.7))
            _branch(canvas, rng, end, angle + spread, length * float(rng.uniform(0.55, 0.8)), generations - 1)


def add_air_bronchograms(scene: Scene, rng: np.random.Generator, region: BoolArray) -> None:
    """Bright branching lines and dots (air in the bronchi) inside a consolidation."""
    canvas = np.zeros(scene.lung.shape, dtype=np.uint8)
    ys, xs = np.nonzero(region)
    upper = ys <= np.quantile(ys, 0.6)
    for pick in rng.choice(np.flatnonzero(upper), size=int(rng.integers(2, 5))):
        angle = np.pi / 2 + float(rng.uniform(-0.7, 0.7))
        length = float(rng.uniform(0.05, 0.1)) * scene.n_depth
        _branch(canvas, rng, (float(xs[pick]), float(ys[pick])), angle, length, generations=3)
    for pick in rng.choice(ys.size, size=int(rng.integers(5, 14))):
        cv2.circle(canvas, (int(xs[pick]), int(ys[pick])), 1, 255, -1)
    bright = (canvas > 0) & region
    scene.lung += cv2.GaussianBlur(bright.astype(np.float32), (0, 0), 0.6)
    scene.lung_masks[Pattern.AIR_BRONCHOGRAM] = bright


def add_effusion(scene: Scene, rng: np.random.Generator, side: str) -> None:
    """An anechoic crescent of fluid above the diaphragm in a deep lateral corner.

    Fluid hides the lung behind it; below the bright diaphragm lies liver-like tissue, as in a
    basal view, so the dark collection reads as fluid rather than as the edge of the fan.
    """
    rows, n, depth = scene.rows, scene.n_beams, scene.n_depth
    beams = np.arange(n, dtype=np.float32)
    reach = (beams if side == "left" else n - 1 - beams) / (float(rng.uniform(0.3, 0.5)) * n)
    inside = reach < 1
    shallowest = min(float(scene.static_pleura.max()) + float(rng.uniform(0.12, 0.25)) * depth, 0.6 * depth)
    top = shallowest + (depth - shallowest) * reach**2 + smooth_noise(rng, (1, n), (0.1, 4))[0]
    diaphragm = top + float(rng.uniform(0.15, 0.28)) * depth * (1 - reach**2)
    fluid = inside & (rows >= top) & (rows < diaphragm)
    liver = inside & (rows >= diaphragm)
    texture = np.clip(1 + 0.3 * smooth_noise(rng, (depth, n), (2, 2)), 0.4, 1.8)
    scene.fluid |= fluid | liver
    scene.tissue[:] = np.where(fluid, db(-50), np.where(liver, db(-22) * texture, scene.tissue))
    edges = db(-12) * band(rows, top - EDGE_OFFSET, 1.0) + db(-4) * band(rows, diaphragm + EDGE_OFFSET, 1.5)
    scene.tissue += edges * inside
    scene.masks[Pattern.EFFUSION] = fluid & (scene.shadow >= 0.5)
