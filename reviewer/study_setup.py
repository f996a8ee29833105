"""Blinded study set-up: which videos, in which order, which heatmap on which side.

Every expert sees the same videos in their own random order, each with the train- and the test-CAM
placed left or right at random but counterbalanced, so that a preference for one side of the screen
cannot pass for a preference for one CAM type. Orders, sides and hidden re-reads come from a
generator seeded by (study seed, expert id): the same inputs always give the same lists.

This module creates studies and is the one place other code imports study services from: planning
(:mod:`reviewer.study_plan`), video choice (:mod:`reviewer.study_videos`), states and the key
(:mod:`reviewer.study_states`) and the admin overview (:mod:`reviewer.study_admin`) live beside it.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Mapping, Sequence

from sqlalchemy import func
from sqlmodel import Session, col, select

from db.models import ModelRun, Study, StudyExpert, StudyItem, User
from reviewer.audit import record
from reviewer.stats_data import other_kind
from reviewer.study_admin import BalanceRow, balance_report
from reviewer.study_base import KINDS, StudyError, id_list, require_admin, row_id
from reviewer.study_plan import PlannedItem, plan_items
from reviewer.study_states import KeyEntry, close_study, open_study, study_key
from reviewer.study_videos import CamPair, VideoSelection, cam_pairs, is_blind, select_videos
from reviewer.users import can
from reviewer.vocab import Role, RunStatus

__all__ = [
    "KINDS",
    "BalanceRow",
    "KeyEntry",
    "StudyError",
    "balance_report",
    "cam_pairs",
    "close_study",
    "create_study",
    "is_blind",
    "open_study",
    "plan_items",
    "row_id",
    "study_key",
]

MAX_NAME = 128
MAX_REREAD_SHARE = 0.5  # mirrors the CHECK constraint on studies.reread_share
DEFAULT_WASHOUT = 5  # items between a video and its hidden re-read, unless the admin chooses otherwise


def create_study(
    *,
    session: Session,
    name: str,
    run_id: int,
    expert_ids: Sequence[int],
    reference_expert_id: int | None,
    video_selection: VideoSelection = "correct",
    reread_share: float = 0.0,
    washout: int = DEFAULT_WASHOUT,
    seed: int = 0,
    actor_id: int | None,
) -> Study:
    """Create a draft study with every expert's shuffled, counterbalanced list.

    Everything is validated and planned before the first row is written, so a refusal leaves
    nothing behind.

    Args:
        session: The caller's unit of work.
        name: Unique (case-insensitively) study name.
        run_id: A finished model run whose CAMs are judged.
        expert_ids: Users with role expert or admin; each gets the same videos in their own order.
        reference_expert_id: One of ``expert_ids``; their "patterns visible" answers are ground truth
            (None, as an unfilled form sends it, is refused like any outsider).
        video_selection: "correct" (the paper's choice: videos the ensemble classified correctly),
            "all" (every video with both CAMs) or a list of video ids of the run.
        reread_share: Share of videos shown a second time near the end (0 to 0.5).
        washout: Least number of other items between a video and its re-read.
        seed: Seeds every expert's generator together with the expert's id.
        actor_id: The administrator acting; None only for the command line.
    """
    require_admin(session, actor_id)
    clean_name = _check_name(session, name)
    _check_run(session, run_id)
    experts = _check_experts(session, expert_ids, reference_expert_id)
    _check_numbers(reread_share=reread_share, washout=washout, seed=seed)
    videos = select_videos(session, run_id, video_selection)
    pairs = cam_pairs(session=session, run_id=run_id, video_ids=videos)
    plans = {
        e: plan_items(videos, seed=seed, expert_id=e, reread_share=reread_share, washout=washout)
        for e in experts
    }
    study = Study(
        name=clean_name,
        run_id=run_id,
        reference_expert_id=reference_expert_id,
        seed=seed,
        reread_share=reread_share,
        washout=washout,
        created_by_id=actor_id,
    )
    session.add(study)
    session.flush()
    for expert_id, plan in plans.items():
        session.add(StudyExpert(study_id=row_id(study), user_id=expert_id))
        _add_items(session, study, expert_id, plan, pairs)
    record(
        session=session,
        action="study.create",
        entity="study",
        entity_id=study.id,
        user_id=actor_id,
        name=clean_name,
        run_id=run_id,
        experts=experts,
        reference_expert_id=reference_expert_id,
        videos=videos,
        reread_share=reread_share,
        washout=washout,
        seed=seed,
    )
    return study


def _check_name(session: Session, name: str) -> str:
    clean = name.strip()
    if not 0 < len(clean) <= MAX_NAME:
        raise StudyError(f"A study name needs 1 to {MAX_NAME} characters.")
    taken = select(Study.id).where(func.lower(Study.name) == clean.lower())
    if session.exec(taken).first() is not None:
        raise StudyError(f"A study named {clean!r} already exists; choose another name.")
    return clean


def _check_run(session: Session, run_id: int) -> None:
    run = session.get(ModelRun, run_id)
    if run is None:
        raise StudyError(f"Model run {run_id} does not exist.")
    if run.status != RunStatus.DONE.value:
        raise StudyError(f"Model run {run_id} is {run.status}; only finished runs can be studied.")


def _check_experts(session: Session, expert_ids: Sequence[int], reference_expert_id: int | None) -> list[int]:
    ids = sorted(set(expert_ids))
    if not ids:
        raise StudyError("Choose at least one expert.")
    users = {u.id: u for u in session.exec(select(User).where(col(User.id).in_(ids)))}
    unfit = [i for i in ids if (u := users.get(i)) is None or not u.active or not can(u, Role.EXPERT)]
    if unfit:
        raise StudyError(f"User(s) {id_list(unfit)} cannot take part: unknown, inactive or not an expert.")
    if reference_expert_id not in ids:
        raise StudyError("The reference expert must be one of the study's experts.")
    return ids


def _check_numbers(*, reread_share: float, washout: int, seed: int) -> None:
    if not (math.isfinite(reread_share) and 0 <= reread_share <= MAX_REREAD_SHARE):
        raise StudyError(f"The re-read share must lie between 0 and {MAX_REREAD_SHARE}.")
    if isinstance(washout, bool) or not isinstance(washout, int) or washout < 0:
        raise StudyError("The washout must be a whole number of items, 0 or more.")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise StudyError("The seed must be a whole number, 0 or more.")


def _add_items(
    session: Session,
    study: Study,
    expert_id: int,
    plan: Sequence[PlannedItem],
    pairs: Mapping[int, CamPair],
) -> None:
    items = [
        StudyItem(
            study_id=row_id(study),
            expert_id=expert_id,
            video_id=planned.video_id,
            position=position,
            left_kind=planned.left_kind,
            left_asset_id=pairs[planned.video_id][planned.left_kind].id,
            right_asset_id=pairs[planned.video_id][other_kind(planned.left_kind)].id,
            token=secrets.token_hex(16),  # hex never spells "train" or "test"
        )
        for position, planned in enumerate(plan)
    ]
    session.add_all(items)
    session.flush()
    for item, planned in zip(items, plan, strict=True):
        if planned.reread_of is not None:
            item.reread_of_id = items[planned.reread_of].id
