"""Seed the demo: phantom videos of three classes with pixel ground truth, and the demo accounts.

Phantoms go through the same ingest as uploads (same checks, frame sampling and stored files), with
the fan's bounding square passed as an explicit crop. Because the crop and the sampled frame indices
are then known, every pattern's ground-truth mask is cut and resized exactly like the stored frames
and saved beside them, so later code can measure whether a heatmap points at the pattern.

Seeding is idempotent: phantoms are deterministic, so a video whose checksum is already stored is
skipped (and its ground truth rewritten only if missing), and existing accounts are left alone. Like
every service it never commits: the caller's ``session_scope`` makes the whole seed one transaction.
"""

from __future__ import annotations

import hashlib
import io
import tempfile
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
from sqlmodel import Session, select

from db.models import Frame, User, Video
from reviewer.audit import record
from reviewer.frames import Crop
from reviewer.ingest import IngestOptions, ingest_video
from reviewer.settings import Settings
from reviewer.storage import resolve, write_file
from reviewer.users import create_user
from reviewer.vocab import Pattern, Probe, TagSource, VideoSource
from seed_data import DemoUser, DemoVideo, Manifest, load_manifest
from seed_data.phantom import PhantomVideo, render_phantom, write_video

GROUND_TRUTH_DIR = "ground_truth"
#: Deflate level of the ground-truth ``.npz`` (same format as ``np.savez_compressed``): level 1 is
#: five times faster than its default for these sparse masks, at about twice the (tiny) size.
NPZ_COMPRESSION = 1


@dataclass(frozen=True)
class SeedReport:
    """What seeding did; ``per_class`` counts the demo videos now stored, new or not."""

    added: tuple[str, ...]
    skipped: tuple[str, ...]
    per_class: dict[str, int]
    users_created: tuple[str, ...]
    users_existing: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON types, for ``lusreview seed --json``."""
        return {
            "added": list(self.added),
            "skipped": list(self.skipped),
            "per_class": dict(sorted(self.per_class.items())),
            "users_created": list(self.users_created),
            "users_existing": list(self.users_existing),
        }


def seed_demo(
    *, session: Session, settings: Settings, user_id: int | None = None, manifest: Manifest | None = None
) -> SeedReport:
    """Render, ingest and annotate every manifest video, and create the missing demo accounts.

    All files (originals, frames, ground truth) are tied to the caller's transaction by
    :mod:`reviewer.storage`: if the seed fails and the transaction rolls back, they are deleted too.
    """
    demo = manifest or load_manifest()
    created, existing = _seed_users(session=session, users=demo.users, actor_id=user_id)
    added: list[str] = []
    skipped: list[str] = []
    per_class: Counter[str] = Counter()
    for item in demo.videos:
        new = _seed_video(session=session, settings=settings, demo=demo, item=item, user_id=user_id)
        (added if new else skipped).append(item.name)
        per_class[item.label.value] += 1
    record(
        session=session,
        action="demo.seed",
        entity="video",
        entity_id=None,
        user_id=user_id,
        added=len(added),
        skipped=len(skipped),
        users_created=list(created),
    )
    return SeedReport(
        added=tuple(added),
        skipped=tuple(skipped),
        per_class=dict(per_class),
        users_created=created,
        users_existing=existing,
    )


def ground_truth_path(*, settings: Settings, video: Video) -> Path:
    """Where a video's pixel ground truth lives: named by its checksum, like every stored file.

    Raises:
        ValueError: if the checksum would make the path leave the home folder.
    """
    return resolve(settings, _ground_truth_relative(video))


def load_ground_truth(*, settings: Settings, video: Video) -> dict[Pattern, np.ndarray]:
    """Per-pattern ``(n_frames, S, S)`` bool masks aligned with the stored frames, in frame order.

    Returns an empty dict for videos without pixel ground truth (uploads and POCUS videos).
    """
    path = ground_truth_path(settings=settings, video=video)
    if not path.exists():
        return {}
    known = {pattern.value: pattern for pattern in Pattern}
    with np.load(path, allow_pickle=False) as stored:
        return {known[key]: np.asarray(stored[key], dtype=np.bool_) for key in stored.files if key in known}


def _seed_users(
    *, session: Session, users: tuple[DemoUser, ...], actor_id: int | None
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    created: list[str] = []
    existing: list[str] = []
    for user in users:
        if session.exec(select(User.id).where(User.username == user.username)).first() is not None:
            existing.append(user.username)
            continue
        create_user(
            session=session,
            username=user.username,
            password=user.password,
            role=user.role,
            display_name=user.display_name,
            actor_id=actor_id,
        )
        created.append(user.username)
    return tuple(created), tuple(existing)


def _seed_video(
    *, session: Session, settings: Settings, demo: Manifest, item: DemoVideo, user_id: int | None
) -> bool:
    """Ingest one phantom unless its checksum is stored, and write its ground truth if missing.

    Returns True when the video was new.
    """
    render = demo.render
    phantom = render_phantom(item.label, item.seed, size=render.size, seconds=render.seconds, fps=render.fps)
    data = _encode(phantom, render.suffix)
    video = session.exec(select(Video).where(Video.checksum == hashlib.sha256(data).hexdigest())).first()
    new = video is None
    if video is None:
        video = _ingest(
            session=session,
            settings=settings,
            demo=demo,
            item=item,
            phantom=phantom,
            data=data,
            user_id=user_id,
        )
    if not ground_truth_path(settings=settings, video=video).exists():
        _write_ground_truth(session=session, settings=settings, video=video, phantom=phantom)
    return new


def _encode(phantom: PhantomVideo, suffix: str) -> bytes:
    """The video file's bytes, as an upload would deliver them."""
    with tempfile.TemporaryDirectory(prefix="lusreview-phantom-") as folder:
        return write_video(phantom, Path(folder) / f"phantom{suffix}").read_bytes()


