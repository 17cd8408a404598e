"""ServeChat's turns (JSON and streamed) with in-memory adapters, the scripted provider and a fake clock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from gateway_core.domain.api_keys import ApiKey, hash_secret
from gateway_core.domain.cache_keys import CacheUse
from gateway_core.domain.chat import ChatRequest
from gateway_core.domain.messages import Message
from gateway_core.domain.money import Money
from gateway_core.domain.pricing import Price, PriceTable
from gateway_core.domain.routing import ModelRoute, RoutingTable, Target
from gateway_core.domain.sessions import SessionUsage
from gateway_core.domain.tool_registry import ToolRegistry
from gateway_core.domain.usage import Usage
from gateway_core.errors import (
    BudgetExceededError,
    PermissionDeniedError,
    RateLimitExceededError,
    SessionNotFoundError,
    UpstreamOverloadedError,
)
from gateway_core.memory import (
    InMemoryRateLimitStore,
    InMemoryResponseCache,
    InMemorySessionStore,
    InMemoryUsageStore,
)
from gateway_core.testing import FakeClock, Reply, ScriptedProvider
from gateway_core.use_cases.chat_turn import ChatTurn
from gateway_core.use_cases.complete_chat import CompleteChat
from gateway_core.use_cases.execute_tool import ExecuteTool
from gateway_core.use_cases.rate_limit import RateLimiter, RateLimits, estimate_tokens
from gateway_core.use_cases.serve_chat import ChatCaller, ChatOptions, ServeChat
from gateway_core.use_cases.sessions import SessionService
from gateway_core.use_cases.tool_loop import ToolLoop
from gateway_core.use_cases.usage import MonthlyBudget, UsageTracker

PRICE = Price.per_million(2, 10, 1)  # $2 in, $10 out, $1 cached, per million tokens
USAGE = Usage(prompt_tokens=1000, completion_tokens=500)
COST = Money.usd("0.002") + Money.usd("0.005")


class _NoValidation:
    def validate(self, *_: object) -> None:
        return None


class World:
    """One gateway's worth of in-memory parts around a scripted provider."""

    def __init__(
        self, *, requests_per_minute: int | None = None, tokens_per_minute: int | None = None
    ) -> None:
        self.clock = FakeClock(datetime(2026, 11, 26, 12, tzinfo=UTC).timestamp())
        self.provider = ScriptedProvider("scripted", default=Reply(text="fine", usage=USAGE))
        routes = RoutingTable(models={"m": ModelRoute(Target("scripted", "m-1"))})
        self.chat = CompleteChat(routes, {"scripted": self.provider})
        tools = ExecuteTool(ToolRegistry(), {}, _NoValidation())
        self.usage_store = InMemoryUsageStore(self.clock)
        self.sessions = SessionService(InMemorySessionStore(self.clock), self.clock)
        self.cache = InMemoryResponseCache(self.clock)
        limits = RateLimits(
            requests_per_minute=requests_per_minute, tokens_per_minute=tokens_per_minute
        )
        self.serve = ServeChat(
            chat=self.chat,
            tools=ToolLoop(self.chat, tools),
            sessions=self.sessions,
            usage=UsageTracker(PriceTable.from_entries([("m-1", PRICE)]), self.usage_store, self.clock),
            limiter=RateLimiter(InMemoryRateLimitStore(self.clock), defaults=limits),
            budget=MonthlyBudget(self.usage_store, self.clock),
            cache=self.cache,
        )

    async def totals(self) -> list:
        today = datetime.fromtimestamp(self.clock.now(), UTC).date()
        return await self.usage_store.totals(None, today, today)


def _key(key_id: str = "k1", **limits: object) -> ChatCaller:
    key = ApiKey(key_id, "test key", hash_secret(f"secret-{key_id}"), **limits)  # type: ignore[arg-type]
    return ChatCaller(key, f"key:{key_id}")


ANONYMOUS = ChatCaller(None, "ip:test")


def _request(text: str = "hello", temperature: float | None = 0.0, **fields: object) -> ChatRequest:
    return ChatRequest(model="m", messages=(Message.user(text),), temperature=temperature, **fields)  # type: ignore[arg-type]


async def test_a_turn_is_answered_priced_and_recorded() -> None:
    world = World()
    outcome = await world.serve.complete(_request(), _key(), ChatOptions())
    assert outcome.response is not None and outcome.response.choices[0].message.text == "fine"
    assert outcome.cost_usd == COST
    [total] = await world.totals()
    assert (total.key_id, total.model, total.requests) == ("k1", "m-1", 1)
    assert total.cost_usd == COST


async def _tokens_left_after_a_turn(*, book_later: bool) -> int:
    """The tokens a second turn is told it has left, after a first turn driven either way."""
    world = World(tokens_per_minute=LIMIT)
    uncached = _request(temperature=None)
    first = world.serve.start(uncached, _key(), ChatOptions())
    await first.complete(book_later=book_later)
    assert first.outcome.cost_usd == COST  # priced before the answer goes out, either way
    if book_later:
        assert await world.totals() == []  # booked only when the door says the answer is out
        await first.book()
        await first.book()  # once
    await asyncio.sleep(0)  # the reservation's adjustment, which the answer does not wait for
    second = await world.serve.complete(uncached, _key(), ChatOptions())
    [total] = await world.totals()
    assert (total.requests, total.cost_usd) == (2, COST + COST)
    return int(second.rate_limit_headers["x-ratelimit-remaining-tokens"])


