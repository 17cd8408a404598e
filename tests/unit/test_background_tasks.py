"""BackgroundTasks: work no response waits for, drained (with a deadline) at shutdown."""

from __future__ import annotations

import asyncio

from gateway_core.use_cases.background import BackgroundTasks


async def test_drain_waits_for_running_work_and_what_it_starts() -> None:
    tasks = BackgroundTasks()
    done: list[str] = []

    async def second() -> None:
        await asyncio.sleep(0.01)
        done.append("second")

    async def first() -> None:
        await asyncio.sleep(0.01)
        done.append("first")
        tasks.run(second())

    tasks.run(first())
    assert await tasks.drain(5.0)
    assert done == ["first", "second"] and len(tasks) == 0


async def test_drain_gives_up_at_the_deadline_and_cancels_the_rest() -> None:
    tasks = BackgroundTasks()
    cancelled = asyncio.Event()

    async def stuck() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    tasks.run(stuck())
    await asyncio.sleep(0)
    assert not await tasks.drain(0.05)
    await asyncio.wait_for(cancelled.wait(), 1)
