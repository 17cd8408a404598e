"""Two counts over a sliding window, kept in a ring of fixed buckets."""

from __future__ import annotations

_BUCKETS = 10


class SlidingCounts:
    """``add(now, first, second)``, ``totals(now)``: the sums over the last ``window_seconds``
    (to the nearest bucket, a tenth of the window)."""

    __slots__ = ("_first", "_second", "_stamps", "_width")

    def __init__(self, window_seconds: float) -> None:
        self._width = window_seconds / _BUCKETS
        self._stamps = [-1] * _BUCKETS
        self._first = [0] * _BUCKETS
        self._second = [0] * _BUCKETS

    def add(self, now: float, first: int = 0, second: int = 0) -> None:
        tick = int(now / self._width)
        slot = tick % _BUCKETS
        if self._stamps[slot] != tick:
            self._stamps[slot] = tick
            self._first[slot] = 0
            self._second[slot] = 0
        self._first[slot] += first
        self._second[slot] += second

    def totals(self, now: float) -> tuple[int, int]:
        oldest = int(now / self._width) - _BUCKETS + 1
        first = second = 0
        for slot, stamp in enumerate(self._stamps):
            if stamp >= oldest:
                first += self._first[slot]
                second += self._second[slot]
        return first, second
