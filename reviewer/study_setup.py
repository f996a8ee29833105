"""Blinded study set-up: which videos, in which order, which heatmap on which side, and the key.

Every expert sees the same videos in their own random order, each with the train- and the test-CAM
placed left or right at random but counterbalanced, so that a preference for one side of the screen
cannot pass for a preference for one CAM type. Orders, sides and hidden re-reads come from a
generator seeded by (study seed, expert id): the same inputs always give the same lists. The key
(which side was which) stays in the database until the study is closed, and then only
administrators and researchers may read it.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
from sqlalchemy import case, func
from sqlmodel import Session, col, select

from db.models import CamAsset, ModelRun, Prediction, Study, StudyExpert, StudyItem, User, Video, utcnow
from reviewer.audit import record
from reviewer.stats_data import other_kind
from reviewer.users import can
from reviewer.vocab import CamKind, Role, RunStatus, StudyState

KINDS = (CamKind.TRAIN.value, CamKind.TEST.value)
MAX_NAME = 128
MAX_REREAD_SHARE = 0.5  # mirrors the CHECK constraint on studies.reread_share
# Each move names the one state it may start from and the rule shown when it may not.
MOVES = {
    StudyState.OPEN: (StudyState.DRAFT, "Only a draft study can be opened"),
    StudyState.CLOSED: (StudyState.OPEN, "Only an open study can be closed"),
}

CamPair = Mapping[str, CamAsset]  # CAM kind -> asset
VideoSelection = Literal["correct", "all"] | list[int]


class HasId(Protocol):
    """Any table row with an integer primary key."""

    id: int | None


class StudyError(ValueError):
    """A study request that cannot be honoured; the message is safe to show."""


@dataclass(frozen=True, slots=True)
class PlannedItem:
    """One position of an expert's list; ``reread_of`` is the position of the first showing."""

    video_id: int
    left_kind: str
    reread_of: int | None


@dataclass(frozen=True, slots=True)
class BalanceRow:
    """The set-up page's check of one expert's list: sides per CAM type and hidden re-reads."""

    expert_id: int
    username: str
    items: int
    train_left: int
    rereads: int

    @property
    def test_left(self) -> int:
        """Items with the test-CAM on the left."""
        return self.items - self.train_left

    @property
    def balanced(self) -> bool:
        """True when each CAM type is on the left in half the items, +-1."""
        return abs(self.train_left - self.test_left) <= 1


@dataclass(frozen=True, slots=True)
class KeyEntry:
    """The unblinded truth about one item, for analysis after the study is closed."""

    item_id: int
    expert_id: int
    position: int
    video_id: int
    left_kind: str
    reread_of_id: int | None

    @property
    def right_kind(self) -> str:
        """The CAM type shown on the right (panel B)."""
        return other_kind(self.left_kind)


def is_blind(asset: CamAsset) -> bool:
    """False when an asset's token or file names contain a CAM type, which would un-blind an expert."""
    names = f"{asset.token} {asset.raw_path} {asset.overlay_path}".lower()
    return not any(kind in names for kind in KINDS)


def cam_pairs(
    *, session: Session, run_id: int, video_ids: Collection[int] | None = None
) -> dict[int, CamPair]:
    """The train- and test-CAM shown for each video of a run, by video id.

    The CAMs must explain the class the ensemble predicted (for correctly classified videos that is
    the label), as in the paper; without a prediction the label's CAMs are used. Study items pin the
    chosen assets' ids when the study is created.
    """
    query = select(CamAsset).where(CamAsset.run_id == run_id)
    if video_ids is not None:
        query = query.where(col(CamAsset.video_id).in_(video_ids))
    found: dict[int, dict[str, dict[str, CamAsset]]] = {}
    for asset in session.exec(query):
        found.setdefault(asset.video_id, {}).setdefault(asset.target_class, {})[asset.kind] = asset
    predicted = _ensemble_predictions(session, run_id)
    labels = _labels(session, found)
    pairs: dict[int, CamPair] = {}
    for video_id, by_target in found.items():
        targets = [t for t in (predicted.get(video_id), labels.get(video_id)) if t is not None]
        complete = [by_target[t] for t in targets if len(by_target.get(t, {})) == len(KINDS)]
        if complete:
            pairs[video_id] = complete[0]
    return pairs


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


