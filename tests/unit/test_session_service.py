"""The session use cases over the in-memory store and a fake clock."""

from __future__ import annotations

import asyncio
import re

import pytest

from gateway_core.domain.messages import Message
from gateway_core.domain.sessions import HistoryLimits
from gateway_core.errors import InvalidRequestError, SessionBusyError, SessionNotFoundError
from gateway_core.memory import InMemorySessionStore
from gateway_core.testing import FakeClock
from gateway_core.use_cases.sessions import SessionConfig, SessionService


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(clock: FakeClock) -> InMemorySessionStore:
    return InMemorySessionStore(clock)


def make_service(store: InMemorySessionStore, clock: FakeClock, **config: object) -> SessionService:
    return SessionService(store, clock, SessionConfig(**config))  # type: ignore[arg-type]


@pytest.fixture
def service(store: InMemorySessionStore, clock: FakeClock) -> SessionService:
    return make_service(store, clock, lock_timeout_seconds=0.1)


def pair(index: int) -> list[Message]:
    return [Message.user(f"q{index}"), Message.assistant(f"a{index}")]


async def test_create_makes_an_empty_session_with_the_default_ttl(service, clock) -> None:
    session = await service.create("alice", context={"book": "dune"}, metadata={"app": "x"})
    assert re.fullmatch(r"sess_[0-9a-f]{32}", session.id)
    assert session.owner == "alice"
    assert (session.created_at, session.expires_at) == (clock.now(), clock.now() + 3600)
    assert session.messages == ()
    assert (session.context, session.metadata) == ({"book": "dune"}, {"app": "x"})
    assert await service.get(session.id, "alice") == session


async def test_ids_are_never_reused(service) -> None:
    ids = {(await service.create(None)).id for _ in range(200)}
    assert len(ids) == 200


@pytest.mark.parametrize("ttl", [59, 0, -1, 30 * 24 * 3600 + 1, True, 90.5, "120"])
async def test_a_ttl_out_of_range_or_not_an_integer_is_refused(service, ttl) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        await service.create("alice", ttl_seconds=ttl)
    assert caught.value.param == "ttl_seconds"


async def test_the_ttl_bounds_themselves_are_accepted(service, clock) -> None:
    assert (await service.create("alice", ttl_seconds=60)).expires_at == clock.now() + 60
    assert (await service.create("alice", ttl_seconds=30 * 24 * 3600)).ttl_seconds == 2_592_000


@pytest.mark.parametrize("session_id", ["nope", "sess_" + "0" * 32, "", "sess_X}:meta"])
async def test_unknown_ids_are_not_found_everywhere(service, session_id: str) -> None:
    with pytest.raises(SessionNotFoundError):
        await service.get(session_id, "alice")
    with pytest.raises(SessionNotFoundError):
        await service.delete(session_id, "alice")
    with pytest.raises(SessionNotFoundError):
        async with service.turn(session_id, "alice"):
            pytest.fail("a turn on an unknown session")


async def test_another_owners_session_is_not_found(service) -> None:
    session = await service.create("alice")
    with pytest.raises(SessionNotFoundError):
        await service.get(session.id, "bob")
    with pytest.raises(SessionNotFoundError):
        await service.delete(session.id, "bob")
    with pytest.raises(SessionNotFoundError):
        async with service.turn(session.id, None):
            pass
    assert await service.get(session.id, "alice") == session


async def test_delete_then_get_is_not_found(service) -> None:
    session = await service.create("alice")
    await service.delete(session.id, "alice")
    with pytest.raises(SessionNotFoundError):
        await service.get(session.id, "alice")
    with pytest.raises(SessionNotFoundError):
        await service.delete(session.id, "alice")


