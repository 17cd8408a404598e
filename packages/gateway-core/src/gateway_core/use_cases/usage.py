"""Token and cost accounting per client key, and monthly budgets.

``UsageTracker`` prices one finished call (a whole response, or whatever a stream produced
before it ended or was aborted) with the ``PriceTable`` and appends it to the usage sink. A
response-cache hit is recorded as a hit: it costs nothing and adds no tokens to the totals.

``MonthlyBudget`` is checked before the upstream is called. Months are UTC calendar months.
The check reads the month's recorded cost; requests admitted concurrently are not yet
recorded, so a key can overshoot its budget by the cost of the requests it has in flight.

Decision: an exhausted budget is **402 Payment Required**, code ``budget_exceeded``, not 429.
Our consumers treat 429 as transient and retry it with exponential backoff (their contract:
"a permanent client mistake must be a 4xx other than 429").
A monthly budget does not come back within any backoff window, only at the start of the next
month or when an operator raises it, so a 429 would make every consumer hammer the gateway
until its retries ran out and then fail anyway. 402 names the condition and stops the retries.
The error still carries ``retry_after``: the seconds until the month rolls over.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from gateway_core.domain.money import Money
from gateway_core.domain.pricing import PriceQuote, PriceTable
from gateway_core.domain.usage import Usage, UsageEvent
from gateway_core.errors import BudgetExceededError, StoreUnavailableError
from gateway_core.ports.clock import Clock
from gateway_core.ports.usage import UsageQuery, UsageSink
from gateway_core.use_cases.background import BackgroundTasks


class UsageTracker:
    """Prices calls and appends them to the usage sink."""

    def __init__(self, prices: PriceTable, sink: UsageSink, clock: Clock) -> None:
        self._prices = prices
        self._sink = sink
        self._clock = clock

    def reprice(self, prices: PriceTable) -> None:
        """Price calls from now on with ``prices`` (a pricing file reload): one assignment."""
        self._prices = prices

    def quote(self, model: str, usage: Usage) -> PriceQuote:
        """What ``usage`` on ``model`` costs, without recording anything."""
        return self._prices.quote(model, usage)

    def event(
        self, *, key_id: str, model: str, provider: str, usage: Usage, cache_hit: bool = False
    ) -> UsageEvent:
        """The event for one call; a cache hit keeps ``usage`` (what the client got) but costs 0."""
        if cache_hit:
            quote = PriceQuote(cost_usd=Money.ZERO, priced=self._prices.price_of(model) is not None)
        else:
            quote = self._prices.quote(model, usage)
        return UsageEvent(
            key_id=key_id,
            model=model,
            provider=provider,
            usage=usage,
            cost_usd=quote.cost_usd,
            timestamp=self._clock.now(),
            cached=cache_hit,
            priced=quote.priced,
        )

    async def record(
        self, *, key_id: str, model: str, provider: str, usage: Usage, cache_hit: bool = False
    ) -> UsageEvent:
        """Price and append one call; returns the event (its ``cost_usd`` is the header value).

        Raises ``StoreUnavailableError`` when the sink is down: the caller decides whether a
        paid-for answer should still reach the client (it should; log and count the loss).
        """
        event = self.event(
            key_id=key_id, model=model, provider=provider, usage=usage, cache_hit=cache_hit
        )
        await self.append(event)
        return event

    async def append(self, event: UsageEvent) -> None:
        """Append an event ``event()`` priced; raises as ``record`` does."""
        await self._sink.record(event)


class MonthlyBudget:
    """Refuses a key that has spent its monthly budget (see the module docstring: 402).

    Reading a month of totals on every request would cost a store round trip each time, so a
    key's spend is read at most every ``refresh_seconds`` and, in between, kept up to date with
    what this process spends (``note``). Other replicas' spending shows up within
    ``refresh_seconds``: on top of in-flight requests, that is how far a key can overshoot.

    Given a ``BackgroundTasks`` owner, a read that falls due while the key is known to have
    spent less than half its budget is made in the background: the request goes on with the
    figure it has (a second old, plus this process's own spending) instead of waiting for two
    store round trips. From half the budget on, the request waits for the read as before, so
    a key at its budget is refused on the first request after a refresh falls due. A failed
    background read keeps the figure and is tried again one ``refresh_seconds`` later.
    """

    def __init__(
        self,
        usage: UsageQuery,
        clock: Clock,
        refresh_seconds: float = 1.0,
        background: BackgroundTasks | None = None,
    ) -> None:
        self._usage = usage
        self._clock = clock
        self._refresh_seconds = refresh_seconds
        self._background = background
        self._month_span: tuple[float, float, date] = (0.0, 0.0, date.min)
        """The current month's start and end (Unix seconds) and first day."""
        self._known: dict[str, tuple[date, float, Money]] = {}
        """key id -> (the month's first day, read at (monotonic), spent)."""
        self._refreshing: set[str] = set()
        """Keys whose spend is being read from the store right now."""

    async def spent_this_month(self, key_id: str) -> Money:
        """The key's recorded cost since the start of the current UTC month."""
        return await self._spent(key_id, None)

    def _this_month(self) -> date:
        """The current UTC month's first day; worked out again only when the month ends."""
        now = self._clock.now()
        if not self._month_span[0] <= now < self._month_span[1]:
            month = self._today().replace(day=1)
            self._month_span = (_midnight(month), _midnight(_next_month(month)), month)
        return self._month_span[2]

    async def _spent(self, key_id: str, budget: Money | None) -> Money:
        month = self._this_month()
        known = self._known.get(key_id)
        now = self._clock.monotonic()
        if known is None or known[0] != month:
            return await self._read(key_id, month, now)
        if now - known[1] < self._refresh_seconds or key_id in self._refreshing:
            # Fresh; or another request is reading it: a burst must not queue one read each.
            return known[2]
        if self._background is not None and budget is not None and known[2] * 2 < budget:
            self._refreshing.add(key_id)
            self._background.run(self._read_in_background(key_id, month, now, known[2]))
            return known[2]
        return await self._read(key_id, month, now)

    async def _read(self, key_id: str, month: date, now: float) -> Money:
        self._refreshing.add(key_id)
        try:
            totals = await self._usage.totals(key_id, month, self._today())
        finally:
            self._refreshing.discard(key_id)
        spent = Money.total(total.cost_usd for total in totals)
        self._known[key_id] = (month, now, spent)
        return spent

    async def _read_in_background(self, key_id: str, month: date, now: float, had: Money) -> None:
        """``_read`` for a request that did not wait; never raises."""
        try:
            await self._read(key_id, month, now)
        except StoreUnavailableError:
            # Keep the figure (and what was noted since); try again one refresh later.
            known = self._known.get(key_id)
            spent = had if known is None or known[0] != month else known[2]
            self._known[key_id] = (month, now, spent)
        finally:
            self._refreshing.discard(key_id)

    def note(self, key_id: str, cost_usd: Money) -> None:
        """This process just spent ``cost_usd`` for the key (already sent to the usage sink)."""
        known = self._known.get(key_id)
        if known is not None:
            self._known[key_id] = (known[0], known[1], known[2] + cost_usd)

    async def ensure_within_budget(self, key_id: str, monthly_budget_usd: Money | None) -> None:
        """Raise ``BudgetExceededError`` when the key has spent its budget (``None``: no budget).

        Raises ``StoreUnavailableError`` when the usage store is down.
        """
        if monthly_budget_usd is None:
            return
        spent = await self._spent(key_id, monthly_budget_usd)
        if spent < monthly_budget_usd:
            return
        resets_at = _next_month(self._today())
        raise BudgetExceededError(
            f"This API key has used its monthly budget of ${monthly_budget_usd.to_decimal():.2f} "
            f"(spent ${spent.to_decimal():.2f}); it resets on {resets_at.isoformat()} (UTC).",
            retry_after=max(_midnight(resets_at) - self._clock.now(), 0.0),
        )

    def _today(self) -> date:
        return datetime.fromtimestamp(self._clock.now(), tz=UTC).date()


def _next_month(day: date) -> date:
    if day.month == 12:
        return date(day.year + 1, 1, 1)
    return date(day.year, day.month + 1, 1)


def _midnight(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
