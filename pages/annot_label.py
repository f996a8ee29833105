"""Pick a stored video to label, and draw regions on its frames (the label form is :mod:`pages.annot_form`).

Regions are drawn on the stored frames (what the model sees) and converted to frame pixels by
:mod:`reviewer.annotation_canvas`. The canvas opens with one's own stored regions of the frame, each in
its pattern's colour, so they can be moved, reshaped or deleted; a save replaces them with what is on
the canvas in one unit of work, and the canvas reloads from the database under a new key. A save is
refused if one's regions on the frame changed elsewhere since the canvas opened (another tab).
"""

from __future__ import annotations

import streamlit as st
from PIL import Image
from streamlit_drawable_canvas import st_canvas

from pages.common import Viewer, class_name, pattern_name, settings, unit_of_work
from reviewer.annotation import AnnotationError
from reviewer.annotation_canvas import (
    DrawnRegion,
    Scale,
    pattern_colour,
    pattern_fill,
    regions_drawing,
    regions_from_drawing,
)
from reviewer.catalog import CatalogError, FrameInfo, list_videos, resolve_file, video_detail
from reviewer.region_lookup import RegionInfo, frame_overlay, list_regions
from reviewer.region_store import STALE_REGIONS, replace_regions
from reviewer.vocab import Pattern

PICK_LIMIT = 100
OVERLAY_PX = 224  # stored regions are shown at the frames' own size
REGION_CANVAS_PX = 448  # twice the 224-pixel frames: strokes can be placed to half a pixel
BRUSH_PX = 3  # free-hand brush width in frame pixels: a B-line is a few pixels wide at 224 px
TOOLS = {"rect": "Rectangle", "polygon": "Polygon", "freedraw": "Free-hand"}
TOOL_HINTS = {
    "rect": "Drag to draw a rectangle.",
    "polygon": "Click to add corners; click the first corner again to close the polygon. To move or delete"
    " shapes, pick another tool first: in this mode the canvas reports closed polygons only.",
    "freedraw": "Hold the mouse button down and paint over the pattern.",
}
ROUND_KEY = "annot_canvas_round"
VIDEO_KEY, SEEN_KEY = "annot_video", "annot_recent_seen"
CANVAS_GAP = "medium"


def pick_video(recent: list[int]) -> int | None:
    """A searchable picker over stored videos; the ones just uploaded come first, the newest chosen."""
    if len(recent) > st.session_state.get(SEEN_KEY, 0):  # a new upload: open it for labelling
        st.session_state[SEEN_KEY] = len(recent)
        st.session_state[VIDEO_KEY] = recent[-1]
    search = st.text_input("Find a video by name", key="annot_find", placeholder="e.g. Cov-Atlas")
    with unit_of_work() as session:
        found = list_videos(session=session, search=search or None, limit=PICK_LIMIT)
        names = {v.id: f"{v.display_name} · {class_name(v.label)} · #{v.id}" for v in found}
        for video_id in recent:
            if video_id not in names:
                detail = video_detail(session=session, video_id=video_id)
                names[video_id] = (
                    f"{detail.summary.display_name} · {class_name(detail.summary.label)} · #{video_id}"
                )
    ordered = [*dict.fromkeys([*reversed(recent), *names])]
    if not ordered:
        st.info("No stored video matches; upload one first.", icon=":material/video_library:")
        return None
    chosen: int | None = st.selectbox("Video", ordered, format_func=names.__getitem__, key=VIDEO_KEY)
    return chosen


def region_editor(video_id: int, user: Viewer) -> None:
    """Draw rectangles, polygons or free-hand strokes for one pattern on one stored frame."""
    try:
        with unit_of_work() as session:
            frames = video_detail(session=session, video_id=video_id).frames
            regions = list_regions(session=session, video_id=video_id)
    except CatalogError as exc:
        st.error(str(exc), icon=":material/error:")
        return
    if not frames:
        st.info("This video has no stored frames to draw on.", icon=":material/image_not_supported:")
        return
    frame = frames[st.select_slider("Frame", range(len(frames)), key=f"annot_frame_{video_id}")]
    pattern_col, tool_col = st.columns(2)
    pattern = pattern_col.selectbox(
        "Pattern of new shapes", list(Pattern), format_func=pattern_name, key="annot_region_pattern"
    )
    tool = tool_col.radio(
        "Tool", list(TOOLS), format_func=TOOLS.__getitem__, key="annot_region_tool", horizontal=True
    )
    on_frame = [r for r in regions if r.frame_index == frame.index]
    _canvas(video_id, frame, pattern, tool, [r for r in on_frame if r.user_id == user.id], user)
    _region_list(video_id, frame.index, on_frame, user)


