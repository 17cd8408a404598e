"""The ``SessionStore`` contract, run against every implementation (memory and real Redis).

Time is a ``FakeClock`` for both: the Redis store compares expiry with the injected clock too,
so no test sleeps for a TTL, except the Redis-only ones at the end, which check that Redis
itself deletes what expired.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from dataclasses import replace

import pytest
from redis.asyncio import Redis
from redis.crc import key_slot

from gateway_adapters.stores.redis import RedisSessionStore
from gateway_core.domain.messages import ImagePart, Message, TextPart, ToolCall
from gateway_core.domain.money import Money
from gateway_core.domain.sessions import HistoryLimits, Session, SessionUsage, Trim
from gateway_core.domain.usage import Usage
from gateway_core.errors import SessionBusyError, SessionNotFoundError, StoreUnavailableError
from gateway_core.memory import InMemorySessionStore
from gateway_core.ports.sessions import SessionStore
from gateway_core.testing import FakeClock
from gateway_core.use_cases.sessions import SessionConfig, SessionService

TTL = 600


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest, clock: FakeClock) -> SessionStore:
    if request.param == "memory":
        return InMemorySessionStore(clock)
    client = request.getfixturevalue("redis_client")
    return RedisSessionStore(client, clock, key_prefix=request.getfixturevalue("key_prefix"))


@pytest.fixture
def new_session(clock: FakeClock) -> Callable[..., Session]:
    def build(owner: str | None = "alice", **changes: object) -> Session:
        now = clock.now()
        session = Session(
            id=f"sess_{secrets.token_hex(16)}",
            owner=owner,
            created_at=now,
            expires_at=now + TTL,
            ttl_seconds=TTL,
            context={"book": "dune", "nested": {"chapters": [1, 2]}},
            metadata={"app": "reader"},
        )
        return replace(session, **changes)

    return build


def user(text: str) -> Message:
    return Message.user(text)


async def test_a_created_session_reads_back_whole(store: SessionStore, new_session) -> None:
    session = new_session()
    await store.create(session)
    assert await store.get(session.id, "alice") == session


async def test_a_session_without_owner_reads_back_whole(store: SessionStore, new_session) -> None:
    session = new_session(owner=None, messages=(Message.system("be brief"),))
    await store.create(session)
    assert await store.get(session.id, None) == session


async def test_an_unknown_session_is_none(store: SessionStore) -> None:
    assert await store.get(f"sess_{secrets.token_hex(16)}", "alice") is None


@pytest.mark.parametrize("other", ["bob", None, ""])
async def test_other_owners_cannot_see_use_or_delete_a_session(
    store: SessionStore, new_session, other: str | None
) -> None:
    session = new_session(owner="alice")
    await store.create(session)

    assert await store.get(session.id, other) is None
    with pytest.raises(SessionNotFoundError):
        await store.append(session.id, other, [user("hi")], revision=0, trim=Trim())
    assert await store.delete(session.id, other) is False
    assert await store.get(session.id, "alice") == session


async def test_no_owner_and_the_empty_owner_are_different(store: SessionStore, new_session):
    session = new_session(owner=None)
    await store.create(session)
    assert await store.get(session.id, "") is None


async def test_append_adds_in_order_counts_the_revision_and_slides_the_expiry(
    store: SessionStore, new_session, clock: FakeClock
) -> None:
    session = new_session()
    await store.create(session)
    clock.advance(100)

    first = await store.append(session.id, "alice", [user("1"), user("2")], revision=0, trim=Trim())
    second = await store.append(session.id, "alice", [user("3")], revision=1, trim=Trim())

    assert [m.text for m in second.messages] == ["1", "2", "3"]
    assert (first.revision, second.revision) == (1, 2)
    assert (first.usage.turns, second.usage.turns) == (1, 2)
    assert second.expires_at == clock.now() + TTL
    assert await store.get(session.id, "alice") == second
    unchanged = replace(
        second, messages=(), revision=0, expires_at=session.expires_at, usage=session.usage
    )
    assert unchanged == session


async def test_append_adds_each_turns_usage_and_cost_to_the_totals_exactly(
    store: SessionStore, new_session
) -> None:
    session = new_session(messages=(user("old"),))
    await store.create(session)
    assert session.usage == SessionUsage()

    first = await store.append(
        session.id, "alice", [user("1")], revision=0, trim=Trim(),
        usage=Usage(prompt_tokens=60, completion_tokens=7, cached_tokens=20), cost_usd=Money.usd("0.1"),
    )  # fmt: skip
    # A trim drops messages, never what the turns that wrote them used.
    second = await store.append(
        session.id, "alice", [user("2")], revision=1, trim=Trim(keep=0, drop=2),
        usage=Usage(prompt_tokens=90, completion_tokens=5), cost_usd=Money.usd("0.2"),
    )  # fmt: skip
    free = await store.append(session.id, "alice", [user("3")], revision=2, trim=Trim())

    assert first.usage == SessionUsage(1, 60, 7, 20, Money.usd("0.1"))
    # 0.1 + 0.2 is 0.30000000000000004 in floats: the stores add exact Money.
    assert second.usage == SessionUsage(2, 150, 12, 20, Money.usd("0.3"))
    assert free.usage == SessionUsage(3, 150, 12, 20, Money.usd("0.3")), "a turn without usage still counts"
    assert free.usage.total_tokens == 162
    assert await store.get(session.id, "alice") == free


async def test_refused_appends_add_nothing_to_the_totals(store: SessionStore, new_session):
    session = new_session()
    await store.create(session)
    turn = {"trim": Trim(), "usage": Usage(prompt_tokens=10), "cost_usd": Money.usd("0.5")}
    saved = await store.append(session.id, "alice", [user("a")], revision=0, **turn)

    with pytest.raises(SessionBusyError):
        await store.append(session.id, "alice", [user("b")], revision=0, **turn)
    with pytest.raises(SessionNotFoundError):
        await store.append(session.id, "bob", [user("c")], revision=1, **turn)
    stored = await store.get(session.id, "alice")
    assert stored is not None
    assert stored.usage == saved.usage == SessionUsage(1, 10, 0, 0, Money.usd("0.5"))


async def test_a_session_created_with_totals_reads_them_back(store: SessionStore, new_session):
    session = new_session(usage=SessionUsage(4, 1_000_000, 2_000, 300, Money.usd("12.3456789012")))
    await store.create(session)
    assert await store.get(session.id, "alice") == session


async def test_every_message_shape_survives_the_store(store: SessionStore, new_session) -> None:
    messages = [
        Message.system("rules"),
        Message(role="user", content=(TextPart("look"), ImagePart("data:image/png;base64,AA"))),
        Message(role="user", content=(ImagePart("https://x.test/a.png", "low"),), name="ann"),
        Message.assistant(None, (ToolCall("call_1", "search", '{"q": "é"}'),)),
        Message.tool_result("call_1", '{"results": []}'),
        Message.assistant(""),
    ]
    session = new_session()
    await store.create(session)
    await store.append(session.id, "alice", messages, revision=0, trim=Trim())
    stored = await store.get(session.id, "alice")
    assert stored is not None
    assert stored.messages == tuple(messages)


async def test_an_unknown_session_cannot_be_appended_to(store: SessionStore) -> None:
    unknown = f"sess_{secrets.token_hex(16)}"
    with pytest.raises(SessionNotFoundError):
        await store.append(unknown, None, [user("x")], revision=0, trim=Trim())


async def test_a_stale_revision_is_refused_and_appends_nothing(store: SessionStore, new_session):
    session = new_session()
    await store.create(session)
    saved = await store.append(session.id, "alice", [user("a")], revision=0, trim=Trim())

    with pytest.raises(SessionBusyError):
        await store.append(session.id, "alice", [user("b")], revision=0, trim=Trim())
    assert await store.get(session.id, "alice") == saved


@pytest.mark.parametrize(
    ("trim", "expected"),
    [
        (Trim(keep=1, drop=2), ["sys", "u2", "new"]),
        (Trim(keep=0, drop=3), ["u2", "new"]),
        (Trim(keep=1, drop=4), ["sys"]),
        (Trim(keep=1, drop=0), ["sys", "u1", "a1", "u2", "new"]),
    ],
)
async def test_append_applies_the_trim_to_the_whole_list(
    store: SessionStore, new_session, trim: Trim, expected: list[str]
) -> None:
    history = (Message.system("sys"), user("u1"), Message.assistant("a1"), user("u2"))
    session = new_session(messages=history)
    await store.create(session)
    saved = await store.append(session.id, "alice", [user("new")], revision=0, trim=trim)
    assert [m.text for m in saved.messages] == expected
    stored = await store.get(session.id, "alice")
    assert stored is not None
    assert stored.messages == saved.messages


async def test_a_session_expires_by_the_clock(
    store: SessionStore, new_session, clock: FakeClock
) -> None:
    session = new_session()
    await store.create(session)
    clock.advance(TTL - 1)
    assert await store.get(session.id, "alice") == session

    clock.advance(1)
    assert await store.get(session.id, "alice") is None
    with pytest.raises(SessionNotFoundError):
        await store.append(session.id, "alice", [user("late")], revision=0, trim=Trim())
    assert await store.delete(session.id, "alice") is False


async def test_each_append_pushes_the_expiry_forward(
    store: SessionStore, new_session, clock: FakeClock
) -> None:
    session = new_session()
    await store.create(session)
    for revision in range(3):
        clock.advance(TTL - 10)
        message = user(str(revision))
        await store.append(session.id, "alice", [message], revision=revision, trim=Trim())
    clock.advance(TTL - 10)
    stored = await store.get(session.id, "alice")
    assert stored is not None
    assert len(stored.messages) == 3


async def test_delete_removes_the_session_once(store: SessionStore, new_session) -> None:
    session = new_session(messages=(user("hello"),))
    await store.create(session)
    assert await store.delete(session.id, "alice") is True
    assert await store.get(session.id, "alice") is None
    assert await store.delete(session.id, "alice") is False


async def test_a_held_lock_makes_the_next_turn_wait_then_fail_busy(store: SessionStore) -> None:
    async with store.lock("sess_a", timeout=1, lease=30):
        with pytest.raises(SessionBusyError):
            async with store.lock("sess_a", timeout=0.05, lease=30):
                pytest.fail("two holders at once")
        async with store.lock("sess_b", timeout=0.05, lease=30):
            pass  # other sessions are not blocked
    async with store.lock("sess_a", timeout=0.05, lease=30):
        pass


async def test_a_waiting_turn_gets_the_lock_as_soon_as_it_is_released(store: SessionStore):
    order: list[str] = []

    async def second() -> None:
        async with store.lock("sess_c", timeout=5, lease=30):
            order.append("second")

    async with store.lock("sess_c", timeout=1, lease=30):
        waiter = asyncio.create_task(second())
        await asyncio.sleep(0.05)
        order.append("first done")
    await asyncio.wait_for(waiter, 2)
    assert order == ["first done", "second"]


async def test_a_lock_whose_lease_ran_out_can_be_taken(store: SessionStore, clock: FakeClock):
    # Time passes on both clocks: the injected one (memory leases) and the real one (Redis PX).
    async with store.lock("sess_d", timeout=1, lease=0.1):
        await asyncio.sleep(0.15)
        clock.advance(1)
        async with store.lock("sess_d", timeout=0.5, lease=30):
            pass


async def test_ping_answers_when_the_store_is_up(store: SessionStore) -> None:
    await store.ping()


async def test_fifty_concurrent_turns_lose_nothing_and_never_interleave(
    store: SessionStore, clock: FakeClock
) -> None:
    service = SessionService(
        store, clock, SessionConfig(limits=HistoryLimits(max_messages=1000))
    )
    session = await service.create("alice")
    histories: list[tuple[Message, ...]] = []

    async def turn(index: int) -> None:
        async with service.turn(session.id, "alice") as current:
            histories.append(current.history)
            await asyncio.sleep(0)  # let the others pile up on the lock
            pair = [user(f"user {index}"), Message.assistant(f"assistant {index}")]
            await current.commit(pair, usage=Usage(prompt_tokens=index), cost_usd=Money.usd("0.01"))

    await asyncio.gather(*(turn(index) for index in range(50)))

    stored = await service.get(session.id, "alice")
    texts = [m.text for m in stored.messages]
    pairs = list(zip(texts[::2], texts[1::2], strict=True))
    assert all(u.removeprefix("user ") == a.removeprefix("assistant ") for u, a in pairs)
    assert sorted(int(u.removeprefix("user ")) for u, _ in pairs) == list(range(50))
    assert stored.revision == 50
    assert stored.usage == SessionUsage(turns=50, prompt_tokens=sum(range(50)), cost_usd=Money.usd("0.5"))
    # Serialised: each turn saw every turn saved before it, and nothing else.
    assert [len(history) for history in histories] == list(range(0, 100, 2))
    assert all(stored.messages[: len(history)] == history for history in histories)


# Redis adapter specifics: what only a real Redis can show.


async def test_redis_keeps_one_sessions_keys_in_one_cluster_slot(
    redis_client: Redis, key_prefix: str, new_session, clock: FakeClock
) -> None:
    store = RedisSessionStore(redis_client, clock, key_prefix=key_prefix)
    session = new_session(messages=(user("hi"),))
    await store.create(session)
    keys = sorted([k.decode() async for k in redis_client.scan_iter(match=f"{key_prefix}:*")])
    base = f"{key_prefix}:session:{{{session.id}}}"
    assert keys == [f"{base}:messages", f"{base}:meta"]
    assert len({key_slot(key.encode()) for key in (*keys, f"{base}:lock")}) == 1


async def test_redis_counts_the_totals_of_a_session_saved_before_they_existed(
    redis_client: Redis, key_prefix: str, new_session, clock: FakeClock
) -> None:
    store = RedisSessionStore(redis_client, clock, key_prefix=key_prefix)
    session = new_session()
    await store.create(session)
    fields = ("turns", "prompt_tokens", "completion_tokens", "cached_tokens", "cost_picodollars")
    meta = f"{key_prefix}:session:{{{session.id}}}:meta"
    assert await redis_client.hdel(meta, *fields) == len(fields)

    assert await store.get(session.id, "alice") == session
    saved = await store.append(
        session.id, "alice", [user("hi")], revision=0, trim=Trim(),
        usage=Usage(prompt_tokens=3, completion_tokens=4), cost_usd=Money.usd("0.25"),
    )  # fmt: skip
    assert saved.usage == SessionUsage(1, 3, 4, 0, Money.usd("0.25"))


async def test_redis_itself_deletes_an_expired_session(
    redis_client: Redis, key_prefix: str, new_session, clock: FakeClock
) -> None:
    store = RedisSessionStore(redis_client, clock, key_prefix=key_prefix)
    session = new_session(ttl_seconds=1, expires_at=clock.now() + 1)
    await store.create(session)
    await store.append(session.id, "alice", [user("hi")], revision=0, trim=Trim())
    keys = [k async for k in redis_client.scan_iter(match=f"{key_prefix}:*")]
    assert len(keys) == 2
    assert all(0 < ttl <= 1000 for ttl in [await redis_client.pttl(key) for key in keys])

    await asyncio.sleep(1.1)  # the fake clock stands still: only Redis can expire it
    assert await redis_client.exists(*keys) == 0
    assert await store.get(session.id, "alice") is None


async def test_redis_being_down_is_store_unavailable_for_every_operation(new_session) -> None:
    client = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    store = RedisSessionStore(client, FakeClock())
    session = new_session()
    operations = [
        store.ping(),
        store.create(session),
        store.get(session.id, "alice"),
        store.append(session.id, "alice", [user("x")], revision=0, trim=Trim()),
        store.delete(session.id, "alice"),
    ]
    try:
        for operation in operations:
            with pytest.raises(StoreUnavailableError) as caught:
                await operation
            assert 1 <= caught.value.retry_after <= 5
            assert "127.0.0.1" not in caught.value.message
        with pytest.raises(StoreUnavailableError):
            async with store.lock(session.id, timeout=1, lease=1):
                pass
    finally:
        await client.aclose()
