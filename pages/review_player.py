"""The synchronised three-panel player of the review page: original, heatmap A, heatmap B.

One small HTML component keeps the panels in step on the timeline of the sampled frames (the frames
the heatmaps were computed for): play/pause, loop, frame stepping, one frame scrubber for all three
and a heatmap opacity slider all run in the browser without a round trip. The clips arrive as hex
text built by :mod:`reviewer.review_media`, so the page carries no URL or file name.
"""

from __future__ import annotations

import json
from pathlib import Path

import streamlit as st

from reviewer.review_media import PlayerMedia

TEMPLATE = (Path(__file__).with_name("review_player.html")).read_text(encoding="utf-8")
BOX_PX = 300
PLAYER_PX = BOX_PX + 110  # panel, caption and one or two rows of controls
DEFAULT_OPACITY_PCT = 100
SAMPLED_NOTE = "The video is shown as the sampled frames the heatmaps were computed on."


def show_player(media: PlayerMedia) -> None:
    """Render the three panels; they start playing muted and looped, as clinicians watch LUS clips."""
    clips = [media.original, media.frames, media.heat_a, media.heat_b]
    data = {
        "clips": [[clip.mime, clip.hex] for clip in clips],
        "n": media.frame_count,
        "opacity": DEFAULT_OPACITY_PCT,
    }
    html = (
        TEMPLATE.replace("__BOX_PX__", str(BOX_PX))
        .replace("__NOTE__", SAMPLED_NOTE if media.original_is_sampled else "")
        .replace("__MEDIA__", json.dumps(data))
    )
    st.iframe(html, height=PLAYER_PX)
