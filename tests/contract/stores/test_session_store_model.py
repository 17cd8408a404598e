"""A hypothesis state machine: every ``SessionStore`` behaves like a plain dict of sessions.

Rules create, append (with trims, stale revisions, and each turn's usage and cost), get, delete
and let time pass on the injected clock; after each step the store must answer exactly what the
model predicts. The model adds costs as ``Decimal``s, independently of ``Money``'s integers. Each
run drives the async store on its own event loop, since hypothesis's rules are synchronous.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any, ClassVar, TypeVar

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, rule, run_state_machine_as_test
from redis.asyncio import Redis

from gateway_adapters.stores.redis import RedisSessionStore
from gateway_core.domain.messages import Message, ToolCall
from gateway_core.domain.money import Money
from gateway_core.domain.sessions import HistoryLimits, Session, SessionUsage, plan_trim
from gateway_core.domain.usage import Usage
from gateway_core.errors import SessionBusyError, SessionNotFoundError
from gateway_core.memory import InMemorySessionStore
from gateway_core.ports.sessions import SessionStore
from gateway_core.testing import FakeClock

T = TypeVar("T")
OWNERS = st.sampled_from(["alice", "bob", None])
TEXT = st.text(max_size=12)
MESSAGES = st.one_of(
    TEXT.map(Message.user),
    TEXT.map(Message.assistant),
    TEXT.map(Message.system),
    st.just(Message.assistant(None, (ToolCall("c1", "search", '{"q": 1}'),))),
    TEXT.map(lambda text: Message.tool_result("c1", text)),
)
TOKENS = st.integers(0, 10**6)
USAGES = st.builds(Usage, TOKENS, TOKENS, TOKENS)
COSTS = st.integers(0, 10**12).map(lambda units: Decimal(units).scaleb(-10))
"""Up to $100 with ten decimal places, as ``pricing.cost_of`` rounds a call's cost."""
Opener = Callable[[FakeClock], Awaitable[tuple[SessionStore, Callable[[], Awaitable[None]]]]]


class SessionStoreModel(RuleBasedStateMachine):
    open_store: ClassVar[Opener]
    ids = Bundle("ids")

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.clock = FakeClock()
        self.store, self.close_store = self.run(type(self).open_store(self.clock))
        self.model: dict[str, Session] = {}
        self.created = 0

    def run(self, awaitable: Awaitable[T]) -> T:
        return self.loop.run_until_complete(awaitable)

    def teardown(self) -> None:
        try:
            self.run(self.close_store())
        finally:
            self.loop.close()

    def visible(self, session_id: str, owner: str | None) -> Session | None:
        session = self.model.get(session_id)
        if session is None or session.owner != owner or session.is_expired(self.clock.now()):
            return None
        return session

    @rule(target=ids, owner=OWNERS, ttl=st.integers(60, 600), context=st.dictionaries(TEXT, TEXT))
    def create(self, owner: str | None, ttl: int, context: dict[str, Any]) -> str:
        self.created += 1
        now = self.clock.now()
        session = Session(
            id=f"sess_{self.created:032x}",
            owner=owner,
            created_at=now,
            expires_at=now + ttl,
            ttl_seconds=ttl,
            context=context,
        )
        self.run(self.store.create(session))
        self.model[session.id] = session
        return session.id

    @rule(
        session_id=ids,
        owner=OWNERS,
        messages=st.lists(MESSAGES, max_size=4),
        max_messages=st.integers(1, 6),
        stale=st.booleans(),
        usage=USAGES,
        cost=COSTS,
    )
    def append(
        self, session_id: str, owner: str | None, messages: list[Message], max_messages: int,
        stale: bool, usage: Usage, cost: Decimal,
    ) -> None:
        expected = self.visible(session_id, owner)
        known = expected or self.model.get(session_id)
        revision = (known.revision if known else 0) + (1 if stale else 0)
        combined = (*(known.messages if known else ()), *messages)
        trim = plan_trim(combined, HistoryLimits(max_messages=max_messages))
        append = self.store.append(
            session_id, owner, messages, revision=revision, trim=trim, usage=usage,
            cost_usd=Money.usd(cost),
        )
        if expected is None:
            with pytest.raises(SessionNotFoundError):
                self.run(append)
        elif stale:
            with pytest.raises(SessionBusyError):
                self.run(append)
        else:
            saved = self.run(append)
            self.model[session_id] = replace(
                expected,
                messages=trim.apply(combined),
                revision=revision + 1,
                expires_at=self.clock.now() + expected.ttl_seconds,
                usage=_plus(expected.usage, usage, cost),
            )
            assert saved == self.model[session_id]

    @rule(session_id=ids, owner=OWNERS)
    def get(self, session_id: str, owner: str | None) -> None:
        assert self.run(self.store.get(session_id, owner)) == self.visible(session_id, owner)

    @rule(session_id=ids, owner=OWNERS)
    def delete(self, session_id: str, owner: str | None) -> None:
        existed = self.visible(session_id, owner) is not None
        assert self.run(self.store.delete(session_id, owner)) is existed
        if existed:
            del self.model[session_id]

    @rule(seconds=st.integers(1, 400))
    def let_time_pass(self, seconds: int) -> None:
        self.clock.advance(seconds)


def _plus(totals: SessionUsage, usage: Usage, cost: Decimal) -> SessionUsage:
    return SessionUsage(
        turns=totals.turns + 1,
        prompt_tokens=totals.prompt_tokens + usage.prompt_tokens,
        completion_tokens=totals.completion_tokens + usage.completion_tokens,
        cached_tokens=totals.cached_tokens + usage.cached_tokens,
        cost_usd=Money.usd(totals.cost_usd.to_decimal() + cost),
    )


async def _memory(clock: FakeClock) -> tuple[SessionStore, Callable[[], Awaitable[None]]]:
    async def close() -> None:
        return None

    return InMemorySessionStore(clock), close


def _redis_opener(url: str) -> Opener:
    async def open_store(clock: FakeClock) -> tuple[SessionStore, Callable[[], Awaitable[None]]]:
        client = Redis.from_url(url)
        prefix = f"llmgw-model-{secrets.token_hex(6)}"

        async def close() -> None:
            keys = [key async for key in client.scan_iter(match=f"{prefix}:*")]
            if keys:
                await client.delete(*keys)
            await client.aclose()

        return RedisSessionStore(client, clock, key_prefix=prefix), close

    return open_store


def test_the_memory_store_behaves_like_the_model() -> None:
    machine = type("MemoryModel", (SessionStoreModel,), {"open_store": staticmethod(_memory)})
    run_state_machine_as_test(
        machine, settings=settings(max_examples=100, stateful_step_count=30, deadline=None)
    )


def test_the_redis_store_behaves_like_the_model(redis_url: str) -> None:
    machine = type(
        "RedisModel", (SessionStoreModel,), {"open_store": staticmethod(_redis_opener(redis_url))}
    )
    run_state_machine_as_test(
        machine, settings=settings(max_examples=40, stateful_step_count=20, deadline=None)
    )
