"""Data browser: list, filter and play the stored videos with their labels, tags, source and licence.

Each video also shows its label history and audit trail (who labelled, approved or changed it).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from pages.annot_review import history_view
from pages.common import (
    PROBE_NAMES,
    SOURCE_NAMES,
    TAG_SOURCE_NAMES,
    THUMBNAIL_PX,
    class_name,
    pattern_name,
    plain,
    require_role,
    settings,
    unit_of_work,
)
from reviewer.catalog import (
    DEFAULT_LIMIT,
    CatalogError,
    MediaKind,
    VideoDetail,
    VideoSummary,
    count_videos,
    label_counts,
    list_videos,
    resolve_file,
    video_detail,
    web_link,
)
from reviewer.vocab import LusClass, Pattern, Probe, Role, VideoSource

PAGE_KEY = "browse_page"
DURATION = "Duration (s)"

require_role(Role.ANNOTATOR, Role.RESEARCHER)  # not experts: labels would un-blind their class guesses
home = settings()
st.title("Data browser", anchor=False)


def _reset_page() -> None:
    st.session_state.pop(PAGE_KEY, None)


def _choose(
    column: DeltaGenerator,
    label: str,
    options: list[Any],
    name: Callable[[Any], str],
    everything: str,
    key: str,
) -> Any:
    return column.selectbox(
        label,
        [None, *options],
        format_func=lambda value: everything if value is None else name(value),
        key=key,
        on_change=_reset_page,
    )


def _filters() -> dict[str, Any]:
    label_col, probe_col, source_col, pattern_col, search_col = st.columns(5)
    return {
        "label": _choose(
            label_col, "Class", list(LusClass), class_name, "All classes", "browse_label_filter"
        ),
        "probe": _choose(
            probe_col, "Probe", list(Probe), PROBE_NAMES.get, "All probes", "browse_probe_filter"
        ),
        "source": _choose(
            source_col, "Source", list(VideoSource), SOURCE_NAMES.get, "All sources", "browse_source_filter"
        ),
        "pattern": _choose(
            pattern_col, "Pattern", list(Pattern), pattern_name, "Any pattern", "browse_pattern_filter"
        ),
        "search": search_col.text_input(
            "Name contains", key="browse_search", on_change=_reset_page, placeholder="e.g. Cov-Atlas"
        ),
    }


def _row(video: VideoSummary) -> dict[str, Any]:
    return {
        "Name": video.display_name,
        "Class": class_name(video.label),
        "Probe": PROBE_NAMES[Probe(video.probe)],
        "Source": SOURCE_NAMES[VideoSource(video.source)],
        "Patterns": ", ".join(pattern_name(tag) for tag in video.tags),
        "Frames": video.sampled_frames,
        DURATION: video.duration_s,
    }


def _play(detail: VideoDetail) -> None:
    try:
        path = resolve_file(settings=home, relative_path=detail.file_path)
    except CatalogError as exc:
        st.warning(str(exc), icon=":material/warning:")
        return
    if detail.media is MediaKind.VIDEO:
        st.video(str(path), format=detail.mime or "video/mp4", loop=True, muted=True)
    elif detail.media is MediaKind.IMAGE:
        st.image(str(path))
    else:
        st.info(
            "Browsers cannot play this file format; its sampled frames are shown below.",
            icon=":material/play_disabled:",
        )


def _credit(caption: str, text: str | None, url: str | None, button: str, key: str) -> None:
    if text:
        st.caption(f"{caption}: {plain(text)}")
    link = web_link(url)
    if link:
        st.link_button(button, link, icon=":material/open_in_new:", key=key)


def _facts(detail: VideoDetail) -> None:
    video = detail.summary
    st.markdown(
        f"**{class_name(video.label)}** · {PROBE_NAMES[Probe(video.probe)]} probe · "
        f"{SOURCE_NAMES[VideoSource(video.source)]}"
    )
    with st.container(horizontal=True):
        for tag in detail.tags:
            st.badge(f"{pattern_name(tag.pattern)} · {TAG_SOURCE_NAMES[tag.source]}", color="blue")
    st.caption(
        f"{detail.width} × {detail.height} px · {detail.fps:.0f} fps · {video.duration_s:.1f} s · "
        f"{video.sampled_frames} of {video.frame_count} frames sampled"
    )
    _credit("Source", detail.source_url, detail.source_url, "Visit the source", "browse_source_link")
    _credit("Licence", detail.license, detail.license_url, "Read the licence", "browse_license_link")
    if detail.comment:
        st.caption(plain(detail.comment))


def _thumbnails(detail: VideoDetail) -> None:
    if not detail.frames:
        st.caption("No frames have been sampled from this video.")
        return
    images: list[str] = []
    captions: list[str] = []
    for frame in detail.frames:
        try:
            images.append(str(resolve_file(settings=home, relative_path=frame.image_path)))
        except CatalogError:
            continue
        captions.append(f"{frame.time_s:.1f} s")
    with st.expander(f"Sampled frames ({len(images)})", expanded=True):
        if images:
            st.image(images, caption=captions, width=THUMBNAIL_PX)
        if len(images) < len(detail.frames):
            st.warning(
                f"{len(detail.frames) - len(images)} of {len(detail.frames)} frame files are missing.",
                icon=":material/warning:",
            )


def _show(video_id: int) -> None:
    try:
        with unit_of_work() as session:
            detail = video_detail(session=session, video_id=video_id)
    except CatalogError as exc:
        st.error(str(exc), icon=":material/error:")
        return
    st.subheader(plain(detail.summary.display_name), anchor=False, divider="gray")
    player, facts = st.columns(2, gap="large")
    with player:
        _play(detail)
    with facts:
        _facts(detail)
    _thumbnails(detail)
    history_view(video_id)


header = st.container()
filters = _filters()
with unit_of_work() as session:
    counts = label_counts(session=session)
    total = count_videos(session=session, **filters)
with header:
    for column, (label, count) in zip(st.columns(len(counts)), counts.items(), strict=True):
        column.metric(class_name(label), count, border=True)

page_count = max(1, math.ceil(total / DEFAULT_LIMIT))
page = st.pagination(page_count, key=PAGE_KEY) if page_count > 1 else 1
with unit_of_work() as session:
    videos = list_videos(session=session, **filters, limit=DEFAULT_LIMIT, offset=(page - 1) * DEFAULT_LIMIT)

if not videos:
    empty = "No videos match these filters." if sum(counts.values()) else "No videos are stored yet."
    st.info(empty, icon=":material/video_library:")
    st.stop()

st.caption(f"{total} videos match · select a row to open it")
table = st.dataframe(
    [_row(video) for video in videos],
    hide_index=True,
    on_select="rerun",
    selection_mode="single-row",
    key="browse_table",
    column_config={DURATION: st.column_config.NumberColumn(format="%.1f")},
)
chosen = table.selection.rows
_show(videos[chosen[0]].id if chosen and chosen[0] < len(videos) else videos[0].id)
