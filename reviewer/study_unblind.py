"""The unblinded key as people read it: one row per item with names, and a spreadsheet-safe CSV.

:func:`reviewer.study_states.study_key` decides who may see the key and when; this module only
adds the expert and video names an analyst needs, for the studies page and ``lusreview study key``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields

from sqlmodel import Session, col, select

from db.models import Video
from reviewer.csv_safe import spreadsheet_cell
from reviewer.study_admin import usernames
from reviewer.study_states import study_key


@dataclass(frozen=True, slots=True)
class KeyRow:
    """One item of a closed study: whose list, where in it, which video, which CAM on which side."""

    item_id: int
    expert: str
    position: int
    video_id: int
    video: str
    left_kind: str
    right_kind: str
    reread_of_id: int | None


def key_rows(*, session: Session, study_id: int, viewer: int | None) -> list[KeyRow]:
    """The key of a closed study with expert and video names; the same refusals as ``study_key``."""
    entries = study_key(session=session, study_id=study_id, viewer=viewer)
    experts = usernames(session, {e.expert_id for e in entries})
    query = select(Video.id, Video.display_name).where(col(Video.id).in_({e.video_id for e in entries}))
    videos = {i: name for i, name in session.exec(query) if i is not None}
    return [
        KeyRow(
            item_id=e.item_id,
            expert=experts[e.expert_id],
            position=e.position,
            video_id=e.video_id,
            video=videos[e.video_id],
            left_kind=e.left_kind,
            right_kind=e.right_kind,
            reread_of_id=e.reread_of_id,
        )
        for e in entries
    ]


def key_csv(rows: Sequence[KeyRow]) -> str:
    """The key as CSV; names from uploads that a spreadsheet would run as formulas are quoted with '."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(f.name for f in fields(KeyRow))
    for row in rows:
        writer.writerow(spreadsheet_cell(value) for value in asdict(row).values())
    return out.getvalue()
