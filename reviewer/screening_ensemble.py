"""Load a finished run's ensemble for screening: the trunk rebuilt from its config, and its fold heads.

Loading is a step of its own: pages load a run once and cache the :class:`RunModel` across
screenings, reporting the :attr:`~reviewer.screening_progress.Stage.LOADING` stage themselves.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlmodel import Session

from db.models import ModelRun
from reviewer.cam_assets import load_heads
from reviewer.run_uncertainty import run_trunk
from reviewer.settings import Settings
from reviewer.training import TrainConfig, run_config
from reviewer.vocab import RunStatus


class ScreeningError(ValueError):
    """A run or file that cannot be screened; the message is safe to show."""


@dataclasses.dataclass(frozen=True)
class RunModel:
    """A finished run's trunk and fold heads, loaded once (pages cache it per run)."""

    run_id: int
    config: TrainConfig
    trunk: Any
    heads: list[Any]


def load_run_model(*, session: Session, settings: Settings, run_id: int) -> RunModel:
    """Rebuild a finished run's trunk and load its fold heads.

    Raises:
        ScreeningError: the run does not exist, has not finished, or its weights are gone.
    """
    run = session.get(ModelRun, run_id)
    if run is None or run.status != RunStatus.DONE.value:
        raise ScreeningError(f"Run {run_id} does not exist or has not finished training.")
    config = run_config(run)
    try:
        heads = load_heads(settings, run, config)
    except (OSError, ValueError) as exc:
        raise ScreeningError(f"The weights of run {run_id} are missing; train it again.") from exc
    return RunModel(run_id=run_id, config=config, trunk=run_trunk(config), heads=heads)
