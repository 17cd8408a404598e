"""The end of a shutdown's drain: model calls still running when it passes are ended cleanly.

A server stopping (SIGTERM) lets its requests finish for a grace period; one that holds a
stream for longer would be cut by the server mid-stream (the client sees a broken connection)
or hold the process past its termination deadline. At the curfew (``impose``), every watched
model call ends with ``ServerShuttingDownError``: a JSON request fails with a 503 the client
may retry elsewhere, a stream that already started ends with its door's error event, and the
turn is accounted as abandoned like any other early end.

How: like ``asyncio.timeout``, by cancelling the task that awaits the call and turning that
cancellation into the error where the watch began. A stream is watched per chunk, only while
it awaits its source: a task is never cancelled while it is writing to its client (the next
chunk it asks for fails instead). Cancellations that are not the curfew's pass unchanged.
Cost on the hot path: a set insertion per call, two attribute writes per streamed chunk.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from types import TracebackType
from typing import TypeVar

from gateway_core.errors import ServerShuttingDownError

T = TypeVar("T")

_MESSAGE = "The gateway is shutting down; send the request again."
_RETRY_AFTER_SECONDS = 1.0


def shutting_down() -> ServerShuttingDownError:
    return ServerShuttingDownError(_MESSAGE, retry_after=_RETRY_AFTER_SECONDS)


class _Watch:
    """One watched call: the task awaiting it (while it awaits), and whether the curfew
    cancelled that task."""

    __slots__ = ("cancelled", "cancelling", "task")

    def __init__(self) -> None:
        self.task: asyncio.Task[object] | None = None
        self.cancelled = False
        self.cancelling = 0

    def arm(self) -> asyncio.Task[object] | None:
        task = self.task = asyncio.current_task()
        if task is not None:
            self.cancelling = task.cancelling()
        return task

    def expire(self) -> None:
        task = self.task
        if task is not None and not self.cancelled:
            self.cancelled = True
            task.cancel(msg="the shutdown's grace period ended")

    def converts(self, error: BaseException | None) -> bool:
        """Whether ``error`` is the curfew's cancellation (then it is taken back)."""
        task = self.task
        if not self.cancelled or task is None:
            return False
        self.cancelled = False
        return task.uncancel() <= self.cancelling and isinstance(error, asyncio.CancelledError)


class Curfew:
    """See the module docstring. One per process, shared by every turn."""

    def __init__(self) -> None:
        self._imposed = False
        self._watched: set[_Watch] = set()

    @property
    def imposed(self) -> bool:
        return self._imposed

    @property
    def watched(self) -> int:
        """How many calls are watched now (a stream between chunks counts)."""
        return len(self._watched)

    def impose(self) -> None:
        """The grace period is over: end every watched call now, and any that starts later.
        Call it in the event loop's thread."""
        self._imposed = True
        for watch in tuple(self._watched):
            watch.expire()

    def call(self) -> _CallWatch:
        """``with curfew.call(): ...`` around an awaited call: the block ends with
        ``ServerShuttingDownError`` at the curfew (and does not start after it)."""
        return _CallWatch(self)

    async def stream(self, source: AsyncIterator[T]) -> AsyncGenerator[T, None]:
        """``source``'s items; at the curfew, waiting for the next one ends with
        ``ServerShuttingDownError``. Closing the result does not close ``source``."""
        watch = self.watch_stream()
        try:
            while True:
                watch.arm()
                try:
                    item = await anext(source)
                except StopAsyncIteration:
                    return
                except BaseException as error:
                    if watch.converts(error):
                        raise shutting_down() from None
                    raise
                finally:
                    watch.disarm()
                yield item
        finally:
            watch.close()

    def watch_stream(self) -> StreamWatch:
        """What ``stream`` does, for a driver that awaits its source's items itself (one
        async generator fewer that every chunk passes through): ``arm()`` before each
        await, ``converts(error)`` for what it raised, ``disarm()`` after it,
        ``close()`` at the end."""
        return StreamWatch(self)


class StreamWatch:
    """One stream watched by the curfew (``Curfew.watch_stream``)."""

    __slots__ = ("_curfew", "_watch")

    def __init__(self, curfew: Curfew) -> None:
        self._curfew = curfew
        self._watch = _Watch()
        curfew._watched.add(self._watch)

    def arm(self) -> None:
        """Before awaiting the next item: past the curfew, ``ServerShuttingDownError``."""
        if self._curfew._imposed:
            raise shutting_down()
        self._watch.arm()

    def disarm(self) -> None:
        self._watch.task = None

    def converts(self, error: BaseException) -> bool:
        """Whether ``error`` from the await is the curfew's cancellation (then raise
        ``shutting_down()`` instead; it is taken back)."""
        return self._watch.converts(error)

    def close(self) -> None:
        self._curfew._watched.discard(self._watch)


class _CallWatch(_Watch):
    """A plain (not async) context manager: entering and leaving never wait, and a coroutine
    pair per model call was measurable on the JSON path."""

    __slots__ = ("_curfew",)

    def __init__(self, curfew: Curfew) -> None:
        self.task = None
        self.cancelled = False
        self.cancelling = 0
        self._curfew = curfew

    def __enter__(self) -> None:
        curfew = self._curfew
        if curfew._imposed:
            raise shutting_down()
        self.arm()
        curfew._watched.add(self)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._curfew._watched.discard(self)
        converts = self.cancelled and self.converts(error)  # no call when it never fired
        self.task = None
        if converts:
            raise shutting_down() from None