async def test_a_turn_sees_the_history_and_commit_appends_and_slides_the_expiry(
    service, clock
) -> None:
    session = await service.create("alice", ttl_seconds=600)
    async with service.turn(session.id, "alice") as turn:
        assert turn.history == ()
        await turn.commit(pair(1))
    clock.advance(500)
    async with service.turn(session.id, "alice") as turn:
        assert turn.history == tuple(pair(1))
        saved = await turn.commit(pair(2))

    assert saved.messages == (*pair(1), *pair(2))
    assert saved.expires_at == clock.now() + 600
    clock.advance(500)  # past the first expiry: the second turn moved it
    assert await service.get(session.id, "alice") == saved


async def test_a_turn_that_fails_or_does_not_commit_appends_nothing(service) -> None:
    session = await service.create("alice")
    with pytest.raises(ZeroDivisionError):
        async with service.turn(session.id, "alice"):
            raise ZeroDivisionError
    async with service.turn(session.id, "alice"):
        pass  # an aborted stream: the block ends without commit
    assert (await service.get(session.id, "alice")).messages == ()


async def test_a_turn_commits_at_most_once_and_only_inside_the_block(service) -> None:
    session = await service.create("alice")
    async with service.turn(session.id, "alice") as turn:
        await turn.commit(pair(1))
        with pytest.raises(RuntimeError):
            await turn.commit(pair(2))
    async with service.turn(session.id, "alice") as late:
        pass
    with pytest.raises(RuntimeError):
        await late.commit(pair(3))
    assert (await service.get(session.id, "alice")).messages == tuple(pair(1))


async def test_commit_trims_the_history(store, clock) -> None:
    service = make_service(store, clock, limits=HistoryLimits(max_messages=5))
    session = await service.create("alice")
    async with service.turn(session.id, "alice") as turn:
        await turn.commit([Message.system("rules"), *pair(1)])
    for index in (2, 3):
        async with service.turn(session.id, "alice") as turn:
            saved = await turn.commit(pair(index))
    assert saved.messages == (Message.system("rules"), *pair(2), *pair(3))


async def test_a_second_turn_waits_for_the_first_and_sees_its_messages(service) -> None:
    session = await service.create("alice")
    first_inside = asyncio.Event()

    async def first() -> None:
        async with service.turn(session.id, "alice") as turn:
            first_inside.set()
            await asyncio.sleep(0.03)
            await turn.commit(pair(1))

    async def second() -> tuple[Message, ...]:
        await first_inside.wait()
        async with service.turn(session.id, "alice") as turn:
            await turn.commit(pair(2))
            return turn.history

    _, seen = await asyncio.gather(first(), second())
    assert seen == tuple(pair(1))


async def test_a_turn_that_waits_too_long_is_session_busy(service) -> None:
    session = await service.create("alice")
    async with service.turn(session.id, "alice"):
        with pytest.raises(SessionBusyError):
            async with service.turn(session.id, "alice"):
                pytest.fail("two turns at once")


async def test_a_turn_that_outlived_its_lease_cannot_overwrite_the_next_one(store, clock):
    service = make_service(store, clock, lock_timeout_seconds=0.1, lock_lease_seconds=10)
    session = await service.create("alice")
    async with service.turn(session.id, "alice") as slow:
        clock.advance(11)  # the lease ran out: another turn may start
        async with service.turn(session.id, "alice") as fast:
            await fast.commit(pair(2))
        with pytest.raises(SessionBusyError):
            await slow.commit(pair(1))
    assert (await service.get(session.id, "alice")).messages == tuple(pair(2))


async def test_a_session_that_expired_is_not_found_for_a_turn(service, clock) -> None:
    session = await service.create("alice", ttl_seconds=60)
    clock.advance(60)
    with pytest.raises(SessionNotFoundError) as caught:
        async with service.turn(session.id, "alice"):
            pass
    assert caught.value.code == "session_not_found"


async def test_a_session_that_expires_during_the_turn_is_not_saved(service, clock) -> None:
    session = await service.create("alice", ttl_seconds=60)
    async with service.turn(session.id, "alice") as turn:
        clock.advance(61)
        with pytest.raises(SessionNotFoundError):
            await turn.commit(pair(1))
