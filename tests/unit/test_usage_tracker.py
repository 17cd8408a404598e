"""Pricing and recording usage, and monthly budgets across month boundaries."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

import pytest

from gateway_core.domain.money import Money
from gateway_core.domain.pricing import Price, PriceTable
from gateway_core.domain.usage import Usage
from gateway_core.errors import BudgetExceededError, StoreUnavailableError
from gateway_core.memory.usage import InMemoryUsageStore
from gateway_core.testing import FakeClock
from gateway_core.use_cases.background import BackgroundTasks
from gateway_core.use_cases.usage import MonthlyBudget, UsageTracker

PRICES = PriceTable.from_entries(
    [("model-a", Price.per_million(1, 2, "0.5")), ("local/*", Price.per_million(0, 0))]
)
SIXTY_CENTS = Usage(prompt_tokens=300_000, completion_tokens=150_000)


def _clock_at(*when: int) -> FakeClock:
    return FakeClock(start=datetime(*when, tzinfo=UTC).timestamp())


def _setup(clock: FakeClock) -> tuple[UsageTracker, MonthlyBudget, InMemoryUsageStore]:
    store = InMemoryUsageStore(clock)
    # refresh_seconds=0: every check reads the store, as these tests spend behind its back.
    return UsageTracker(PRICES, store, clock), MonthlyBudget(store, clock, 0), store


async def _spend(
    tracker: UsageTracker, key_id: str, times: int, usage: Usage = SIXTY_CENTS
) -> None:
    for _ in range(times):
        await tracker.record(key_id=key_id, model="model-a", provider="p", usage=usage)


async def test_a_call_is_priced_exactly_and_appended() -> None:
    clock = _clock_at(2026, 3, 10, 12)
    tracker, _, store = _setup(clock)
    usage = Usage(prompt_tokens=1_000, completion_tokens=500, cached_tokens=400)
    event = await tracker.record(key_id="k1", model="model-a", provider="p", usage=usage)
    # 600 x $1/M + 400 x $0.5/M + 500 x $2/M
    assert (event.cost_usd, event.priced, event.cached) == (Money.usd("0.0018"), True, False)
    assert event.timestamp == clock.now()
    [total] = await store.totals("k1", date(2026, 3, 1), date(2026, 3, 31))
    assert (total.requests, total.prompt_tokens, total.completion_tokens) == (1, 1_000, 500)
    assert (total.cached_tokens, total.cost_usd, total.cache_hits) == (400, Money.usd("0.0018"), 0)


async def test_a_cache_hit_costs_nothing_and_is_counted_as_a_hit() -> None:
    tracker, _, store = _setup(_clock_at(2026, 3, 10))
    event = await tracker.record(
        key_id="k1", model="model-a", provider="p", usage=SIXTY_CENTS, cache_hit=True
    )
    assert (event.cost_usd, event.cached, event.usage) == (Money.ZERO, True, SIXTY_CENTS)
    [total] = await store.totals("k1", date(2026, 3, 10), date(2026, 3, 10))
    assert (total.requests, total.cache_hits, total.cost_usd) == (1, 1, Money.ZERO)
    assert (total.prompt_tokens, total.completion_tokens) == (0, 0)


async def test_an_unpriced_model_costs_nothing_and_says_so() -> None:
    tracker, _, _ = _setup(_clock_at(2026, 3, 10))
    event = await tracker.record(key_id="k1", model="mystery", provider="p", usage=SIXTY_CENTS)
    assert (event.cost_usd, event.priced) == (Money.ZERO, False)
    free = tracker.quote("local/qwen", SIXTY_CENTS)
    assert (free.cost_usd, free.priced) == (Money.ZERO, True)


async def test_a_key_over_its_budget_is_refused_until_the_month_turns() -> None:
    clock = _clock_at(2026, 1, 31, 23)
    tracker, budget, _ = _setup(clock)
    await budget.ensure_within_budget("k1", Money.usd("1.0"))
    await _spend(tracker, "k1", 2)  # $1.20
    with pytest.raises(BudgetExceededError) as refused:
        await budget.ensure_within_budget("k1", Money.usd("1.0"))
    assert refused.value.code == "budget_exceeded"
    assert refused.value.retry_after == 3600.0  # until 2026-02-01T00:00Z
    assert "2026-02-01" in refused.value.message and "k1" not in refused.value.message
    clock.advance(3600)
    await budget.ensure_within_budget("k1", Money.usd("1.0"))
    assert await budget.spent_this_month("k1") == Money.usd("0.0")


async def test_spending_exactly_the_budget_exhausts_it() -> None:
    tracker, budget, _ = _setup(_clock_at(2026, 5, 15))
    await _spend(tracker, "k1", 1, Usage(prompt_tokens=100_000))  # $0.10
    await _spend(tracker, "k1", 1, Usage(prompt_tokens=200_000))  # $0.20
    assert await budget.spent_this_month("k1") == Money.usd("0.3")
    await budget.ensure_within_budget("k1", Money.usd("0.3000000001"))
    with pytest.raises(BudgetExceededError):
        await budget.ensure_within_budget("k1", Money.usd("0.3"))


async def test_the_budget_counts_only_this_key_and_this_month() -> None:
    clock = _clock_at(2026, 4, 30, 12)
    tracker, budget, _ = _setup(clock)
    await _spend(tracker, "k1", 5)  # April: $3.00
    clock.advance(86_400)  # 2026-05-01
    await _spend(tracker, "k2", 5)  # another key's May
    await _spend(tracker, "k1", 1)  # $0.60 in May
    assert await budget.spent_this_month("k1") == Money.usd("0.6")
    await budget.ensure_within_budget("k1", Money.usd("1.0"))


async def test_the_year_rolls_over_in_december() -> None:
    clock = _clock_at(2026, 12, 31, 23, 30)
    tracker, budget, _ = _setup(clock)
    await _spend(tracker, "k1", 1)
    with pytest.raises(BudgetExceededError) as refused:
        await budget.ensure_within_budget("k1", Money.usd("0.5"))
    assert refused.value.retry_after == 1800.0
    clock.advance(1800)
    await budget.ensure_within_budget("k1", Money.usd("0.5"))


async def test_no_budget_means_no_limit() -> None:
    tracker, budget, _ = _setup(_clock_at(2026, 6, 1))
    await _spend(tracker, "k1", 10)
    await budget.ensure_within_budget("k1", None)


async def test_a_zero_budget_refuses_everything() -> None:
    _, budget, _ = _setup(_clock_at(2026, 6, 1))
    with pytest.raises(BudgetExceededError):
        await budget.ensure_within_budget("k1", Money.usd("0.0"))


async def test_the_budget_reads_the_store_once_per_refresh_and_counts_local_spend() -> None:
    clock = _clock_at(2026, 5, 15)
    store = InMemoryUsageStore(clock)
    tracker, budget = UsageTracker(PRICES, store, clock), MonthlyBudget(store, clock, 5.0)
    await budget.ensure_within_budget("k1", Money.usd("1.0"))
    event = await tracker.record(key_id="k1", model="model-a", provider="p", usage=SIXTY_CENTS)
    budget.note("k1", event.cost_usd)  # what ServeChat does after each answer
    await budget.ensure_within_budget("k1", Money.usd("1.0"))
    await _spend(tracker, "k1", 1)  # another replica's spending: not seen yet...
    budget.note("k1", Money.ZERO)
    assert await budget.spent_this_month("k1") == Money.usd("0.6")
    clock.advance(5)  # ...until the next read
    with pytest.raises(BudgetExceededError):
        await budget.ensure_within_budget("k1", Money.usd("1.0"))


class SlowCountingStore(InMemoryUsageStore):
    """Reads take a round trip (other requests run meanwhile) and are counted."""

    reads = 0

    async def totals(self, key_id, start, end):  # type: ignore[no-untyped-def]
        self.reads += 1
        await asyncio.sleep(0.01)
        return await super().totals(key_id, start, end)


async def test_a_burst_at_refresh_time_reads_the_store_once_not_once_per_request() -> None:
    """When the refresh falls due under load, one request reads; the others go on with the
    figure they have instead of queueing a read each (which stalled bursts for 0.5 s)."""
    clock = _clock_at(2026, 5, 15)
    store = SlowCountingStore(clock)
    budget = MonthlyBudget(store, clock, 1.0)
    await budget.ensure_within_budget("k1", Money.usd("5.0"))
    assert store.reads == 1
    clock.advance(2)
    await asyncio.gather(*(budget.ensure_within_budget("k1", Money.usd("5.0")) for _ in range(32)))
    assert store.reads == 2


async def test_far_from_its_budget_a_due_read_runs_in_the_background() -> None:
    """Below half its budget, a request at refresh time goes on with the figure it has; the
    read lands meanwhile and the next request sees it. From half the budget on, it waits."""
    clock = _clock_at(2026, 5, 15)
    store = SlowCountingStore(clock)
    tracker = UsageTracker(PRICES, store, clock)
    background = BackgroundTasks()
    budget = MonthlyBudget(store, clock, 1.0, background=background)
    await budget.ensure_within_budget("k1", Money.usd("2.0"))
    assert store.reads == 1
    await _spend(tracker, "k1", 2)  # another replica: 1.20 of 2.00
    clock.advance(2)
    await budget.ensure_within_budget("k1", Money.usd("2.0"))  # did not wait for the read
    assert await budget.spent_this_month("k1") == Money.ZERO
    await background.drain(1.0)
    assert store.reads == 2 and await budget.spent_this_month("k1") == Money.usd("1.2")
    await _spend(tracker, "k1", 2)  # 2.40: at half the budget or more, the next read waits
    clock.advance(2)
    with pytest.raises(BudgetExceededError):
        await budget.ensure_within_budget("k1", Money.usd("2.0"))


async def test_a_failed_background_read_keeps_the_figure_and_waits_a_refresh() -> None:
    clock = _clock_at(2026, 5, 15)
    store = FlakyStore(clock)
    background = BackgroundTasks()
    budget = MonthlyBudget(store, clock, 1.0, background=background)
    await budget.ensure_within_budget("k1", Money.usd("2.0"))
    store.down = True
    clock.advance(2)
    for _ in range(5):  # one read tried, not one per request
        await budget.ensure_within_budget("k1", Money.usd("2.0"))
        await background.drain(1.0)
    assert store.failed_reads == 1
    clock.advance(1)
    await budget.ensure_within_budget("k1", Money.usd("2.0"))
    await background.drain(1.0)
    assert store.failed_reads == 2


class FlakyStore(InMemoryUsageStore):
    down = False
    failed_reads = 0

    async def totals(self, key_id, start, end):  # type: ignore[no-untyped-def]
        if self.down:
            self.failed_reads += 1
            raise StoreUnavailableError("usage store down", retry_after=1.0)
        return await super().totals(key_id, start, end)
