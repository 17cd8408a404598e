"""The cycle collector paced by time (gateway_http/collector.py): young collections on the
loop's timer while they find garbage, full ones when memory grows or the interval passes,
CPython's own pacing back when it stops."""

from __future__ import annotations

import asyncio
import gc
import json
import time
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from dependency_injector import providers
from litestar import Litestar
from litestar.testing import TestClient

from gateway_http import collector as collector_module
from gateway_http.app import create_app
from gateway_http.collector import PacedCollector
from gateway_http.settings import Settings
from gateway_http.wiring import Container


class _Cycle:
    def __init__(self) -> None:
        self.me = self


class _Recorder:
    """Counts the collections asked for; ``real``: and runs them; else each finds what
    ``found`` gives for its generation (nothing by default)."""

    def __init__(
        self, real: bool = False, found: Callable[[int], int] = lambda generation: 0
    ) -> None:
        self.generations: list[int] = []
        self._real = real
        self._found = found
        self._ticked = asyncio.Event()

    def __call__(self, generation: int) -> int:
        self.generations.append(generation)
        self._ticked.set()
        return gc.collect(generation) if self._real else self._found(generation)

    async def ticks(self, count: int) -> None:
        """Until ``count`` more ticks have run (a slow machine delays timers, never skips)."""
        async with asyncio.timeout(5):
            for _ in range(count):
                self._ticked.clear()
                await self._ticked.wait()


@pytest.fixture(autouse=True)
def _collector_as_it_was() -> Iterator[None]:
    enabled, threshold = gc.isenabled(), gc.get_threshold()
    yield
    gc.set_threshold(*threshold)
    if enabled:
        gc.enable()


async def test_young_collections_run_on_the_timer_with_automatic_collection_off() -> None:
    collect = _Recorder()
    collector = PacedCollector(0.01, 3600, resident=lambda: 100, collect=collect)
    gc.enable()
    collector.start(asyncio.get_running_loop())
    try:
        assert not gc.isenabled()
        await collect.ticks(3)
    finally:
        collector.stop()
    assert gc.isenabled()  # CPython's own pacing is back
    assert len(collect.generations) >= 3
    assert set(collect.generations) == {1}


async def test_a_failing_observer_does_not_stop_the_collections() -> None:
    def observe(generation: str, seconds: float) -> None:
        raise RuntimeError("metrics are broken")

    collect = _Recorder()
    collector = PacedCollector(0.01, 3600, resident=lambda: 100, collect=collect, observe=observe)
    loop = asyncio.get_running_loop()
    errors: list[object] = []
    loop.set_exception_handler(lambda _, context: errors.append(context.get("exception")))
    collector.start(loop)
    try:
        await collect.ticks(3)
    finally:
        collector.stop()
        loop.set_exception_handler(None)
    assert len(collect.generations) >= 3
    assert errors and all(isinstance(error, RuntimeError) for error in errors)


async def test_no_collection_after_stop() -> None:
    collect = _Recorder()
    collector = PacedCollector(0.01, 3600, resident=lambda: 100, collect=collect)
    collector.start(asyncio.get_running_loop())
    collector.stop()
    await asyncio.sleep(0.05)
    assert collect.generations == []


async def test_a_disabled_collector_stays_disabled_after_stop() -> None:
    gc.disable()
    collector = PacedCollector(0.01, 3600, resident=lambda: 100, collect=_Recorder())
    collector.start(asyncio.get_running_loop())
    collector.stop()
    assert not gc.isenabled()


async def test_a_full_collection_when_resident_memory_grew_by_a_quarter() -> None:
    resident = [1000]
    collect = _Recorder()
    collector = PacedCollector(0.01, 3600, resident=lambda: resident[0], collect=collect)
    collector.start(asyncio.get_running_loop())
    try:
        resident[0] = 1250  # a quarter more: not yet
        await collect.ticks(2)
        assert 2 not in collect.generations
        resident[0] = 1251
        await collect.ticks(2)
        assert collect.generations.count(2) == 1  # and the ceiling moved up with it
        resident[0] = 1500
        await collect.ticks(2)
        assert collect.generations.count(2) == 1
        resident[0] = 1564  # a quarter above what it was after the full collection
        await collect.ticks(2)
    finally:
        collector.stop()
    assert collect.generations.count(2) == 2
    assert collector.full_collections == 2


async def test_a_full_collection_when_the_interval_has_passed() -> None:
    now = [0.0]
    collect = _Recorder()
    collector = PacedCollector(
        0.01, 60, resident=lambda: 100, clock=lambda: now[0], collect=collect
    )
    collector.start(asyncio.get_running_loop())
    try:
        now[0] = 59.9
        await collect.ticks(2)
        assert 2 not in collect.generations
        now[0] = 60.0
        await collect.ticks(2)
        assert collect.generations.count(2) == 1
        now[0] = 119.0  # the next one is due 60 s after that collection, not after start
        await collect.ticks(2)
        assert collect.generations.count(2) == 1
    finally:
        collector.stop()


async def test_a_young_cycle_is_freed_by_the_next_tick_with_automatic_collection_off() -> None:
    collect = _Recorder(real=True)
    collector = PacedCollector(0.01, 3600, resident=lambda: 100, collect=collect)
    collector.start(asyncio.get_running_loop())
    try:
        cycle = _Cycle()
        gone = weakref.ref(cycle)
        del cycle
        assert gone() is not None  # only the collector frees a cycle, and it is not automatic
        await collect.ticks(2)
        assert gone() is None
    finally:
        collector.stop()


