"""The cycle collector paced by time: a short young collection every few tens of milliseconds,
a full one only when memory has grown or a long interval has passed.

CPython starts a collection when the container objects allocated minus those freed pass a
threshold. A gateway holding thousands of open streams frees old objects (the streams that
end) about as fast as it makes new ones (the streams that start), so that difference stays
near zero while the youngest generation keeps growing: when a collection finally comes, it
scans every object made since the one before, tens of thousands of them, and every open
stream waits for it (20-150 ms at 1,000-2,000 slow streams; ``bench.profile_slow --gc``).

Paced by time, each young collection scans only what was made since the previous tick and
is still alive (about a millisecond at 2,000 open streams); what survives it goes to the old
generation. The old generation is scanned in full only when the process's resident memory
has grown by a quarter since the last full collection (so cycles left behind, which only a
full collection frees, cannot grow memory without bound) or when ``full_interval_s`` has
passed. The gateway's request paths leave no cycles behind (a census after thousands of
streams found none), so the full collection has little to free; it is the bound, not the
routine.

So young collections run only while they find something. Once ``QUIET_YOUNG_COLLECTIONS`` in
a row have found no garbage (a gateway past its start-up: the Redis pool's new connections
leave a few cycles behind, then nothing does), they stop, and the ticks only watch for a full
collection's cue. What they scanned was every open stream's objects once each, for nothing:
at 1,000 slow streams on a saturated core, 5-6% of the CPU and pauses of up to 5 ms. What is
made meanwhile stays in the young generation, and the next full collection scans it as it
would have scanned it in the old one: its pause is the same. A full collection that finds
garbage starts the young collections again, since something now leaves cycles behind.
"""

from __future__ import annotations

import asyncio
import gc
import os
import resource
import time
from collections.abc import Callable
from functools import cache

_GROWTH = 1.25
"""A full collection once resident memory is this many times what it was after the last."""

QUIET_YOUNG_COLLECTIONS = 50
"""Young collections stop after this many in a row found no garbage (a second at 20 ms)."""


@cache
def _resident_reader() -> Callable[[], int]:
    """Resident memory now: /proc's statm where there is one (a read of a few bytes), else
    the peak (which also grows when memory does)."""
    try:
        statm = os.open("/proc/self/statm", os.O_RDONLY)
    except OSError:
        return lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    page = os.sysconf("SC_PAGE_SIZE")
    return lambda: int(os.pread(statm, 64, 0).split()[1]) * page


class PacedCollector:
    """Owns the cycle collector while it runs: CPython's automatic collection is off, young
    collections come from the event loop's timer while they find garbage, full ones when
    memory or time says so."""

    def __init__(
        self,
        young_interval_s: float,
        full_interval_s: float,
        *,
        resident: Callable[[], int] | None = None,
        clock: Callable[[], float] = time.monotonic,
        collect: Callable[[int], int] = gc.collect,
        observe: Callable[[str, float], None] | None = None,
    ) -> None:
        """``observe(generation, seconds)``: told each collection (``young`` or ``full``)
        and how long it held the loop (``llm_gateway_gc_pause_seconds``)."""
        self._young_interval = young_interval_s
        self._full_interval = full_interval_s
        self._resident = resident or _resident_reader()
        self._clock = clock
        self._collect = collect
        self._observe = observe
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._was_enabled = False
        self._full_due = 0.0
        self._ceiling = 0
        self._quiet = 0
        self.full_collections = 0
        self.collecting_young = True
        """Whether the ticks collect the young generation (until they keep finding nothing)."""

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._was_enabled = gc.isenabled()
        gc.disable()
        self._loop = loop
        self._after_full()
        self._timer = loop.call_later(self._young_interval, self._tick)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._was_enabled:
            gc.enable()

    def _tick(self) -> None:
        assert self._loop is not None  # started
        # The next tick first: whatever fails below, collections go on (with automatic
        # collection off, a stopped timer would leave every cycle to grow memory).
        self._timer = self._loop.call_later(self._young_interval, self._tick)
        started = time.perf_counter()
        if self._clock() >= self._full_due or self._resident() > self._ceiling:
            if self._collect(2):  # something leaves cycles behind: young collections again
                self.collecting_young, self._quiet = True, 0
            self.full_collections += 1
            self._after_full()
            generation = "full"
        elif self.collecting_young:
            # Generations 0 and 1 together: what was made since the last tick (generation 1
            # is empty after every tick), so that survivors are promoted once, not twice.
            if self._collect(1):
                self._quiet = 0
            else:
                self._quiet += 1
                self.collecting_young = self._quiet < QUIET_YOUNG_COLLECTIONS
            generation = "young"
        else:
            return
        if self._observe is not None:
            self._observe(generation, time.perf_counter() - started)

    def _after_full(self) -> None:
        self._full_due = self._clock() + self._full_interval
        self._ceiling = int(self._resident() * _GROWTH)
