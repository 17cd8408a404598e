"""The shutdown's deadline for streams: SIGTERM (or SIGINT) starts the grace period's clock,
and when it is about to run out the curfew (``gateway_core.use_cases.curfew``) ends what
still runs with an error event, before uvicorn would cut it.

uvicorn stops accepting and drains on the signal, for ``timeout_graceful_shutdown`` (the
grace period, ``LLM_GATEWAY_SHUTDOWN_GRACE_SECONDS``), then cancels whatever still runs: a
stream is then cut without a word, a JSON request gets a bare 500. The app learns of the
signal only here: uvicorn installs its handlers before the app starts (``capture_signals``),
and this chains onto them for the app's lifetime. The curfew falls ``reserve_seconds`` before
the grace period ends, so that the error events are written, the connections close and
uvicorn's drain finishes on its own; the abandoned turns' accounting is then drained by the
lifespan before the stores close.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from gateway_core.use_cases.curfew import Curfew

log = logging.getLogger("gateway_http")

_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def reserve_seconds(grace_seconds: float) -> float:
    """How long before the grace period's end the curfew falls: a second, or a quarter of a
    short grace period."""
    return min(1.0, grace_seconds / 4)


def curfew_after_signal(curfew: Curfew, grace_seconds: float) -> Callable[[], None]:
    """Chain the server's SIGTERM/SIGINT handlers (call in the event loop, at start-up);
    returns the undo. Nothing is chained outside the main thread (a server in a test's
    thread handles no signals) or where no Python handler is installed."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    loop = asyncio.get_running_loop()
    delay = max(0.0, grace_seconds - reserve_seconds(grace_seconds))
    timer: list[asyncio.TimerHandle] = []

    def start_clock() -> None:
        if not timer and not curfew.imposed:
            log.info("shutting down: streams still running in %.1fs end with an error", delay)
            timer.append(loop.call_later(delay, _impose, curfew))

    previous: dict[int, Any] = {}
    for signum in _SIGNALS:
        handler = signal.getsignal(signum)
        if not callable(handler):
            continue

        def chained(number: int, frame: FrameType | None, handler: Any = handler) -> None:
            loop.call_soon_threadsafe(start_clock)
            handler(number, frame)

        previous[signum] = handler
        signal.signal(signum, chained)

    def undo() -> None:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for handle in timer:
            handle.cancel()

    return undo


def _impose(curfew: Curfew) -> None:
    if curfew.watched:
        log.warning("the shutdown's grace period is over: ending %d call(s)", curfew.watched)
    curfew.impose()