def _real_collector_on_a_clock() -> tuple[list[float], _Recorder, PacedCollector]:
    """A collector that really collects, a full collection due 60 s after the last on a clock
    the test moves (``now[0]``)."""
    now = [0.0]
    collect = _Recorder(real=True)
    collector = PacedCollector(
        0.01, 60, resident=lambda: 100, clock=lambda: now[0], collect=collect
    )
    return now, collect, collector


async def test_an_old_cycle_is_freed_by_a_full_collection() -> None:
    now, collect, collector = _real_collector_on_a_clock()
    collector.start(asyncio.get_running_loop())
    try:
        cycle = _Cycle()
        gone = weakref.ref(cycle)
        await collect.ticks(2)  # it survives young collections: it is old now
        del cycle
        await collect.ticks(2)
        assert gone() is not None  # young collections do not scan the old generation
        now[0] = 60.0
        await collect.ticks(2)
        assert gone() is None
    finally:
        collector.stop()


async def test_young_collections_stop_once_enough_in_a_row_found_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(collector_module, "QUIET_YOUNG_COLLECTIONS", 3)
    found = iter([0, 0, 4, 0, 0, 0])  # the third finds garbage: the count starts again
    collect = _Recorder(found=lambda generation: next(found))
    collector = PacedCollector(0.01, 3600, resident=lambda: 100, collect=collect)
    collector.start(asyncio.get_running_loop())
    try:
        await collect.ticks(6)
        assert not collector.collecting_young
        await asyncio.sleep(0.1)  # ten more ticks: they collect nothing
    finally:
        collector.stop()
    assert collect.generations == [1] * 6


@pytest.mark.parametrize(
    ("found", "collections"),
    [(0, [1, 1, 2]), (9, [1, 1, 2, 1, 1])],  # young ones again only after a full found some
)
async def test_with_young_collections_stopped_the_ticks_still_start_full_ones(
    found: int, collections: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(collector_module, "QUIET_YOUNG_COLLECTIONS", 2)
    resident = [1000]
    collect = _Recorder(found=lambda generation: found if generation == 2 else 0)
    collector = PacedCollector(0.01, 3600, resident=lambda: resident[0], collect=collect)
    collector.start(asyncio.get_running_loop())
    try:
        await collect.ticks(2)
        assert not collector.collecting_young
        resident[0] = 2000
        await collect.ticks(1)
        assert collector.collecting_young is (found > 0)
        await collect.ticks(len(collections) - 3)
        assert not collector.collecting_young
        await asyncio.sleep(0.05)
    finally:
        collector.stop()
    assert collect.generations == collections
    assert collector.full_collections == 1


async def test_with_young_collections_stopped_a_new_cycle_waits_for_the_full_collection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(collector_module, "QUIET_YOUNG_COLLECTIONS", 1)
    now, collect, collector = _real_collector_on_a_clock()
    collector.start(asyncio.get_running_loop())
    try:
        for _ in range(20):  # until one finds nothing (the test's own garbage may linger)
            if not collector.collecting_young:
                break
            await collect.ticks(1)
        assert not collector.collecting_young
        cycle = _Cycle()
        gone = weakref.ref(cycle)
        del cycle
        await asyncio.sleep(0.05)
        assert gone() is not None
        now[0] = 60.0
        await collect.ticks(1)
        assert gone() is None
        assert collector.collecting_young  # the full collection found it
    finally:
        collector.stop()


def _app_with(tmp_path: Path, **settings: object) -> Litestar:
    config = tmp_path / "providers.json"
    config.write_text(json.dumps({"providers": {}, "models": {}}))
    container = Container()
    container.settings.override(
        providers.Object(Settings(providers_config=config, **settings))  # type: ignore[arg-type]
    )
    return create_app(container)


def test_the_gateway_paces_the_collector_while_it_runs_and_counts_its_pauses(
    tmp_path: Path,
) -> None:
    gc.enable()
    with TestClient(_app_with(tmp_path, gc_young_interval_ms=5)) as client:
        assert client.get("/health").status_code == 200
        assert not gc.isenabled()
        young = 'llm_gateway_gc_pause_seconds_count{generation="young"}'
        deadline = time.monotonic() + 5
        while young not in (text := client.get("/metrics").text) and time.monotonic() < deadline:
            time.sleep(0.01)
        [count] = [line.split()[-1] for line in text.splitlines() if line.startswith(young)]
        assert float(count) >= 1
    assert gc.isenabled()


async def test_each_collection_is_told_with_its_generation_and_duration() -> None:
    resident, seen = [100], []
    collect = _Recorder()
    collector = PacedCollector(
        0.01, 3600, resident=lambda: resident[0], collect=collect,
        observe=lambda generation, seconds: seen.append((generation, seconds)),
    )  # fmt: skip
    collector.start(asyncio.get_running_loop())
    try:
        await collect.ticks(1)
        resident[0] = 1000
        await collect.ticks(1)
    finally:
        collector.stop()
    assert [generation for generation, _ in seen[:2]] == ["young", "full"]
    assert all(0 <= seconds < 1 for _, seconds in seen)


def test_an_interval_of_zero_leaves_pacing_to_cpython(tmp_path: Path) -> None:
    gc.enable()
    with TestClient(_app_with(tmp_path, gc_young_interval_ms=0)) as client:
        assert client.get("/health").status_code == 200
        assert gc.isenabled()
        assert gc.get_threshold()[0] == 10_000