def create_study(
    *,
    session: Session,
    name: str,
    run_id: int,
    expert_ids: Sequence[int],
    reference_expert_id: int,
    video_selection: VideoSelection = "correct",
    reread_share: float = 0.0,
    washout: int = 5,
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
        reference_expert_id: One of ``expert_ids``; their "patterns visible" answers are ground truth.
        video_selection: "correct" (the paper's choice: videos the ensemble classified correctly),
            "all" (every video with both CAMs) or a list of video ids of the run.
        reread_share: Share of videos shown a second time near the end (0 to 0.5).
        washout: Least number of other items between a video and its re-read.
        seed: Seeds every expert's generator together with the expert's id.
        actor_id: The administrator acting; None only for the command line.
    """
    _require_admin(session, actor_id)
    clean_name = _check_name(session, name)
    _check_run(session, run_id)
    experts = _check_experts(session, expert_ids, reference_expert_id)
    _check_numbers(reread_share=reread_share, washout=washout, seed=seed)
    videos = _select_videos(session, run_id, video_selection)
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


def balance_report(*, session: Session, study_id: int) -> list[BalanceRow]:
    """Per expert: items, items with the train-CAM on the left, and hidden re-reads (counts only)."""
    train_left = func.sum(case((col(StudyItem.left_kind) == CamKind.TRAIN.value, 1), else_=0))
    rows = session.exec(
        select(StudyItem.expert_id, func.count(), train_left, func.count(col(StudyItem.reread_of_id)))
        .where(StudyItem.study_id == study_id)
        .group_by(col(StudyItem.expert_id))
    ).all()
    names = dict(
        session.exec(select(User.id, User.username).where(col(User.id).in_([r[0] for r in rows]))).all()
    )
    report = [BalanceRow(e, names[e], n, int(train), rereads) for e, n, train, rereads in rows]
    return sorted(report, key=lambda row: row.username)


def open_study(*, session: Session, study_id: int, actor_id: int | None) -> Study:
    """Draft -> open: from now on the listed experts can answer."""
    return _move(session, study_id, actor_id, StudyState.OPEN)


def close_study(*, session: Session, study_id: int, actor_id: int | None) -> Study:
    """Open -> closed: answers are frozen and the key becomes readable for analysis."""
    return _move(session, study_id, actor_id, StudyState.CLOSED)


def study_key(*, session: Session, study_id: int, viewer: int) -> list[KeyEntry]:
    """Which CAM type was on which side, for user id ``viewer``; admins and researchers only, once closed."""
    user = session.get(User, viewer)
    if user is None or not user.active or not can(user, Role.RESEARCHER):
        raise StudyError("Only administrators and researchers may see a study's key.")
    if _get_study(session, study_id).state != StudyState.CLOSED.value:
        raise StudyError("The key is shown only after the study is closed.")
    items = session.exec(
        select(StudyItem)
        .where(StudyItem.study_id == study_id)
        .order_by(col(StudyItem.expert_id), col(StudyItem.position))
    )
    return [
        KeyEntry(row_id(i), i.expert_id, i.position, i.video_id, i.left_kind, i.reread_of_id) for i in items
    ]


def row_id(row: HasId) -> int:
    """The primary key of a flushed row, typed as present."""
    if row.id is None:
        raise RuntimeError("row has no id yet; flush the session first")
    return row.id


def _balanced_sides(count: int, spare: str, rng: np.random.Generator) -> list[str]:
    kinds = [*KINDS] * (count // 2) + [spare] * (count % 2)
    return [kinds[i] for i in rng.permutation(count)]


def _ensemble_predictions(session: Session, run_id: int) -> dict[int, str]:
    query = (
        select(Prediction)
        .where(
            Prediction.run_id == run_id, col(Prediction.frame_index).is_(None), col(Prediction.fold).is_(None)
        )
        .order_by(col(Prediction.id))
    )
    return {p.video_id: p.predicted_class for p in session.exec(query)}  # the newest row wins


def _labels(session: Session, video_ids: Collection[int]) -> dict[int, str]:
    query = select(Video.id, Video.label).where(col(Video.id).in_(video_ids), col(Video.label).is_not(None))
    return {v: label for v, label in session.exec(query) if v is not None and label is not None}


def _select_videos(session: Session, run_id: int, selection: VideoSelection) -> list[int]:
    pairs = cam_pairs(session=session, run_id=run_id)
    if selection == "all":
        chosen = set(pairs)
    elif selection == "correct":
        predicted = _ensemble_predictions(session, run_id)
        labels = _labels(session, predicted)
        chosen = {v for v, c in predicted.items() if labels.get(v) == c} & set(pairs)
    elif isinstance(selection, list):
        chosen = _checked_list(session, run_id, selection, pairs)
    else:
        raise StudyError("Choose the videos as 'correct', 'all' or a list of video ids.")
    if not chosen:
        raise StudyError(f"Run {run_id} has no video to study with this selection (each needs both CAMs).")
    unblind = sorted(v for v in chosen if not all(is_blind(a) for a in pairs[v].values()))
    if unblind:
        raise StudyError(f"Heatmap files of video(s) {_ids(unblind)} are named after their CAM type.")
    return sorted(chosen)


def _checked_list(session: Session, run_id: int, wanted: list[int], pairs: Mapping[int, CamPair]) -> set[int]:
    if any(isinstance(v, bool) or not isinstance(v, int) for v in wanted):
        raise StudyError("Video ids must be whole numbers.")
    if len(set(wanted)) != len(wanted):
        raise StudyError("Each video may be listed only once.")
    in_run = set(session.exec(select(CamAsset.video_id).where(CamAsset.run_id == run_id)))
    in_run |= set(session.exec(select(Prediction.video_id).where(Prediction.run_id == run_id)))
    outside = sorted(set(wanted) - in_run)
    if outside:
        raise StudyError(f"Video(s) {_ids(outside)} are not part of run {run_id}.")
    unpaired = sorted(set(wanted) - set(pairs))
    if unpaired:
        raise StudyError(
            f"Video(s) {_ids(unpaired)} lack a train- and a test-CAM for their class in run {run_id}."
        )
    return set(wanted)


def _ids(ids: Sequence[int]) -> str:
    return ", ".join(str(i) for i in ids)


def _require_admin(session: Session, actor_id: int | None) -> None:
    if actor_id is None:  # the command line: whoever holds the database file administers it
        return
    actor = session.get(User, actor_id)
    if actor is None or not actor.active or actor.role != Role.ADMIN.value:
        raise StudyError("Only administrators may set up, open or close studies.")


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


def _check_experts(session: Session, expert_ids: Sequence[int], reference_expert_id: int) -> list[int]:
    ids = sorted(set(expert_ids))
    if not ids:
        raise StudyError("Choose at least one expert.")
    users = {u.id: u for u in session.exec(select(User).where(col(User.id).in_(ids)))}
    unfit = [i for i in ids if (u := users.get(i)) is None or not u.active or not can(u, Role.EXPERT)]
    if unfit:
        raise StudyError(f"User(s) {_ids(unfit)} cannot take part: unknown, inactive or not an expert.")
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


def _get_study(session: Session, study_id: int, *, lock: bool = False) -> Study:
    study = session.get(Study, study_id, with_for_update=True if lock else None, populate_existing=lock)
    if study is None:
        raise StudyError(f"Study {study_id} does not exist.")
    return study


def _move(session: Session, study_id: int, actor_id: int | None, target: StudyState) -> Study:
    _require_admin(session, actor_id)
    study = _get_study(session, study_id, lock=True)  # PostgreSQL: wait for saves in flight
    source, rule = MOVES[target]
    if study.state != source.value:
        raise StudyError(f"{rule}; study {study.name!r} is {study.state}.")
    previous, study.state = study.state, target.value
    if target is StudyState.OPEN:
        study.opened_at = utcnow()
    else:
        study.closed_at = utcnow()
    session.flush()
    record(
        session=session,
        action=f"study.{target.value}",
        entity="study",
        entity_id=study.id,
        user_id=actor_id,
        from_state=previous,
        to_state=target.value,
    )
    return study