LIMIT = 1_000_000


async def test_a_turn_booked_after_its_answer_books_what_it_would_have_booked_before() -> None:
    # The first turn's reservation settled to what it used; the second's still reserved.
    expected = LIMIT - USAGE.total_tokens - estimate_tokens(_request(temperature=None))
    assert await _tokens_left_after_a_turn(book_later=True) == expected
    assert await _tokens_left_after_a_turn(book_later=False) == expected


async def test_a_turn_with_a_session_or_a_cache_write_settles_before_its_answer() -> None:
    world = World()
    cached = world.serve.start(_request(), _key(), ChatOptions())  # a miss, to be stored
    await cached.complete(book_later=True)
    session = await world.sessions.create(owner="k1")
    in_session = world.serve.start(
        _request(temperature=None), _key(), ChatOptions(session_id=session.id)
    )
    await in_session.complete(book_later=True)
    [total] = await world.totals()
    assert total.requests == 2
    assert len((await world.sessions.get(session.id, "k1")).messages) == 2
    assert (await world.serve.complete(_request(), _key(), ChatOptions())).cache == "HIT"


async def test_deterministic_requests_are_cached_per_tenant_and_hits_cost_nothing() -> None:
    world = World()
    first = await world.serve.complete(_request(), _key("a"), ChatOptions())
    second = await world.serve.complete(_request(), _key("a"), ChatOptions())
    other_tenant = await world.serve.complete(_request(), _key("b"), ChatOptions())
    assert (first.cache, second.cache, other_tenant.cache) == ("MISS", "HIT", "MISS")
    assert second.cost_usd == Money.ZERO
    assert len(world.provider.requests) == 2
    assert second.response is not None and second.response.id != first.response.id  # type: ignore[union-attr]


async def test_cache_opt_out_and_sampling_requests_reach_the_model() -> None:
    world = World()
    await world.serve.complete(_request(), _key(), ChatOptions())
    no_read = await world.serve.complete(_request(), _key(), ChatOptions(cache=CacheUse(read=False)))
    sampled = await world.serve.complete(_request(temperature=0.7), _key(), ChatOptions())
    assert (no_read.cache, sampled.cache) == ("MISS", None)
    assert len(world.provider.requests) == 3


async def test_failures_are_not_cached() -> None:
    world = World()
    world.provider.script(Reply(error=UpstreamOverloadedError("busy")))
    with pytest.raises(UpstreamOverloadedError):
        await world.serve.complete(_request(), _key(), ChatOptions())
    retry = await world.serve.complete(_request(), _key(), ChatOptions())
    assert retry.cache == "MISS"


async def test_a_key_may_only_use_its_models() -> None:
    world = World()
    with pytest.raises(PermissionDeniedError):
        await world.serve.complete(_request(), _key(allowed_models=("other-*",)), ChatOptions())
    assert world.provider.requests == []


async def test_rate_limit_admits_the_burst_then_refuses_with_headers() -> None:
    world = World(requests_per_minute=2)
    for _ in range(2):
        outcome = await world.serve.complete(_request(temperature=None), ANONYMOUS, ChatOptions())
    assert outcome.rate_limit_headers["x-ratelimit-limit-requests"] == "2"
    with pytest.raises(RateLimitExceededError) as refused:
        await world.serve.complete(_request(temperature=None), ANONYMOUS, ChatOptions())
    assert refused.value.retry_after and refused.value.retry_after > 0
    world.clock.advance(refused.value.retry_after)
    await world.serve.complete(_request(temperature=None), ANONYMOUS, ChatOptions())


async def test_a_spent_budget_stops_the_key_before_the_model() -> None:
    world = World()
    caller = _key(monthly_budget_usd=COST)
    await world.serve.complete(_request(temperature=None), caller, ChatOptions())
    with pytest.raises(BudgetExceededError):
        await world.serve.complete(_request(temperature=None), caller, ChatOptions())
    assert len(world.provider.requests) == 1


async def test_a_session_turn_sends_the_history_and_records_the_exchange() -> None:
    world = World()
    session = await world.sessions.create(owner="k1")
    options = ChatOptions(session_id=session.id)
    system = Message.system("be brief")
    await world.serve.complete(
        ChatRequest(model="m", messages=(system, Message.user("one"))), _key(), options
    )
    await world.serve.complete(_request("two", temperature=None), _key(), options)
    assert world.provider.requests[1].messages == (
        system, Message.user("one"), Message.assistant("fine"), Message.user("two"),
    )  # fmt: skip
    stored = (await world.sessions.get(session.id, "k1")).messages
    assert [m.text for m in stored] == ["be brief", "one", "fine", "two", "fine"]


