"""Sessions: create, read, delete, and the chat turns that continue one.

Concurrent turns on one session are serialised, not rejected: a turn waits for the session's
lock (shared by every gateway process through the store) and only fails with ``session_busy``
(409) when that wait outlasts ``SessionConfig.lock_timeout_seconds``. Inside the lock a turn
reads the history, the caller runs the model, and ``commit`` appends the turn's new messages in
one atomic store operation that also trims the history (see ``gateway_core.domain.sessions``)
and slides the expiry: ``expires_at`` becomes now + ``ttl_seconds`` on every successful turn;
the same operation adds the turn's tokens and cost to the session's totals.
A turn that ends without ``commit`` (a failure, an aborted stream) leaves the session as it
was. The append is also checked against the revision the turn read, so even a turn that
outlived its lock's lease cannot interleave with the next one: it gets ``session_busy``.

Unknown, expired and other owners' sessions are all ``SessionNotFoundError`` (404), so a
session id never reveals whether it belongs to someone else.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from gateway_core.domain.messages import Message
from gateway_core.domain.money import Money
from gateway_core.domain.sessions import HistoryLimits, Session, plan_trim
from gateway_core.domain.usage import Usage
from gateway_core.errors import InvalidRequestError, SessionNotFoundError
from gateway_core.ports.clock import Clock
from gateway_core.ports.sessions import SessionStore

_ID_PREFIX = "sess_"
_ID_PATTERN = re.compile(r"sess_[0-9a-f]{32}")
"""128 random bits in hex. Anything else cannot be one of ours: 404 without asking the store."""


@dataclass(frozen=True, slots=True)
class SessionConfig:
    default_ttl_seconds: int = 3600
    min_ttl_seconds: int = 60
    max_ttl_seconds: int = 30 * 24 * 3600
    limits: HistoryLimits = field(default_factory=lambda: HistoryLimits(max_messages=200))
    lock_timeout_seconds: float = 30.0
    """How long a turn waits for the one before it before answering ``session_busy``."""
    lock_lease_seconds: float = 120.0
    """How long a crashed turn can keep its session locked. A live turn that takes longer
    cannot corrupt the history (the append checks the revision); at worst it gets 409."""


def _not_found() -> SessionNotFoundError:
    return SessionNotFoundError("This session does not exist or has expired.", param="session_id")


class SessionTurn:
    """One chat turn inside a session's lock: read ``history``, then ``commit`` the new messages.

    ``history`` goes before the request's messages; ``commit`` takes the request's new
    user/tool messages and the assistant's reply (with its tool calls and results), in order.
    """

    def __init__(self, store: SessionStore, session: Session, limits: HistoryLimits) -> None:
        self._store = store
        self._session = session
        self._history = session.messages
        self._limits = limits
        self._open = True

    @property
    def session(self) -> Session:
        """The session as read when the turn began, or as saved by ``commit``."""
        return self._session

    @property
    def history(self) -> tuple[Message, ...]:
        """The stored messages as the turn began, to put before the request's messages."""
        return self._history

    async def commit(
        self,
        new_messages: Sequence[Message],
        *,
        usage: Usage = Usage(),
        cost_usd: Money = Money.ZERO,
    ) -> Session:
        """Save the turn; at most once, and only inside the ``turn`` block. ``usage`` and
        ``cost_usd`` (what the turn used and was charged) go to the session's totals."""
        if not self._open:
            raise RuntimeError("This turn is already committed or finished.")
        self._open = False
        trim = plan_trim((*self._history, *new_messages), self._limits)
        self._session = await self._store.append(
            self._session.id,
            self._session.owner,
            new_messages,
            revision=self._session.revision,
            trim=trim,
            usage=usage,
            cost_usd=cost_usd,
        )
        return self._session

    def _finish(self) -> None:
        self._open = False


class SessionService:
    """The session use cases, over any ``SessionStore``."""

    def __init__(
        self, store: SessionStore, clock: Clock, config: SessionConfig | None = None
    ) -> None:
        self._store = store
        self._clock = clock
        self._config = config or SessionConfig()

    async def create(
        self,
        owner: str | None,
        ttl_seconds: int | None = None,
        context: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Session:
        ttl = self._valid_ttl(ttl_seconds)
        # Whole milliseconds: what every store keeps, so the answer to create equals a read.
        now = round(self._clock.now(), 3)
        session = Session(
            id=_ID_PREFIX + secrets.token_hex(16),
            owner=owner,
            created_at=now,
            expires_at=now + ttl,
            ttl_seconds=ttl,
            context=dict(context or {}),
            metadata=dict(metadata or {}),
        )
        await self._store.create(session)
        return session

    async def get(self, session_id: str, owner: str | None) -> Session:
        session = await self._store.get(session_id, owner) if _is_ours(session_id) else None
        if session is None:
            raise _not_found()
        return session

    async def delete(self, session_id: str, owner: str | None) -> None:
        if not (_is_ours(session_id) and await self._store.delete(session_id, owner)):
            raise _not_found()

    @asynccontextmanager
    async def turn(self, session_id: str, owner: str | None) -> AsyncIterator[SessionTurn]:
        """``async with service.turn(id, owner) as turn:`` one serialised chat turn."""
        if not _is_ours(session_id):
            raise _not_found()
        config = self._config
        lock = self._store.lock(
            session_id, timeout=config.lock_timeout_seconds, lease=config.lock_lease_seconds
        )
        async with lock:
            session = await self._store.get(session_id, owner)
            if session is None:
                raise _not_found()
            turn = SessionTurn(self._store, session, config.limits)
            try:
                yield turn
            finally:
                turn._finish()

    def _valid_ttl(self, ttl_seconds: int | None) -> int:
        if ttl_seconds is None:
            return self._config.default_ttl_seconds
        low, high = self._config.min_ttl_seconds, self._config.max_ttl_seconds
        if isinstance(ttl_seconds, bool) or not isinstance(ttl_seconds, int):
            raise InvalidRequestError("ttl_seconds must be an integer.", param="ttl_seconds")
        if not low <= ttl_seconds <= high:
            raise InvalidRequestError(
                f"ttl_seconds must be between {low} and {high}.", param="ttl_seconds"
            )
        return ttl_seconds


def _is_ours(session_id: str) -> bool:
    return _ID_PATTERN.fullmatch(session_id) is not None
