"""Blinded study set-up: which videos, in which order, which heatmap on which side.

Every expert sees the same videos in their own random order, each with the train- and the test-CAM
placed left or right at random but counterbalanced, so that a preference for one side of the screen
cannot pass for a preference for one CAM type. Orders, sides and hidden re-reads come from a
generator seeded by (study seed, expert id): the same inputs always give the same lists.

This module creates studies and is the one place other code imports study services from: planning
(:mod:`reviewer.study_plan`), video choice (:mod:`reviewer.study_videos`), states and the key
(:mod:`reviewer.study_states`), the experts' instructions (:mod:`reviewer.study_description`) and the
admin overview (:mod:`reviewer.study_admin`) live beside it.
"""

from __future__ import annotations

import math
import secrets
import unicodedata
from collections.abc import Mapping, Sequence

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from db.models import ModelRun, Study, StudyExpert, StudyItem, User
from reviewer.audit import record
from reviewer.stats_data import other_kind
from reviewer.study_admin import BalanceRow, balance_report
from reviewer.study_base import KINDS, MAX_SEED, StudyError, id_list, require_admin, row_id
from reviewer.study_description import MAX_DESCRIPTION, clean_description, set_description
from reviewer.study_plan import PlannedItem, plan_items
from reviewer.study_states import KeyEntry, close_study, open_study, study_key
from reviewer.study_videos import CamPair, VideoSelection, cam_pairs, is_blind, select_videos
from reviewer.users import can
from reviewer.vocab import Role, RunStatus

__all__ = [
    "KINDS",
    "MAX_DESCRIPTION",
    "MAX_SEED",
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
    "set_description",
    "study_key",
]

MAX_NAME = 128
MAX_REREAD_SHARE = 0.5  # mirrors the CHECK constraint on studies.reread_share
DEFAULT_WASHOUT = 5  # items between a video and its hidden re-read, unless the admin chooses otherwise
MAX_WASHOUT = 1000  # more items than any reading session holds; larger values are typing slips


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
    description: str = "",
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
        reference_expert_id: One of ``expert_ids`` (None is refused); their "patterns visible" are truth.
        video_selection: "correct" (the paper's: videos classified correctly), "all" or video ids.
        reread_share: Share of videos shown a second time near the end (0 to 0.5).
        washout: Least number of other items between a video and its re-read.
        seed: Seeds every expert's generator together with the expert's id.
        description: Instructions the experts read above the study (stripped; at most
            ``MAX_DESCRIPTION`` characters).
        actor_id: The administrator acting; None only for the command line.
    """
    require_admin(session, actor_id)
    study = Study(
        name=name.strip(),
        description=clean_description(description),
        run_id=run_id,
        reference_expert_id=reference_expert_id,
        seed=seed,
        reread_share=reread_share,
        washout=washout,
        created_by_id=actor_id,
    )
    _check_study(session, study)
    experts = _check_experts(session, expert_ids, reference_expert_id)
    videos = select_videos(session, run_id, video_selection)
    plans = {e: _plan(study, videos, e) for e in experts}  # a refusal here comes before any write
    _store(session, study, plans, cam_pairs(session=session, run_id=run_id, video_ids=videos))
    _audit_creation(session, study, experts=experts, videos=videos, actor_id=actor_id)
    return study


def _plan(study: Study, videos: Sequence[int], expert_id: int) -> list[PlannedItem]:
    """One expert's list from the study's seed, re-read share and washout."""
    return plan_items(
        videos, seed=study.seed, expert_id=expert_id, reread_share=study.reread_share, washout=study.washout
    )


def _store(
    session: Session, study: Study, plans: Mapping[int, Sequence[PlannedItem]], pairs: Mapping[int, CamPair]
) -> None:
    """Write the checked study, its experts and every expert's planned items."""
    _insert_study(session, study)
    for expert_id, plan in plans.items():
        session.add(StudyExpert(study_id=row_id(study), user_id=expert_id))
        _add_items(session, study, expert_id, plan, pairs)


def _insert_study(session: Session, study: Study) -> None:
    """Insert the study row, refusing a name another admin took after :func:`_check_name` looked.

    Two admins creating "Pilot" and "pilot" at once both pass the check; the database's unique
    indexes stop the later insert. Inside a savepoint the clash is rolled back on its own, so the name
    can be looked up again and refused with the check's own message; anything else is raised as is.
    """
    try:
        with session.begin_nested():
            session.add(study)
            session.flush()
    except IntegrityError as exc:
        try:
            _check_name(session, study.name)
        except StudyError as taken:
            raise taken from exc
        raise


def _audit_creation(
    session: Session, study: Study, *, experts: Sequence[int], videos: Sequence[int], actor_id: int | None
) -> None:
    """Everything the lists were built from, so that the same study can be rebuilt and checked."""
    record(
        session=session,
        action="study.create",
        entity="study",
        entity_id=study.id,
        user_id=actor_id,
        name=study.name,
        description=study.description,
        run_id=study.run_id,
        experts=list(experts),
        reference_expert_id=study.reference_expert_id,
        videos=list(videos),
        reread_share=study.reread_share,
        washout=study.washout,
        seed=study.seed,
    )


def _check_study(session: Session, study: Study) -> None:
    """Refuse a study whose name, run or numbers are unfit, before anything is written."""
    _check_name(session, study.name)
    _check_run(session, study.run_id)
    _check_numbers(reread_share=study.reread_share, washout=study.washout, seed=study.seed)


def _check_name(session: Session, clean: str) -> None:
    if not 0 < len(clean) <= MAX_NAME:
        raise StudyError(f"A study name needs 1 to {MAX_NAME} characters.")
    # Compared folded here, because SQLite's lower(), behind the unique index, folds ASCII letters only
    # ("Ärzte" and "ärzte" would both pass it). SQLite writers are serialised from BEGIN IMMEDIATE, so
    # no rival commits between this check and the insert; on PostgreSQL the index (lower() there folds
    # every letter) stops a rival's insert.
    key = _name_key(clean)
    if any(_name_key(taken) == key for taken in session.exec(select(Study.name))):
        raise StudyError(f"A study named {clean!r} already exists; choose another name.")


def _name_key(name: str) -> str:
    """What two study names must not share: the same letters whatever their case or Unicode form."""
    return unicodedata.normalize("NFKC", name).casefold()


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
    if not _whole(washout, MAX_WASHOUT):
        raise StudyError(f"The washout must be a whole number of items from 0 to {MAX_WASHOUT}.")
    if not _whole(seed, MAX_SEED):
        raise StudyError(f"The seed must be a whole number from 0 to {MAX_SEED}.")


def _whole(value: object, most: int) -> bool:
    """True for an int (not a bool) in 0..``most``."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= most


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
