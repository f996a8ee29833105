"""Which videos a study shows, and which train- and test-CAM of each.

As in the paper, the default is the videos the ensemble classified correctly, each with the CAMs
that explain the predicted class; a hand-picked list must belong to the run and have both CAMs.
Assets whose names spell their CAM type are refused, because the browser would see those names.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Literal

from sqlmodel import Session, col, select

from db.models import CamAsset, ModelRun, Prediction, Video
from reviewer.study_base import KINDS, StudyError, id_list

CamPair = Mapping[str, CamAsset]  # CAM kind -> asset
VideoSelection = Literal["correct", "all"] | list[int]


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
    predicted = ensemble_predictions(session=session, run_id=run_id)
    labels = run_labels(session=session, run_id=run_id, video_ids=found)
    pairs: dict[int, CamPair] = {}
    for video_id, by_target in found.items():
        targets = [t for t in (predicted.get(video_id), labels.get(video_id)) if t is not None]
        complete = [by_target[t] for t in targets if len(by_target.get(t, {})) == len(KINDS)]
        if complete:
            pairs[video_id] = complete[0]
    return pairs


def ensemble_predictions(*, session: Session, run_id: int) -> dict[int, str]:
    """The ensemble's predicted class per video id of a run (video level, no fold)."""
    query = (
        select(Prediction)
        .where(
            Prediction.run_id == run_id, col(Prediction.frame_index).is_(None), col(Prediction.fold).is_(None)
        )
        .order_by(col(Prediction.id))
    )
    return {p.video_id: p.predicted_class for p in session.exec(query)}  # the newest row wins


def correct_videos(*, session: Session, run_id: int, pairs: Mapping[int, CamPair]) -> set[int]:
    """Videos with a CAM pair whose ensemble prediction equals their label: the paper's default.

    The label is the one the run was trained on (its snapshot), as in the statistics, so a video
    relabelled after training is judged as the model saw it.
    """
    predicted = ensemble_predictions(session=session, run_id=run_id)
    labels = run_labels(session=session, run_id=run_id, video_ids=predicted)
    return {v for v, c in predicted.items() if labels.get(v) == c} & set(pairs)


def select_videos(session: Session, run_id: int, selection: VideoSelection) -> list[int]:
    """The sorted video ids a new study shows, or a refusal that says what is wrong with the choice."""
    pairs = cam_pairs(session=session, run_id=run_id)
    if selection == "all":
        chosen = set(pairs)
    elif selection == "correct":
        chosen = correct_videos(session=session, run_id=run_id, pairs=pairs)
    elif isinstance(selection, list):
        chosen = _checked_list(session, run_id, selection, pairs)
    else:
        raise StudyError("Choose the videos as 'correct', 'all' or a list of video ids.")
    if not chosen:
        raise StudyError(f"Run {run_id} has no video to study with this selection (each needs both CAMs).")
    unblind = sorted(v for v in chosen if not all(is_blind(a) for a in pairs[v].values()))
    if unblind:
        raise StudyError(f"Heatmap files of video(s) {id_list(unblind)} are named after their CAM type.")
    return sorted(chosen)


def run_labels(*, session: Session, run_id: int, video_ids: Collection[int]) -> dict[int, str]:
    """The class of each video when the run was trained (its data snapshot), else its current label.

    Study set-up and statistics both read labels here, so "correctly classified" means the same in both.
    """
    query = select(Video.id, Video.label).where(col(Video.id).in_(video_ids))
    labels = {v: label for v, label in session.exec(query) if v is not None and label is not None}
    run = session.get(ModelRun, run_id)
    for row in run.data_snapshot if run is not None else []:
        if row.get("video_id") in video_ids and row.get("label"):
            labels[int(row["video_id"])] = str(row["label"])
    return labels


def _checked_list(session: Session, run_id: int, wanted: list[int], pairs: Mapping[int, CamPair]) -> set[int]:
    if any(isinstance(v, bool) or not isinstance(v, int) for v in wanted):
        raise StudyError("Video ids must be whole numbers.")
    if len(set(wanted)) != len(wanted):
        raise StudyError("Each video may be listed only once.")
    in_run = set(session.exec(select(CamAsset.video_id).where(CamAsset.run_id == run_id)))
    in_run |= set(session.exec(select(Prediction.video_id).where(Prediction.run_id == run_id)))
    outside = sorted(set(wanted) - in_run)
    if outside:
        raise StudyError(f"Video(s) {id_list(outside)} are not part of run {run_id}.")
    unpaired = sorted(set(wanted) - set(pairs))
    if unpaired:
        raise StudyError(
            f"Video(s) {id_list(unpaired)} lack a train- and a test-CAM for their class in run {run_id}."
        )
    return set(wanted)
