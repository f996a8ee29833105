"""How long the statistics page and exports take for a study of realistic size (no database).

A synthetic study: ``--videos`` videos (classes in turn) read by ``--experts`` experts with 10%
re-reads, random answers, and ``--frames`` CAM peaks per CAM asset. Prints seconds for
``compute_statistics`` (1000 bootstrap and 1000 permutation draws by default), the JSON, the CSV
and the HTML report, and the size of the report.

    python -m benchmarks.stats_compute
    python -m benchmarks.stats_compute --videos 100 --experts 3 --frames 30
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from reviewer.stats_data import AnswerRecord, unblind
from reviewer.stats_export import html_report, statistics_text, tidy_csv
from reviewer.stats_locations import PeakRecord, peak_frame
from reviewer.stats_records import StudyData
from reviewer.stats_report import compute_statistics

CLASSES = ("covid", "pneumonia", "healthy")
PATTERNS = ("a_lines", "b_lines", "consolidation", "pleural_line_irregularity", "skin", "fat")


def _records(videos: int, experts: int, rng: np.random.Generator) -> list[AnswerRecord]:
    records: list[AnswerRecord] = []
    for expert in range(experts):
        firsts: list[int] = []
        for position in range(int(videos * 1.1)):
            reread = position >= videos
            video = firsts[position - videos] if reread else position
            item = len(records) + 1
            records.append(
                AnswerRecord(
                    study_item_id=item,
                    video_id=video,
                    video_name=f"video-{video}.mp4",
                    label=CLASSES[video % 3],
                    predicted=CLASSES[video % 3],
                    expert_id=expert,
                    expert_name=f"Expert {expert}",
                    is_reference=expert == 0,
                    position=position,
                    left_kind=("train", "test")[int(rng.integers(2))],
                    reread_of=firsts[position - videos] + 1 + expert * int(videos * 1.1) if reread else None,
                    score_a=int(rng.integers(-3, 4)),
                    score_b=int(rng.integers(-3, 4)),
                    preferred=("a", "b", "equal")[int(rng.integers(3))],
                    class_guess=CLASSES[int(rng.integers(3))],
                    patterns_visible=[p for p in PATTERNS[:4] if rng.random() < 0.4],
                    patterns_a=[p for p in PATTERNS if rng.random() < 0.3],
                    patterns_b=[p for p in PATTERNS if rng.random() < 0.3],
                    seconds_spent=float(rng.gamma(4, 10)),
                )
            )
            if not reread:
                firsts.append(video)
    return records


def _study(videos: int, experts: int, frames: int, seed: int) -> StudyData:
    rng = np.random.default_rng(seed)
    peaks = [
        PeakRecord(
            video_id=v,
            label=CLASSES[v % 3],
            cam_type=kind,
            peaks=rng.normal(60 + 30 * (v % 3), 25, size=(frames, 2)).astype(int).tolist(),
        )
        for v in range(videos)
        for kind in ("train", "test")
    ]
    return StudyData(
        study_id=1,
        name="Benchmark",
        state="closed",
        preview=False,
        run_id=1,
        classes=CLASSES,
        reference_expert="Expert 0",
        frame=unblind(_records(videos, experts, rng)),
        peaks=peak_frame(peaks),
    )


def _timed(label: str, action: Callable[[], Any]) -> Any:
    start = time.perf_counter()
    result = action()
    print(f"{label}: {time.perf_counter() - start:.2f} s")
    return result


def main() -> None:
    """Build the synthetic study and time every step the page and the exports run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--videos", type=int, default=60)
    parser.add_argument("--experts", type=int, default=2)
    parser.add_argument("--frames", type=int, default=20, help="CAM peaks per asset")
    parser.add_argument("--draws", type=int, default=1000, help="bootstrap and permutation draws")
    args = parser.parse_args()
    data = _study(args.videos, args.experts, args.frames, seed=0)
    print(f"{len(data.frame)} answer rows, {len(data.peaks)} peaks, {args.draws} draws")
    stats = _timed(
        "compute_statistics", lambda: compute_statistics(data, n_boot=args.draws, n_perm=args.draws)
    )
    _timed("JSON", lambda: statistics_text(stats))
    _timed("CSV", lambda: tidy_csv(stats))
    report = _timed("HTML report", lambda: html_report(stats))
    print(f"HTML report: {len(report.encode()) / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
