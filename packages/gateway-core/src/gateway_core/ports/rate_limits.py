"""The rate-limit store: atomic, all-or-nothing admission against named allowances.

The algorithm every implementation must follow (so that the contract suite can hold them all
to the same numbers) is a token bucket, the "bucket" form of GCRA:

- an allowance of ``limit`` units per ``period`` starts full: a client may spend all of it
  at once (a limit of 5/min admits 5 simultaneous requests);
- it refills continuously at ``limit / period`` units per second, up to ``limit``;
- a charge of ``cost`` units is admitted when the bucket holds at least ``cost``; a cost above
  ``limit`` is charged as ``limit``, so that it can pass once the bucket is full, not never;
- ``acquire`` charges several buckets (requests and tokens) at once or none of them;
- ``adjust`` charges after the fact and never rejects: it may take a bucket below empty (a
  debt that later charges wait out) or give units back (never above full).

Consequence worth knowing: over a sliding window of one ``period``, a client can get up to
twice its limit (a full bucket, then what refills during the window), never more; over a long
run it gets ``limit`` per ``period``.

Time is whole milliseconds; so are ``reset_after`` and ``retry_after`` before they become
seconds here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from gateway_core.domain.evolve import direct_init

_IDENTITY = re.compile(r"[A-Za-z0-9][A-Za-z0-9:._-]{0,127}")
_BUCKET = re.compile(r"[a-z][a-z0-9_]{0,31}")
_VALID_BUCKETS = frozenset({"requests", "tokens"})
"""The gateway's own buckets, known valid: every request builds charges of them."""


def is_valid_identity(identity: str) -> bool:
    """Identities end up in store key names: letters, digits and ``:._-`` only (no braces, no
    spaces), at most 128 characters. Hash anything else (a client address, say) first."""
    return _IDENTITY.fullmatch(identity) is not None


@dataclass(frozen=True, slots=True)
class Charge:
    """``cost`` units against the allowance ``bucket`` (``requests``, ``tokens``) of
    ``limit`` units per ``period`` seconds. ``cost`` may be negative in ``adjust`` only."""

    bucket: str
    limit: int
    period: float
    cost: int = 1
    period_ms: int = field(init=False, repr=False, compare=False)
    """``period`` in whole milliseconds (at least 1), as the stores count time."""

    def __post_init__(self) -> None:
        if self.bucket not in _VALID_BUCKETS and _BUCKET.fullmatch(self.bucket) is None:
            raise ValueError("a bucket name is lowercase letters, digits and '_'")
        if self.limit <= 0 or self.period <= 0:
            raise ValueError("a rate limit needs a positive limit and period")
        # Read several times a request by the leases and the stores: worked out once.
        object.__setattr__(self, "period_ms", max(1, round(self.period * 1000)))


@direct_init
@dataclass(frozen=True, slots=True)
class BucketState:
    """One bucket after an ``acquire`` (after the charge, when admitted)."""

    limit: int
    remaining: int
    """Whole units left now."""
    reset_after: float
    """Seconds until the bucket is full again."""
    retry_after: float
    """Seconds until this bucket alone would admit the charge (0 when it can now)."""


@direct_init
@dataclass(frozen=True, slots=True)
class RateLimitDecision:
    allowed: bool
    buckets: tuple[BucketState, ...]
    """In the order of the charges."""

    @property
    def retry_after(self) -> float:
        """Seconds to wait before the same charges would all be admitted (0 when allowed)."""
        if self.allowed:
            return 0.0
        return max((bucket.retry_after for bucket in self.buckets), default=0.0)


class RateLimitStore(Protocol):
    """Atomic admission, exact however many gateway processes share the store.

    Raises ``StoreUnavailableError`` when the backing store is down, and ``ValueError`` for an
    identity that ``is_valid_identity`` refuses.
    """

    async def acquire(self, identity: str, charges: Sequence[Charge]) -> RateLimitDecision:
        """Charge every bucket, or none of them when any lacks room."""
        ...

    async def adjust(self, identity: str, charge: Charge) -> None:
        """Take ``charge.cost`` more units (negative: give back) without ever rejecting."""
        ...
