"""Usage recording off the request path: events are summed in memory and written in batches.

Recording a usage event on Redis costs a transaction of several commands, and on a busy
gateway that was a third of the CPU of a request. ``BufferedUsageStore`` adds each event to
in-memory totals per (key, model, day) and writes those totals every ``flush_seconds`` (or
sooner once ``max_pending`` distinct rows wait) in one pipeline: hundreds of requests of one
client and model become a handful of ``HINCRBY`` commands.

What this trades, on purpose:

- Other replicas see this one's usage up to ``flush_seconds`` late (reads in this process
  flush first, so they see their own writes).
- A process that is killed (not stopped) loses at most its last ``flush_seconds`` of counts; a
  stopped one flushes on the way out (``aclose``).
- While the store is down, totals keep adding up in memory and are written once it is back:
  an outage delays counts, it does not lose them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from datetime import date
from typing import Protocol

from gateway_core.domain.usage import UsageEvent
from gateway_core.errors import StoreUnavailableError
from gateway_core.ports.usage import UsageTotal

log = logging.getLogger(__name__)

_Row = tuple[str, str, date]


class UsageWriteError(StoreUnavailableError):
    """``add_totals`` failed part-way: the totals of ``written_key_ids`` were written (whole),
    the others not at all. A retry must leave the written ones out."""

    def __init__(self, message: str, written_key_ids: frozenset[str]) -> None:
        super().__init__(message, retry_after=1.0)
        self.written_key_ids = written_key_ids


class BatchUsageStore(Protocol):
    """A usage store that can add whole totals at once (``RedisUsageStore``)."""

    async def add_totals(self, totals: Iterable[UsageTotal]) -> None: ...

    async def totals(self, key_id: str | None, start: date, end: date) -> list[UsageTotal]: ...


class BufferedUsageStore:
    """A ``UsageStore`` in front of a ``BatchUsageStore``; see the module docstring."""

    def __init__(
        self, inner: BatchUsageStore, *, flush_seconds: float = 0.5, max_pending: int = 1000
    ) -> None:
        self._inner = inner
        self._flush_seconds = flush_seconds
        self._max_pending = max_pending
        self._pending: dict[_Row, UsageTotal] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._flushing: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    async def record(self, event: UsageEvent) -> None:
        """Never waits on the store; never raises ``StoreUnavailableError``."""
        self._add(UsageTotal.of(event))
        if len(self._pending) >= self._max_pending:
            self._start_flush()
        elif self._timer is None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self._flush_seconds, self._start_flush)

    async def totals(self, key_id: str | None, start: date, end: date) -> list[UsageTotal]:
        await self.flush()
        return await self._inner.totals(key_id, start, end)

    async def flush(self) -> None:
        """Write what is pending; raises ``StoreUnavailableError`` (keeping it) when down."""
        async with self._lock:
            batch, self._pending = self._pending, {}
            if not batch:
                return
            try:
                await self._inner.add_totals(batch.values())
            except BaseException as error:
                written = error.written_key_ids if isinstance(error, UsageWriteError) else ()
                for total in batch.values():
                    if total.key_id not in written:
                        self._add(total)
                raise

    async def aclose(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._flushing is not None:
            await asyncio.gather(self._flushing, return_exceptions=True)
        try:
            await self.flush()
        except StoreUnavailableError:
            log.error("usage counts could not be written at shutdown: the usage store is down")

    def _add(self, total: UsageTotal) -> None:
        row = (total.key_id, total.model, total.day)
        known = self._pending.get(row)
        self._pending[row] = total if known is None else known + total

    def _start_flush(self) -> None:
        self._timer = None
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.get_running_loop().create_task(self._flush_in_background())

    async def _flush_in_background(self) -> None:
        try:
            await self.flush()
        except StoreUnavailableError:
            # Kept in memory; the next event schedules another try.
            log.warning("usage counts wait in memory: the usage store is unavailable")
        if self._pending and self._timer is None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self._flush_seconds, self._start_flush)
