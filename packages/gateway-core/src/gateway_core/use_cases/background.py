"""Work that must finish but need not hold up a response: started now, awaited by no one
but the owner of the ``BackgroundTasks`` (the HTTP app's lifespan drains it at shutdown,
before the stores close, so the billing of an abandoned stream is not lost).

The tasks are referenced until they end (the event loop keeps only weak references), and
whatever they raise is theirs to handle: callers pass coroutines that never raise.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any


class BackgroundTasks:
    def __init__(self) -> None:
        self._running: set[asyncio.Task[Any]] = set()

    @property
    def running(self) -> int:
        """How many tasks have not ended yet (no ``__len__``: an idle one must stay truthy)."""
        return len(self._running)

    def run(self, coroutine: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Start ``coroutine``; its task, for a caller that wants to know when it ended."""
        task = asyncio.get_running_loop().create_task(coroutine)
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        return task

    async def drain(self, timeout_seconds: float) -> bool:
        """Wait for the running tasks (and any they start) up to the deadline; ``False`` when
        some were still running then (they are cancelled)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_seconds
        while self._running:
            remaining = deadline - loop.time()
            if remaining <= 0:
                for task in tuple(self._running):
                    task.cancel()
                return False
            await asyncio.wait(tuple(self._running), timeout=remaining)
        return True
