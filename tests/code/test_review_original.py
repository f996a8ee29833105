"""The review's "Video" panel on a real MP4: cropped, cleaned, without tags, in step with the samples.

The original is made here: moving speckle (each frame different, so a frame shown at the wrong time
cannot pass for the right one), burnt-in text beside the crop and inside it, and a title tag. It
replaces the original of a review world's video, whose frame rows then point at its sampled frames.
A wide crop, which the panel shrinks, carries thin text, which the ingest finds at full resolution.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from sqlalchemy import Engine
from sqlmodel import col, select

from db.models import Frame, Video
from db.session import session_scope
from reviewer.frames import Crop
from reviewer.frames_overlays import clean_frames
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
WIDE, LOW = 960, 260  # a linear probe's wide frame ...
WIDE_CROP = (20, 5, 900, 250)  # ... whose crop is twice the panel's cap ...
PANEL = (448, 124)  # ... so the panel shrinks it to this width and height
CAPTION = (40, 40)  # thin text in the crop's top left, outside the lung centre (x, y of its baseline)
BRIGHT = 215  # thin text shrunk by half stays above this (the speckle stays below 200)


@dataclass(frozen=True)
class Source:
    world: ReviewWorld
    path: Path  # the stored original
    crop: tuple[int, int, int, int]
    frames: np.ndarray  # its speckle without any text: what the panel may show
    indices: list[int]  # the source frames of the samples


def speckle(rng: np.random.Generator, height: int = HEIGHT, width: int = WIDTH) -> np.ndarray:
    """Smooth speckle over the whole range: compresses well, yet every frame differs from the next."""
    noise = cv2.GaussianBlur(rng.random((height, width)).astype(np.float32), (0, 0), 2.0)
    grey = cv2.normalize(noise, None, 20, 200, cv2.NORM_MINMAX).astype(np.uint8)
    return np.repeat(grey[:, :, None], 3, axis=2)


def burn_in(frame: np.ndarray) -> np.ndarray:
    """A caption in the left margin (outside the crop) and a one-letter label inside the crop, in white."""
    out = frame.copy()
    for text, where in (("TR", (2, 40)), ("COV", (2, 80)), ("R", INSIDE)):
        cv2.putText(out, text, where, cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 2, cv2.LINE_8)
    return out


def caption(frame: np.ndarray, thickness: int) -> np.ndarray:
    """Anti-aliased white text one or two pixels thick, as scanners burn in a source or a diagnosis."""
    out = frame.copy()
    x, y = WIDE_CROP[0] + CAPTION[0], WIDE_CROP[1] + CAPTION[1]
    cv2.putText(
        out, "COVID HOSP", (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (255, 255, 255), thickness, cv2.LINE_AA
    )
    return out


def write_source(path: Path, frames: np.ndarray, burn: Callable[[np.ndarray], np.ndarray]) -> None:
    """Lossless-luma H.264 (grey frames survive exactly), with text burnt in and a title tag."""
    with av.open(str(path), mode="w") as container:
        container.metadata["title"] = TITLE
        stream = container.add_stream("libx264", rate=SOURCE_FPS)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt, stream.options = "yuv420p", {"qp": "0"}
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(burn(frame), format="rgb24")))
        container.mux(stream.encode(None))


def install(
    engine: Engine,
    settings: Settings,
    burn: Callable[[np.ndarray], np.ndarray],
    crop: tuple[int, int, int, int],
    shape: tuple[int, int],
) -> Source:
    """A review world whose one video is replaced by speckle of ``shape`` with ``burn`` burnt in."""
    world = review_world(engine, settings, n_videos=1, frames=FRAMES)
    rng = np.random.default_rng(7)
    indices = [round(i * SOURCE_FPS / SAMPLED_HZ) for i in range(FRAMES)]
    frames = np.stack([speckle(rng, *shape) for _ in range(indices[-1] + SOURCE_FPS)])
    with session_scope(engine) as session:
        video = session.exec(select(Video)).one()
        path = resolve(settings, video.file_path)
        write_source(path, frames, burn)
        video.crop_x, video.crop_y, video.crop_w, video.crop_h = crop
        rows = session.exec(select(Frame).where(Frame.video_id == video.id).order_by(col(Frame.index)))
        for row, index in zip(rows, indices, strict=True):
            row.source_index = index
    return Source(world, path, crop, frames, indices)


@pytest.fixture
def source(engine: Engine, settings: Settings) -> Source:
    return install(engine, settings, burn_in, CROP, (HEIGHT, WIDTH))


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


def decoded_source(source: Source) -> list[np.ndarray]:
    """The stored original's sampled frames (RGB), uncropped, as the ingest decoded them."""
    with av.open(str(source.path), mode="r") as container:
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(container.streams.video[0])]
    return [frames[index] for index in source.indices]


def bright_text(frames: list[np.ndarray], text: np.ndarray) -> int:
    """Pixels the text touched (at the frames' size) that are still brighter than any speckle."""
    h, w = frames[0].shape[:2]
    touched = cv2.resize(text.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA) > 0
    return sum(int((frame[touched] > BRIGHT).sum()) for frame in frames)


@pytest.mark.parametrize("thickness", [1, 2])
def test_thin_text_on_a_crop_above_the_cap_is_removed_as_the_ingest_removes_it(
    engine: Engine, settings: Settings, thickness: int
) -> None:
    source = install(engine, settings, partial(caption, thickness=thickness), WIDE_CROP, (LOW, WIDE))
    x, y, w, h = WIDE_CROP
    assert w > settings.review_original_max_side  # the panel shrinks this crop
    text = caption(np.zeros((LOW, WIDE, 3), np.uint8), thickness)[y : y + h, x : x + w, 0] > 0
    sampled = decoded_source(source)
    plain = [cv2.resize(f[y : y + h, x : x + w], PANEL, interpolation=cv2.INTER_AREA) for f in sampled]
    assert bright_text(plain, text) > 50 * len(plain)  # shrunk but not cleaned, the text would be read
    ingest = clean_frames(sampled, Crop(*WIDE_CROP), settings.frame_size, remove_overlays=True)
    assert len(ingest.frames) == FRAMES and bright_text(list(ingest.frames), text) == 0
    frames, _ = decode(media(engine, settings, source).original.hex)
    assert frames[0].shape == (*PANEL[::-1], 3)
    assert bright_text(frames, text) == 0  # as clean as the frames the ingest kept, in every frame