async def test_a_sessions_totals_are_the_sum_of_its_turns_with_the_cost_exact() -> None:
    world = World()
    session = await world.sessions.create(owner="k1")
    options = ChatOptions(session_id=session.id)
    # $0.08 for the uncached prompt + $0.02 for the cached part = $0.1; then 20k out = $0.2.
    first = Usage(prompt_tokens=60_000, completion_tokens=0, cached_tokens=20_000)
    second = Usage(prompt_tokens=0, completion_tokens=20_000)
    world.provider.script(Reply(text="one", usage=first), Reply(text="two", usage=second))

    answered = await world.serve.complete(_request("a", temperature=None), _key(), options)
    streamed = world.serve.start(_request("b", temperature=None), _key(), options)
    await _drain(streamed)

    assert (answered.cost_usd, streamed.outcome.cost_usd) == (Money.usd("0.1"), Money.usd("0.2"))
    totals = (await world.sessions.get(session.id, "k1")).usage
    # Not 0.30000000000000004, the float sum: the store adds exact Money.
    assert totals == SessionUsage(
        turns=2, prompt_tokens=60_000, completion_tokens=20_000, cached_tokens=20_000,
        cost_usd=Money.usd("0.3"),
    )
    assert totals.total_tokens == (first + second).total_tokens


async def test_a_cache_hit_adds_its_tokens_to_the_session_but_no_cost() -> None:
    world = World()
    await world.serve.complete(_request("hi"), _key(), ChatOptions())
    session = await world.sessions.create(owner="k1")
    outcome = await world.serve.complete(_request("hi"), _key(), ChatOptions(session_id=session.id))
    assert outcome.cache == "HIT"
    totals = (await world.sessions.get(session.id, "k1")).usage
    assert totals == SessionUsage(turns=1, prompt_tokens=1000, completion_tokens=500)


async def test_a_failed_turn_appends_nothing_and_other_owners_see_nothing() -> None:
    world = World()
    session = await world.sessions.create(owner="k1")
    world.provider.script(Reply(error=UpstreamOverloadedError("busy")))
    with pytest.raises(UpstreamOverloadedError):
        await world.serve.complete(_request(temperature=None), _key(), ChatOptions(session_id=session.id))
    unchanged = await world.sessions.get(session.id, "k1")
    assert (unchanged.messages, unchanged.usage) == ((), SessionUsage())
    with pytest.raises(SessionNotFoundError):
        await world.serve.complete(_request(), _key("k2"), ChatOptions(session_id=session.id))


async def _drain(turn: ChatTurn) -> list:
    stream = await turn.open_stream()
    return [chunk async for chunk in stream]


async def test_a_stream_ends_with_one_chunk_carrying_finish_and_usage() -> None:
    world = World()
    world.provider.script(Reply(text="one two three", usage=USAGE))
    chunks = await _drain(world.serve.start(_request(temperature=None), _key(), ChatOptions()))
    assert "".join(c.content or "" for c in chunks) == "one two three"
    final = chunks[-1]
    assert (final.finish_reason, final.usage) == ("stop", USAGE)
    assert all(c.finish_reason is None and c.usage is None for c in chunks[:-1])
    assert chunks[0].provider == "scripted"


async def test_a_streamed_session_turn_is_saved_when_complete() -> None:
    world = World()
    session = await world.sessions.create(owner=None)
    stream = world.serve.start(_request("hi", temperature=None), ANONYMOUS, ChatOptions(session_id=session.id))
    await _drain(stream)
    assert stream.outcome.cost_usd == COST
    assert [m.text for m in (await world.sessions.get(session.id, None)).messages] == ["hi", "fine"]


async def test_an_abandoned_stream_is_billed_for_its_text_and_not_saved() -> None:
    world = World()
    session = await world.sessions.create(owner=None)
    world.provider.script(Reply(text="word " * 40, usage=None))
    stream = world.serve.start(_request("hi", temperature=None), ANONYMOUS, ChatOptions(session_id=session.id))
    chunks = await stream.open_stream()
    seen = 0
    async for _ in chunks:
        seen += 1
        if seen == 5:
            break
    await chunks.aclose()
    for _ in range(20):  # the clean-up runs in a task of its own
        await asyncio.sleep(0)
    assert stream.outcome.aborted
    [total] = await world.totals()
    assert total.completion_tokens > 0
    unsaved = await world.sessions.get(session.id, None)
    assert (unsaved.messages, unsaved.usage) == ((), SessionUsage()), "billed to the key only"
    # The session's lock was given back: the next turn goes through at once.
    await asyncio.wait_for(
        world.serve.complete(_request("again", temperature=None), ANONYMOUS, ChatOptions(session_id=session.id)),
        timeout=1,
    )


async def test_a_cached_answer_is_replayed_as_a_stream() -> None:
    world = World()
    await world.serve.complete(_request(), _key(), ChatOptions())
    stream = world.serve.start(_request(stream=True), _key(), ChatOptions())
    chunks = await _drain(stream)
    assert stream.outcome.cache == "HIT" and stream.outcome.cost_usd == Money.ZERO
    assert "".join(c.content or "" for c in chunks) == "fine"
    assert chunks[-1].finish_reason == "stop"
    assert len(world.provider.requests) == 1
