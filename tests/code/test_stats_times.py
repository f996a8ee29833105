"""Reading time by class and by position in the list, on a hand-computed fixture."""

from __future__ import annotations

import pytest

from reviewer.stats_data import unblind
from reviewer.stats_times import time_by_class, time_by_position
from tests.code.stock_study import answer


def test_time_by_class_and_position() -> None:
    frame = unblind(
        [
            answer(0, 10, seconds=30.0),
            answer(1, 11, seconds=10.0, label="healthy"),
            answer(2, 12, seconds=20.0),
            answer(3, 13, seconds=5.0, label="healthy"),
            answer(4, 10, seconds=4.0, reread_of=0),
        ]
    )
    covid, healthy, viral = time_by_class(frame, classes=["covid", "healthy", "viral"])
    assert (covid.group, covid.n, covid.median_seconds) == ("covid", 3, 20.0)
    assert (healthy.n, healthy.median_seconds) == (2, 7.5)
    assert (viral.n, viral.median_seconds, viral.message) == (0, None, "no answers for viral")
    bins = time_by_position(frame, bin_size=2)
    assert [(b.group, b.n, b.median_seconds) for b in bins] == [
        ("0-1", 2, 20.0),
        ("2-3", 2, 12.5),
        ("4-5", 1, 4.0),
    ]
    assert [b.group for b in time_by_position(frame)] == ["0", "1", "2", "3", "4"]
    with pytest.raises(ValueError, match="bin_size"):
        time_by_position(frame, bin_size=0)
