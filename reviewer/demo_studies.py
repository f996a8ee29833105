"""The demo's two studies on the demo model run: one waiting for the experts, one already analysed.

"Demo study" is open with both demo experts (expert1 is the reference), so an expert who signs in
has videos waiting. "Demo study — simulated answers" is created, answered by a seeded generator
(:mod:`reviewer.demo_answers`) through the same ``save_answer`` service a person uses, and closed,
so the researcher's statistics page has numbers at once. Each study is made in one transaction by
the study services, so it either exists complete or not at all; one whose name is taken is left
alone, which makes re-running the demo a no-op.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from db.models import CamAsset, PatternTag, Study, StudyItem, Video
from db.session import session_scope
from reviewer.audit import record
from reviewer.demo_answers import ItemTruth, PanelTruth, panel_truth, simulate_answer
from reviewer.review import save_answer
from reviewer.seed import load_ground_truth
from reviewer.settings import Settings
from reviewer.study_admin import user_ids
from reviewer.study_base import StudyError, row_id
from reviewer.study_setup import cam_pairs, close_study, create_study, open_study
from reviewer.study_videos import correct_videos
from reviewer.vocab import LUNG_PATTERNS, Pattern

OPEN_STUDY = "Demo study"
SIMULATED_STUDY = "Demo study — simulated answers"
EXPERTS = ("expert1", "expert2")
"""Demo experts of both studies; the first is the reference expert."""
MIN_CORRECT = 10
"""Fewer correctly classified videos than this and the demo studies show all videos instead."""
BIAS_SPREAD = 0.5
"""Standard deviation (score points) of the simulated experts' personal offsets."""


@dataclass(frozen=True)
class DemoStudyPlan:
    """How one demo study is set up."""

    name: str
    seed: int
    reread_share: float
    simulate: bool
    description: str


PLANS = (
    DemoStudyPlan(
        OPEN_STUDY,
        seed=1,
        reread_share=0.1,
        simulate=False,
        description=(
            "A demonstration study. For each video, judge the two heatmaps side by side: score each one, "
            "say which you prefer and answer the questions about the video. Your answers are saved as you "
            "go, so you can stop and resume at any time."
        ),
    ),
    DemoStudyPlan(
        SIMULATED_STUDY,
        seed=2,
        reread_share=0.2,
        simulate=True,
        description=(
            "A demonstration study whose answers are simulated: no person gave them. A seeded generator "
            "answered every video for both demo experts, so that the statistics have numbers at once."
        ),
    ),
)


def make_demo_studies(*, engine: Engine, settings: Settings, run_id: int) -> list[str]:
    """Create whichever demo study is missing, each in its own transaction; return their names."""
    created = []
    for plan in PLANS:
        with session_scope(engine) as session:
            if session.exec(select(Study.id).where(Study.name == plan.name)).first() is not None:
                continue
            _make_study(session=session, settings=settings, run_id=run_id, plan=plan)
            created.append(plan.name)
    return created


def _make_study(*, session: Session, settings: Settings, run_id: int, plan: DemoStudyPlan) -> Study:
    """Create and open one study (the paper's correctly classified videos, else all); maybe answer it."""
    experts = user_ids(session=session, usernames=EXPERTS)
    correct = correct_videos(session=session, run_id=run_id, pairs=cam_pairs(session=session, run_id=run_id))

    def create(reread_share: float) -> Study:
        return create_study(
            session=session,
            name=plan.name,
            run_id=run_id,
            expert_ids=experts,
            reference_expert_id=experts[0],
            video_selection="correct" if len(correct) >= MIN_CORRECT else "all",  # a quick model errs
            reread_share=reread_share,
            seed=plan.seed,
            description=plan.description,
            actor_id=None,
        )

    try:
        study = create(plan.reread_share)
    except StudyError:  # too few videos for a re-read after the washout: no re-reads
        study = create(0.0)
    study_id = row_id(study)
    open_study(session=session, study_id=study_id, actor_id=None)
    if plan.simulate:
        simulate_answers(session=session, settings=settings, study_id=study_id, seed=plan.seed)
        close_study(session=session, study_id=study_id, actor_id=None)
    return study


def simulate_answers(*, session: Session, settings: Settings, study_id: int, seed: int) -> int:
    """Give every item of an open study a complete simulated answer; return how many were saved.

    Each expert has their own generator seeded by ``(seed, expert id)`` and a personal score bias.
    """
    study = session.get_one(Study, study_id)
    items = session.exec(
        select(StudyItem)
        .where(StudyItem.study_id == study_id)
        .order_by(col(StudyItem.expert_id), col(StudyItem.position))
    ).all()
    truths = _truths(session, settings, items)
    rngs = {e: np.random.default_rng([seed, e]) for e in sorted({i.expert_id for i in items})}
    biases = {e: float(rng.normal(0.0, BIAS_SPREAD)) for e, rng in rngs.items()}
    for item in items:
        form = simulate_answer(
            truths[row_id(item)],
            rng=rngs[item.expert_id],
            bias=biases[item.expert_id],
            reference=item.expert_id == study.reference_expert_id,
        )
        save_answer(
            session=session,
            study_id=study_id,
            expert_id=item.expert_id,
            item_token=item.token,
            form=form,
            complete=True,
            expected_revision=None,
        )
    record(
        session=session,
        action="demo.simulate_answers",
        entity="study",
        entity_id=study_id,
        user_id=None,
        answers=len(items),
    )
    return len(items)


def _truths(session: Session, settings: Settings, items: Sequence[StudyItem]) -> dict[int, ItemTruth]:
    """Ground truth of every item by item id; each video's masks are read once."""
    lung = [p.value for p in LUNG_PATTERNS]
    truths: dict[int, ItemTruth] = {}
    for video_id in sorted({i.video_id for i in items}):
        video = session.get_one(Video, video_id)
        masks = load_ground_truth(settings=settings, video=video)
        tags = set(session.exec(select(PatternTag.pattern).where(PatternTag.video_id == video_id)))
        visible = tuple(p for p in lung if p in tags)
        for item in (i for i in items if i.video_id == video_id):
            panels = [
                _panel(session, asset_id, masks) for asset_id in (item.left_asset_id, item.right_asset_id)
            ]
            truths[row_id(item)] = ItemTruth(str(video.label), visible, panels[0], panels[1])
    return truths


def _panel(session: Session, asset_id: int | None, masks: Mapping[Pattern, np.ndarray]) -> PanelTruth:
    asset = session.get_one(CamAsset, asset_id)
    return panel_truth(asset.peaks, masks)
