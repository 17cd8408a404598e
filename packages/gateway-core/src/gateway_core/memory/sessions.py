"""Sessions in this process's memory, with the same contract as the Redis store.

Expiry and lock leases follow the injected clock (``now`` and ``monotonic``); the wait for a
busy lock is measured in real time (the event loop's), like the Redis store's polling, so a
frozen test clock cannot make a waiter wait forever.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, replace

from gateway_core.domain.messages import Message
from gateway_core.domain.money import Money
from gateway_core.domain.sessions import Session, Trim
from gateway_core.domain.usage import Usage
from gateway_core.errors import SessionBusyError, SessionNotFoundError
from gateway_core.ports.clock import Clock

_SWEEP_INTERVAL_SECONDS = 60.0
"""Expired sessions nobody reads again are dropped at most this often, on ``create``."""
_RECHECK_SECONDS = 0.05
"""A waiter re-checks at least this often, to notice a lease that ran out without a release."""


@dataclass(frozen=True, slots=True)
class _Holder:
    token: str
    lease_ends: float


class InMemorySessionStore:
    """A ``SessionStore`` for one process. Never raises ``StoreUnavailableError``."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._sessions: dict[str, Session] = {}
        self._holders: dict[str, _Holder] = {}
        self._released = asyncio.Event()
        self._next_sweep = clock.now() + _SWEEP_INTERVAL_SECONDS

    async def create(self, session: Session) -> None:
        self._sweep()
        self._sessions[session.id] = session

    async def get(self, session_id: str, owner: str | None) -> Session | None:
        return self._visible(session_id, owner)

    async def append(
        self,
        session_id: str,
        owner: str | None,
        messages: Sequence[Message],
        *,
        revision: int,
        trim: Trim,
        usage: Usage = Usage(),
        cost_usd: Money = Money.ZERO,
    ) -> Session:
        session = self._visible(session_id, owner)
        if session is None:
            raise SessionNotFoundError("This session does not exist or has expired.")
        if session.revision != revision:
            raise SessionBusyError("Another turn of this session was saved first; try again.")
        updated = replace(
            session,
            messages=trim.apply((*session.messages, *messages)),
            revision=revision + 1,
            expires_at=self._clock.now() + session.ttl_seconds,
            usage=session.usage.plus_turn(usage, cost_usd),
        )
        self._sessions[session_id] = updated
        return updated

    async def delete(self, session_id: str, owner: str | None) -> bool:
        if self._visible(session_id, owner) is None:
            return False
        del self._sessions[session_id]
        return True

    @asynccontextmanager
    async def lock(self, session_id: str, *, timeout: float, lease: float) -> AsyncIterator[None]:
        token = secrets.token_hex(8)
        await self._acquire(session_id, token, timeout, lease)
        try:
            yield
        finally:
            self._release(session_id, token)

    async def ping(self) -> None:
        return None

    def _visible(self, session_id: str, owner: str | None) -> Session | None:
        session = self._sessions.get(session_id)
        if session is None:
            return None
        if session.is_expired(self._clock.now()):
            del self._sessions[session_id]
            return None
        return session if session.owner == owner else None

    def _sweep(self) -> None:
        now = self._clock.now()
        if now < self._next_sweep:
            return
        self._next_sweep = now + _SWEEP_INTERVAL_SECONDS
        for session_id in [s.id for s in self._sessions.values() if s.is_expired(now)]:
            del self._sessions[session_id]

    async def _acquire(self, session_id: str, token: str, timeout: float, lease: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            # Taken before the check: a release between the check and the wait still wakes us.
            released = self._released
            if self._try_take(session_id, token, lease):
                return
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise SessionBusyError("Another turn of this session is still running.")
            with suppress(TimeoutError):  # then check again: the holder's lease may have run out
                await asyncio.wait_for(released.wait(), min(remaining, _RECHECK_SECONDS))

    def _try_take(self, session_id: str, token: str, lease: float) -> bool:
        now = self._clock.monotonic()
        holder = self._holders.get(session_id)
        if holder is not None and holder.lease_ends > now:
            return False
        self._holders[session_id] = _Holder(token, now + lease)
        return True

    def _release(self, session_id: str, token: str) -> None:
        holder = self._holders.get(session_id)
        if holder is not None and holder.token == token:
            del self._holders[session_id]
        # Wake every waiter at once; the first to run takes the lock, the others wait again.
        self._released.set()
        self._released = asyncio.Event()
