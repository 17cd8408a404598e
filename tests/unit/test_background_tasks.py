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
    assert done == ["first", "second"] and tasks.running == 0


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


def test_an_idle_set_handed_in_is_the_one_used() -> None:
    # It once was replaced by a new one when empty (``background or BackgroundTasks()``), so
    # that the lifespan drained a set no turn ever used.
    from gateway_core import build_gateway
    from gateway_core.testing import ScriptedProvider

    gateway = build_gateway([ScriptedProvider()])
    assert gateway.chat.background is gateway.background
