"""Work that must finish but need not hold up a response: started now, awaited by no one.

The tasks are referenced until they end (the event loop keeps only weak references), and
whatever they raise is theirs to handle: callers pass coroutines that never raise.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

_running: set[asyncio.Task[Any]] = set()


def run_in_background(coroutine: Coroutine[Any, Any, Any]) -> None:
    task = asyncio.get_running_loop().create_task(coroutine)
    _running.add(task)
    task.add_done_callback(_running.discard)
