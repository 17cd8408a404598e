from __future__ import annotations

from typing import Protocol


class Clock(Protocol):
    """Time, injectable so that TTLs and limits can be tested without sleeping."""

    def now(self) -> float:
        """Seconds since the Unix epoch (wall clock, UTC)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards, for measuring durations."""
        ...