def _ingest(
    *,
    session: Session,
    settings: Settings,
    demo: Manifest,
    item: DemoVideo,
    phantom: PhantomVideo,
    data: bytes,
    user_id: int | None,
) -> Video:
    options = IngestOptions(
        label=item.label,
        probe=Probe.CONVEX,
        source=VideoSource.PHANTOM,
        source_url=None,
        license=demo.license,
        license_url=demo.license_url,
        comment=f"Procedural phantom rendered from seed {item.seed}; no patient data.",
        remove_overlays=False,
        crop=Crop(*phantom.crop),
        patterns=phantom.patterns,
        tag_source=TagSource.PHANTOM,
    )
    return ingest_video(
        session=session,
        settings=settings,
        data=data,
        filename=f"{item.name}{demo.render.suffix}",
        options=options,
        user_id=user_id,
    )


def _write_ground_truth(*, session: Session, settings: Settings, video: Video, phantom: PhantomVideo) -> None:
    """Crop and resize the masks like the stored frames and store them with the transaction's files.

    The file is a standard ``.npz`` (``np.load`` reads it) holding one bool array per pattern.
    """
    frames = session.exec(select(Frame).where(Frame.video_id == video.id).order_by(Frame.index)).all()  # type: ignore[arg-type]
    box = (video.crop_x, video.crop_y, video.crop_w, video.crop_h)
    masks = phantom.masks_at([frame.source_index for frame in frames], box=box, size=settings.frame_size)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=NPZ_COMPRESSION) as archive:
        for pattern, mask in masks.items():
            with archive.open(f"{pattern.value}.npy", "w") as member:
                np.lib.format.write_array(member, mask, allow_pickle=False)
    write_file(
        session=session, settings=settings, relative=_ground_truth_relative(video), data=buffer.getvalue()
    )


def _ground_truth_relative(video: Video) -> PurePosixPath:
    return PurePosixPath(GROUND_TRUTH_DIR) / f"{video.checksum}.npz"
