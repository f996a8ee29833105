"""Upload one or many videos: per file a first-frame preview with a movable crop, then store them all.

Shared by the annotator's page and the administrator's Data import tab (``prefix`` keeps their
widget keys apart). Each file is stored in its own unit of work, so a bad file is reported next to
its name and never stops the others. Previews decode the whole upload, so they are kept in the
session state per file and probe instead of being recomputed on every rerun.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st
from PIL import Image
from streamlit.runtime.uploaded_file_manager import UploadedFile
from streamlit_drawable_canvas import st_canvas

from pages.common import (
    PROBE_NAMES,
    UPLOAD_TYPES,
    Viewer,
    class_name,
    pattern_name,
    plain,
    settings,
    unit_of_work,
)
from reviewer.annotation_canvas import CROP_STROKE_PX, Scale, crop_drawing, crop_from_drawing
from reviewer.annotation_form import MAX_COMMENT
from reviewer.frames import Crop, apply_crop_and_resize
from reviewer.ingest import IngestError, IngestOptions, Preview, ingest_video, preview_video
from reviewer.ingest_prepare import check_upload_size
from reviewer.vocab import LusClass, Pattern, Probe

CANVAS_PX = 520  # the longest side of the crop canvas: large enough to place a crop to a few pixels
PREVIEW_PX = 224  # the model's input size: the annotator sees what the model will see
CROP_COLOUR = "#ffd400"
CANVAS_GAP = "medium"
PICTURE_FIELDS = [3, 2]  # relative widths: the crop canvas gets more room than the form
KILOBYTE, MEGABYTE = 1024, 1024 * 1024


@dataclass(frozen=True, slots=True)
class Choice:
    """What the annotator chose for one uploaded file."""

    upload: UploadedFile
    options: IngestOptions


def upload_section(prefix: str, user: Viewer) -> None:
    """The uploader, one block per file and the button that stores every usable file."""
    current = settings()
    round_ = st.session_state.get(f"{prefix}upload_round", 0)
    files = st.file_uploader(
        f"Videos or images ({', '.join(UPLOAD_TYPES)}; at most {current.max_upload_mb} MB each)",
        type=UPLOAD_TYPES,
        accept_multiple_files=True,
        key=f"{prefix}upload_files_{round_}",
        max_upload_size=current.max_upload_mb,
    )
    choices = [choice for upload in files or [] if (choice := _file_block(prefix, upload)) is not None]
    if files:
        label = f"Store {len(choices)} video{'s' if len(choices) != 1 else ''}"
        clicked = st.button(label, key=f"{prefix}upload_store", type="primary", disabled=not choices)
        if clicked and _store(prefix, choices, user) == len(files):  # all stored: empty the uploader
            st.session_state[f"{prefix}upload_round"] = round_ + 1
            st.rerun()
    _report(prefix)


def _file_block(prefix: str, upload: UploadedFile) -> Choice | None:
    """Preview, crop canvas and label fields of one file; None when the file cannot be used."""
    key = f"{prefix}file_{upload.file_id}"
    with st.container(border=True):
        st.markdown(f"**{plain(upload.name)}** · {_size(upload.size)}")
        picture, fields = st.columns(PICTURE_FIELDS, gap="large")
        with fields:
            probe = st.radio(
                "Probe", list(Probe), format_func=PROBE_NAMES.__getitem__, key=f"{key}_probe", horizontal=True
            )
        try:
            preview = _preview(key, upload, probe)
        except IngestError as exc:
            st.error(f"{plain(upload.name)}: {exc}", icon=":material/error:")
            return None
        with picture:
            crop = _crop_canvas(key, preview, probe)
        with fields:
            options = _label_fields(key, probe, crop)
    return Choice(upload=upload, options=options)  # bytes are read when storing, not on every rerun


def _size(size: int) -> str:
    return f"{size / MEGABYTE:.1f} MB" if size >= MEGABYTE // 10 else f"{max(1, round(size / KILOBYTE))} kB"


def _preview(key: str, upload: UploadedFile, probe: Probe) -> Preview:
    cached = f"{key}_preview_{probe.value}"
    if cached not in st.session_state:
        check_upload_size(upload.size, settings())
        st.session_state[cached] = preview_video(
            settings=settings(), data=upload.getvalue(), filename=upload.name, probe=probe
        )
    preview: Preview = st.session_state[cached]
    return preview


def _crop_canvas(key: str, preview: Preview, probe: Probe) -> Crop:
    """The first frame with the crop as a rectangle; returns the crop in original pixels."""
    width, height = preview.info.width, preview.info.height
    scale = Scale.fit(width, height, CANVAS_PX)
    canvas_w, canvas_h = scale.canvas_size(width, height)
    st.space(CANVAS_GAP)  # the canvas toolbar floats above its top edge
    result = st_canvas(
        background_image=Image.fromarray(preview.first_frame),
        drawing_mode="rect",
        initial_drawing=crop_drawing(preview.crop, scale, CROP_COLOUR),
        stroke_color=CROP_COLOUR,
        stroke_width=CROP_STROKE_PX,
        fill_color="rgba(0, 0, 0, 0)",
        width=canvas_w,
        height=canvas_h,
        key=f"{key}_canvas_{probe.value}",
    )
    crop = crop_from_drawing(result.json_data, scale, width, height)
    if crop is None:
        st.warning("No crop rectangle on the image: the suggested crop is used.", icon=":material/crop:")
        crop = preview.crop
    st.caption(
        f"Move or resize the rectangle with the pencil (edit) tool, or draw a new one; the last one is "
        f"the crop. Crop: x {crop.x}, y {crop.y}, {crop.w} × {crop.h} px of {width} × {height}."
    )
    for warning in preview.warnings:
        st.warning(warning, icon=":material/warning:")
    return crop


def _label_fields(key: str, probe: Probe, crop: Crop) -> IngestOptions:
    preview: Preview = st.session_state[f"{key}_preview_{probe.value}"]
    st.image(apply_crop_and_resize(preview.first_frame, crop, PREVIEW_PX), caption="What the model will see")
    label = st.selectbox(
        "Class",
        [None, *LusClass],
        format_func=class_name,
        key=f"{key}_label",
        help="Leave unlabelled if unsure",
    )
    patterns = st.multiselect(
        "Patterns visible", list(Pattern), format_func=pattern_name, key=f"{key}_patterns"
    )
    comment = st.text_area("Comment", key=f"{key}_comment", max_chars=MAX_COMMENT)
    return IngestOptions(
        label=label, probe=probe, crop=crop, patterns=tuple(patterns), comment=comment.strip() or None
    )


def _store(prefix: str, choices: list[Choice], user: Viewer) -> int:
    """One unit of work per file: a refusal or failure is reported and the next file goes on.

    Returns:
        How many files were stored.
    """
    outcome: list[tuple[str, int | None, str]] = []
    progress = st.progress(0.0, text="Storing…")
    for done, choice in enumerate(choices, start=1):
        try:
            with unit_of_work() as session:
                video = ingest_video(
                    session=session,
                    settings=settings(),
                    data=choice.upload.getvalue(),
                    filename=choice.upload.name,
                    options=choice.options,
                    user_id=user.id,
                )
                stored = (choice.upload.name, video.id, class_name(video.label))
        except IngestError as exc:
            stored = (choice.upload.name, None, str(exc))
        outcome.append(stored)
        progress.progress(done / len(choices), text=f"Stored {done} of {len(choices)}")
    progress.empty()
    st.session_state[f"{prefix}upload_outcome"] = outcome
    stored_ids = [video_id for _, video_id, _ in outcome if video_id is not None]
    st.session_state.setdefault(f"{prefix}recent_ids", []).extend(stored_ids)
    return len(stored_ids)


def _report(prefix: str) -> None:
    for name, video_id, note in st.session_state.get(f"{prefix}upload_outcome", []):
        if video_id is None:
            st.error(f"**{plain(name)}** was not stored: {plain(note)}", icon=":material/error:")
        else:
            st.success(
                f"**{plain(name)}** stored as video {video_id} ({note}).", icon=":material/check_circle:"
            )
