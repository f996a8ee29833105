"""One expert's list: shuffled videos, counterbalanced heatmap sides and hidden re-reads.

Pure and seeded by (study seed, expert id), so the same inputs always give the same list and a
study can be rebuilt for an audit from its stored seed alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from reviewer.stats_data import other_kind
from reviewer.study_base import KINDS, StudyError


@dataclass(frozen=True, slots=True)
class PlannedItem:
    """One position of an expert's list; ``reread_of`` is the position of the first showing."""

    video_id: int
    left_kind: str
    reread_of: int | None


def plan_items(
    video_ids: Sequence[int], *, seed: int, expert_id: int, reread_share: float, washout: int
) -> list[PlannedItem]:
    """One expert's list: shuffled videos, counterbalanced sides, hidden re-reads near the end.

    Re-reads are inserted among the last ``r`` first showings and repeat only videos shown early
    enough that at least ``washout`` other items lie in between. Their sides are a second balanced
    draw whose odd one out offsets the first, so the whole list stays balanced within +-1 too.
    """
    rng = np.random.default_rng([seed, expert_id])
    order = [int(v) for v in rng.permutation(sorted(video_ids))]
    n = len(order)
    rereads = 0 if reread_share == 0 else max(1, round(reread_share * n))
    room = max(n - rereads - washout + 1, 0)  # first showings that may be repeated
    if rereads > room:
        raise StudyError(
            f"{n} videos are too few for {rereads} re-reads after a washout of {washout}; "
            "lower the re-read share or the washout."
        )
    originals = rng.choice(room, size=rereads, replace=False)
    after = rng.integers(n - rereads, n, size=rereads)  # re-read j follows first showing after[j]
    ties = rng.random(rereads)
    spare = KINDS[int(rng.integers(len(KINDS)))]
    first_sides = _balanced_sides(n, spare, rng)
    reread_spare = other_kind(spare) if n % 2 else KINDS[int(rng.integers(len(KINDS)))]
    reread_sides = _balanced_sides(rereads, reread_spare, rng)
    firsts = [((p, 0, 0.0), PlannedItem(order[p], first_sides[p], None)) for p in range(n)]
    repeats = [
        ((int(a), 1, float(t)), PlannedItem(order[int(o)], side, int(o)))
        for o, a, t, side in zip(originals, after, ties, reread_sides, strict=True)
    ]
    # Originals lie before every insertion point, so their positions do not move.
    return [item for _, item in sorted(firsts + repeats, key=lambda entry: entry[0])]


def _balanced_sides(count: int, spare: str, rng: np.random.Generator) -> list[str]:
    kinds = [*KINDS] * (count // 2) + [spare] * (count % 2)
    return [kinds[i] for i in rng.permutation(count)]