def _canvas(
    video_id: int, frame: FrameInfo, pattern: Pattern, tool: str, own: list[RegionInfo], user: Viewer
) -> None:
    try:
        image = Image.open(resolve_file(settings=settings(), relative_path=frame.image_path))
    except CatalogError as exc:
        st.warning(str(exc), icon=":material/warning:")
        return
    round_ = st.session_state.get(ROUND_KEY, 0)
    key = f"annot_regions_{video_id}_{frame.index}_{round_}"
    # The canvas keeps what it opened with: redrawn from a fresher read it would drop unsaved shapes.
    opened: list[RegionInfo] = st.session_state.setdefault(f"{key}_opened", own)
    drawn = _drawn_regions(image, tool, pattern, opened, key=key)
    label = f"Save {len(drawn)} shape{'s' if len(drawn) != 1 else ''} on this frame"
    if not st.button(
        label, key=f"annot_regions_save_{video_id}", disabled=not (drawn or opened), type="primary"
    ):
        return
    try:
        with unit_of_work() as session:
            replace_regions(
                session=session,
                settings=settings(),
                video_id=video_id,
                frame_index=frame.index,
                regions=drawn,
                actor_id=user.id,
                expected_ids=[r.id for r in opened],
            )
    except AnnotationError as exc:
        st.error(str(exc), icon=":material/error:")
        if str(exc) == STALE_REGIONS:
            st.button("Reload the stored regions", key=f"annot_regions_reload_{video_id}", on_click=_reload)
        return
    _reload()
    st.rerun()


def _reload() -> None:
    """Open the canvas afresh from the stored regions, under a new key."""
    st.session_state[ROUND_KEY] = st.session_state.get(ROUND_KEY, 0) + 1


def _drawn_regions(
    image: Image.Image, tool: str, pattern: Pattern, own: list[RegionInfo], *, key: str
) -> list[DrawnRegion]:
    """The canvas over the frame, opened with one's stored regions; what it holds, in frame pixels."""
    scale = Scale.fit(image.width, image.height, REGION_CANVAS_PX)
    width, height = scale.canvas_size(image.width, image.height)
    st.space(CANVAS_GAP)  # the canvas toolbar floats above its top edge: keep it off the tool choice
    result = st_canvas(
        background_image=image,
        drawing_mode=tool,
        initial_drawing=regions_drawing([(r.pattern, r.shape, r.geometry) for r in own], scale),
        stroke_width=scale.length(BRUSH_PX),
        stroke_color=pattern_colour(pattern),
        fill_color=pattern_fill(pattern),
        width=width,
        height=height,
        key=key,
    )
    st.caption(
        f"{TOOL_HINTS[tool]} Each pattern has its own colour. The pencil (edit) tool moves, resizes and "
        "deletes shapes, including your stored ones; saving replaces your regions on this frame."
    )
    return regions_from_drawing(result.json_data, scale, pattern)


def _region_list(video_id: int, frame_index: int, regions: list[RegionInfo], user: Viewer) -> None:
    if not regions:
        st.caption("No regions on this frame yet.")
        return
    try:
        with unit_of_work() as session:
            overlay = frame_overlay(
                session=session, settings=settings(), video_id=video_id, frame_index=frame_index
            )
    except AnnotationError as exc:
        st.warning(str(exc), icon=":material/warning:")
        return
    image_col, table_col = st.columns(2)
    image_col.image(overlay, caption="Stored regions on this frame", width=OVERLAY_PX)
    with table_col:
        st.dataframe(
            [
                {
                    "Id": r.id,
                    "Pattern": pattern_name(r.pattern),
                    "Shape": r.shape,
                    "Yours": r.user_id == user.id,
                }
                for r in regions
            ],
            hide_index=True,
        )
