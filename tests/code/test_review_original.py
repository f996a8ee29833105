"""The review's "Video" panel on a real MP4: cropped, cleaned, without tags, in step with the samples.

The original is made here: moving speckle (each frame different, so a frame shown at the wrong time
cannot pass for the right one), burnt-in text beside the crop and inside it, and a title tag. It
replaces the original of a review world's video, whose frame rows then point at its sampled frames.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from sqlalchemy import Engine
from sqlmodel import col, select

from db.models import Frame, Video
from db.session import session_scope
from reviewer.review import review_item
from reviewer.review_clip_cache import CLIP_CACHE
from reviewer.review_media import PlayerMedia, player_media
from reviewer.settings import Settings
from reviewer.storage import resolve
from tests.code.review_support import SAMPLED_HZ, ReviewWorld, review_world

FRAMES = 6
SOURCE_FPS = 20  # samples 0, 7, 13, 20, 27, 33: 6 or 7 source frames per sample, so 7 slots (21 fps)
SLOTS = 7
WIDTH, HEIGHT = 200, 128
CROP = (48, 4, 120, 120)  # x, y, w, h: the sector; the margins beside it carry a caption
TITLE = "Lung case COVIDTITLE"
INSIDE = (60, 20)  # where a one-letter label is burnt into the crop itself (x, y of its baseline start)
WHITE = 235  # the speckle stays below 200: anything this bright is burnt-in text


@dataclass(frozen=True)
class Source:
    world: ReviewWorld
    path: Path  # the stored original
    frames: np.ndarray  # its speckle without any text: what the panel may show
    indices: list[int]  # the source frames of the samples


def speckle(rng: np.random.Generator) -> np.ndarray:
    """Smooth speckle over the whole range: compresses well, yet every frame differs from the next."""
    noise = cv2.GaussianBlur(rng.random((HEIGHT, WIDTH)).astype(np.float32), (0, 0), 2.0)
    grey = cv2.normalize(noise, None, 20, 200, cv2.NORM_MINMAX).astype(np.uint8)
    return np.repeat(grey[:, :, None], 3, axis=2)


def burn_in(frame: np.ndarray) -> np.ndarray:
    """A caption in the left margin (outside the crop) and a one-letter label inside the crop, in white."""
    out = frame.copy()
    for text, where in (("TR", (2, 40)), ("COV", (2, 80)), ("R", INSIDE)):
        cv2.putText(out, text, where, cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 2, cv2.LINE_8)
    return out


def write_source(path: Path, frames: np.ndarray) -> None:
    """Lossless-luma H.264 (grey frames survive exactly), with text burnt in and a title tag."""
    with av.open(str(path), mode="w") as container:
        container.metadata["title"] = TITLE
        stream = container.add_stream("libx264", rate=SOURCE_FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.options = {"qp": "0"}
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(burn_in(frame), format="rgb24")))
        container.mux(stream.encode(None))


@pytest.fixture
def source(engine: Engine, settings: Settings) -> Source:
    world = review_world(engine, settings, n_videos=1, frames=FRAMES)
    rng = np.random.default_rng(7)
    indices = [round(i * SOURCE_FPS / SAMPLED_HZ) for i in range(FRAMES)]
    frames = np.stack([speckle(rng) for _ in range(indices[-1] + SOURCE_FPS)])
    with session_scope(engine) as session:
        video = session.exec(select(Video)).one()
        path = resolve(settings, video.file_path)
        write_source(path, frames)
        video.crop_x, video.crop_y, video.crop_w, video.crop_h = CROP
        rows = session.exec(select(Frame).where(Frame.video_id == video.id).order_by(col(Frame.index)))
        for row, index in zip(rows, indices, strict=True):
            row.source_index = index
    return Source(world, path, frames, indices)


def media(engine: Engine, settings: Settings, source: Source) -> PlayerMedia:
    world = source.world
    with session_scope(engine) as session:
        shown = review_item(session=session, study_id=world.study_id, expert_id=world.experts[0], position=0)
        return player_media(session=session, settings=settings, item=shown)


def decode(hex_text: str) -> tuple[list[np.ndarray], float]:
    """Every frame of a clip (RGB) and its frame rate, read back by OpenCV as a browser would play it."""
    path = io.BytesIO(bytes.fromhex(hex_text))
    with av.open(path, mode="r") as container:
        stream = container.streams.video[0]
        rate = float(stream.average_rate or 0)
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]
    return frames, rate


def cropped(frame: np.ndarray) -> np.ndarray:
    x, y, w, h = CROP
    return frame[y : y + h, x : x + w].astype(np.int16)


def test_sampled_frame_i_is_shown_at_i_thirds_of_a_second(
    engine: Engine, settings: Settings, source: Source
) -> None:
    shown = media(engine, settings, source)
    frames, rate = decode(shown.original.hex)
    assert not shown.original_is_sampled
    assert (len(frames), rate) == (FRAMES * SLOTS, SAMPLED_HZ * SLOTS)  # lasts FRAMES / 3 s, like the samples
    assert frames[0].shape == (CROP[3], CROP[2], 3)  # the crop's own resolution: below the cap
    for i, index in enumerate(source.indices):
        at = frames[round(i / SAMPLED_HZ * rate)].astype(np.int16)
        right = np.abs(at - cropped(source.frames[index])).mean()
        neighbours = [np.abs(at - cropped(source.frames[k])).mean() for k in (index - 1, index + 1)]
        assert right < 6 < min(neighbours)


def test_burnt_in_text_and_the_title_never_reach_the_panel(
    engine: Engine, settings: Settings, source: Source
) -> None:
    assert TITLE.encode() in source.path.read_bytes()  # the source really carries the tag ...
    shown = media(engine, settings, source)
    assert TITLE.encode() not in bytes.fromhex(shown.original.hex)  # ... and the panel does not
    frames, _ = decode(shown.original.hex)
    text = burn_in(np.zeros((HEIGHT, WIDTH, 3), np.uint8))[..., 0] >= WHITE
    x, y, w, h = CROP
    assert text[:, :x].sum() > 50 and text[y : y + h, x : x + w].sum() > 20  # beside and inside the crop
    assert (cropped(burn_in(source.frames[0])) >= WHITE).sum() > 20  # so cropping alone would leak it
    for frame in frames:
        assert (frame >= WHITE).sum() < 5  # neither caption nor label came through: inpainted


def test_a_crop_above_the_cap_is_shrunk_and_the_clip_is_encoded_once(
    engine: Engine, settings: Settings, source: Source
) -> None:
    capped = settings.model_copy(update={"review_original_max_side": 60})
    first = media(engine, capped, source)
    frames, _ = decode(first.original.hex)
    assert frames[0].shape == (60, 60, 3)
    clips = {p.name: p.stat().st_ino for p in resolve(settings, CLIP_CACHE).iterdir()}
    assert len(clips) == 2  # the sampled frames and the cleaned original
    second = media(engine, capped, source)
    assert second.original == first.original
    assert {p.name: p.stat().st_ino for p in resolve(settings, CLIP_CACHE).iterdir()} == clips
    media(engine, settings, source)  # other settings: another clip, the cached ones untouched
    assert len(list(resolve(settings, CLIP_CACHE).iterdir())) == 3


def test_an_original_that_cannot_be_decoded_is_shown_as_the_sampled_frames(
    engine: Engine, settings: Settings, source: Source
) -> None:
    source.path.write_bytes(source.path.read_bytes()[:2000])  # the header survives, the frames do not
    shown = media(engine, settings, source)
    assert shown.original_is_sampled and shown.original == shown.frames
