"""Encode frames into videos that browsers play (OpenCV's wheels cannot write H.264)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np


def write_h264(frames: np.ndarray, fps: float, path: Path) -> Path:
    """Write ``(T, H, W, 3)`` uint8 RGB frames as an H.264 MP4 (yuv420p, even sides) for the browser.

    Odd sides are cropped by one pixel because yuv420p needs even dimensions. The rate is kept exact
    (a fraction, not rounded), so clips meant to play in step (the review panels) last exactly as long.
    """
    height, width = (frames.shape[1] // 2) * 2, (frames.shape[2] // 2) * 2
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": "20", "preset": "veryfast", "movflags": "+faststart"}
        for frame in frames:
            image = np.ascontiguousarray(frame[:height, :width])
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode(None))
    return path
