"""The staged progress model of a screening: which stages it runs, and one bar for the whole job.

Screening takes about a minute on a small server, so it reports ``(stage, step, total)`` as it goes:
a :class:`Stage` (its value is the plain-language text a user sees) and which of the stage's
``total`` steps is starting. :func:`progress_state` turns a report into one bar for the whole job.
"""

from __future__ import annotations

from enum import StrEnum

from reviewer.run_uncertainty import PASSES


class Stage(StrEnum):
    """The stages of a screening, in order; each value is what the user reads while it runs."""

    LOADING = "Loading the model"
    PREPARING = "Decoding and preparing the frames"
    MODEL = "Running the model"
    HEATMAP = "Rendering the heatmap video"
    STABILITY = "Checking stability under small image changes"


STAGE_STEPS = {
    Stage.LOADING: 1,
    Stage.PREPARING: 1,
    Stage.MODEL: 1,
    Stage.HEATMAP: 1,
    Stage.STABILITY: PASSES,
}
"""Steps of each stage; one step is roughly one trunk pass, the unit that dominates the wait.
Loading is reported by the caller that loads (and caches) the :class:`RunModel`, not by screening."""


def progress_state(stage: str, step: int, total: int) -> tuple[float, str]:
    """Turn a ``(stage, step, total)`` report into the fraction of the whole job done and a label.

    One bar over all stages, weighted by :data:`STAGE_STEPS`, so it only ever moves forward and a
    busy user can judge the remaining wait; per-stage bars would refill from zero four times.
    """
    current = Stage(stage)
    stages = list(Stage)
    before = sum(STAGE_STEPS[s] for s in stages[: stages.index(current)])
    done = before + STAGE_STEPS[current] * (step - 1) / max(total, 1)
    label = f"{current.value} ({step} of {total})…" if total > 1 else f"{current.value}…"
    return done / sum(STAGE_STEPS.values()), label
