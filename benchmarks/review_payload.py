"""What the review page sends per video: embedded clip sizes and the one-off cost of the frames clip.

The page embeds four clips as hex (twice their bytes). This prints, for the real POCUS originals, how
many a browser plays as stored and the hex payload they would add, and for a 30-frame 224 x 224
clip (the sampled frames, and the size of one CAM overlay) the encode and hex times.

    python -m benchmarks.review_payload [--pocus /work/shared/pocus]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from reviewer.catalog_files import VIDEO_MIME
from reviewer.encode import write_h264

FRAMES, SIDE, FPS = 30, 224, 3.0
MB = 1024 * 1024


def originals(pocus: Path) -> None:
    videos = [p for p in (pocus / "videos").rglob("*") if p.is_file()]
    if not videos:
        print(f"no videos under {pocus}; skipping the originals")
        return
    playable = [p for p in videos if p.suffix.lower() in VIDEO_MIME]
    sizes = sorted(2 * p.stat().st_size / MB for p in playable)
    print(f"originals: {len(videos)} videos, {len(playable)} playable as stored")
    if sizes:
        p90 = sizes[int(0.9 * (len(sizes) - 1))]
        print(f"  hex payload MB: median {statistics.median(sizes):.2f}, p90 {p90:.2f}, max {sizes[-1]:.2f}")


def frames_clip() -> None:
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (FRAMES, SIDE, SIDE, 3), dtype=np.uint8)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "clip.mp4"
        start = time.perf_counter()
        write_h264(frames, FPS, path)
        encoded = time.perf_counter() - start
        data = path.read_bytes()
    start = time.perf_counter()
    text = data.hex()
    hexed = time.perf_counter() - start
    print(f"frames clip ({FRAMES} x {SIDE}^2 noise, worst case for H.264): encode {encoded * 1000:.0f} ms")
    print(f"  {len(data) / 1024:.0f} KiB -> hex {len(text) / 1024:.0f} KiB in {hexed * 1000:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pocus", type=Path, default=Path("/work/shared/pocus"))
    args = parser.parse_args()
    originals(args.pocus)
    frames_clip()


if __name__ == "__main__":
    main()
