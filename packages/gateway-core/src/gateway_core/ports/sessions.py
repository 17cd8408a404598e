from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from gateway_core.domain.messages import Message
from gateway_core.domain.money import Money
from gateway_core.domain.sessions import Session, Trim
from gateway_core.domain.usage import Usage


class SessionStore(Protocol):
    """Conversation histories that expire. Every method raises ``StoreUnavailableError`` when
    the backing store cannot be reached.

    ``owner`` is the id of the client key that created the session (``None`` when auth is off).
    A session is invisible to any other owner, and to everyone once ``expires_at`` has passed
    by the store's clock: ``get`` answers ``None``, ``append`` raises ``SessionNotFoundError``,
    ``delete`` answers ``False``.
    """

    async def create(self, session: Session) -> None:
        """Store a new session (its ``id`` is unique by construction)."""
        ...

    async def get(self, session_id: str, owner: str | None) -> Session | None: ...

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
        """In one atomic step: append ``messages``, apply ``trim`` to the whole resulting list,
        add one to the revision, add the turn's ``usage`` and ``cost_usd`` to the session's
        totals (``Session.usage``, one more turn) and slide the expiry to now + the session's
        ``ttl_seconds``.

        Raises ``SessionNotFoundError`` when the session is unknown, expired or another
        owner's, and ``SessionBusyError`` when its revision is no longer ``revision`` (another
        turn committed since this one read the history).
        """
        ...

    async def delete(self, session_id: str, owner: str | None) -> bool:
        """Remove the session; ``False`` when there was none to remove."""
        ...

    def lock(
        self, session_id: str, *, timeout: float, lease: float
    ) -> AbstractAsyncContextManager[None]:
        """Hold the session's turn lock, shared by every process using the store.

        Waits up to ``timeout`` seconds, then raises ``SessionBusyError``. A holder that dies
        loses the lock after ``lease`` seconds; the revision check of ``append`` keeps a holder
        that outlives its lease from interleaving with the next one.
        """
        ...

    async def ping(self) -> None:
        """Return when the store can serve; raise ``StoreUnavailableError`` otherwise."""
        ...
