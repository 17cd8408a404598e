"""Per-client rate limits: requests per minute and tokens per minute, checked together.

Flow for one request::

    admission = await limiter.admit(identity, estimated_tokens=estimate_tokens(request), limits=...)
    # ... call the model; put admission.headers on the response ...
    await limiter.reconcile(admission, usage.total_tokens)   # when the response has ended

A request reserves an estimate of its tokens at admission (it cannot know the real count yet);
``reconcile`` charges or gives back the difference. ``admit`` raises ``RateLimitExceededError``
(429) with ``retry_after`` (seconds) and ``headers``; retrying after ``retry_after`` succeeds
unless someone else spent the allowance in between.

The algorithm (a token bucket that starts full, so the whole per-minute allowance may be spent
in one burst) is described in ``gateway_core.ports.rate_limits``.

Headers follow OpenAI's: ``x-ratelimit-{limit,remaining,reset}-{requests,tokens}``; the reset
is a Go-style duration as OpenAI sends it (``"20ms"``, ``"1s"``, ``"1.5s"``, ``"6m0s"``): the time
until the bucket is full again. A dimension without a limit gets no headers.

When the store is down (``StoreUnavailableError``): ``fail_open`` (the default) admits through a
per-process in-memory limiter holding ``fail_open_share`` of each limit (at least 1 unit), so
N replicas admit at most N x share x limit per period while Redis is away (plus what each
replica's live lease still holds, see ``rate_limit_leases``), and calls ``on_fallback`` each
time, for a metric; ``fail_closed`` lets the ``StoreUnavailableError`` (503) through.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from functools import lru_cache
from typing import Any

from gateway_core.clock import SystemClock
from gateway_core.domain.api_keys import ApiKey
from gateway_core.domain.chat import ChatRequest
from gateway_core.domain.evolve import direct_init
from gateway_core.errors import RateLimitExceededError, StoreUnavailableError
from gateway_core.memory.rate_limits import InMemoryRateLimitStore
from gateway_core.ports.rate_limits import Charge, RateLimitDecision, RateLimitStore
from gateway_core.use_cases.rate_limit_leases import LeasedRateLimitStore

REQUESTS = "requests"
TOKENS = "tokens"
MINUTE = 60.0
_KEY_LIMITS_KEPT = 1024
"""Distinct limits remembered (a key's pair, a requests limit) before the memo starts over."""


class StoreDownPolicy(StrEnum):
    FAIL_OPEN = "fail_open"
    FAIL_CLOSED = "fail_closed"


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Allowances per minute; ``None`` means unlimited in that dimension."""

    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None

    def __post_init__(self) -> None:
        for value in (self.requests_per_minute, self.tokens_per_minute):
            if value is not None and value <= 0:
                raise ValueError("a rate limit must be positive (None for unlimited)")

    def for_key(self, key: ApiKey) -> RateLimits:
        """These defaults, overridden by the key's own limits where it has them."""
        return RateLimits(
            requests_per_minute=key.requests_per_minute or self.requests_per_minute,
            tokens_per_minute=key.tokens_per_minute or self.tokens_per_minute,
        )


@direct_init
@dataclass(frozen=True, slots=True)
class Admission:
    identity: str
    limits: RateLimits
    reserved_tokens: int
    headers: Mapping[str, str]
    via_fallback: bool = False
    """Admitted by the in-memory fallback because the store was down."""

    def token_delta(self, actual_tokens: int) -> int:
        """The tokens ``reconcile`` charges (or gives back) for ``actual_tokens``; 0 when
        there is nothing to adjust (no token limit, or the estimate was exact)."""
        if self.limits.tokens_per_minute is None:
            return 0
        return max(0, actual_tokens) - self.reserved_tokens


def identity_for_key(key_id: str) -> str:
    return f"key:{key_id}"


def identity_for_address(address: str) -> str:
    """Client addresses are hashed: no address (and no ':' of IPv6) reaches a store key."""
    return "ip:" + hashlib.sha256(address.encode("utf-8")).hexdigest()[:32]


def estimate_tokens(request: ChatRequest, default_completion_tokens: int = 512) -> int:
    """A cheap upper-ish guess: ~4 characters per prompt token, plus the completion budget."""
    characters = sum(
        len(m.text) + sum(len(call.arguments) for call in m.tool_calls) for m in request.messages
    )
    prompt = math.ceil(characters / 4) + 4 * len(request.messages)
    completion = (request.max_tokens or default_completion_tokens) * max(1, request.n)
    return prompt + completion


def format_reset(seconds: float) -> str:
    """A duration the way OpenAI writes ``x-ratelimit-reset-*`` (Go's style, ms precision)."""
    return _format_milliseconds(max(0, round(seconds * 1000)))


@lru_cache(maxsize=4096)
def _format_milliseconds(milliseconds: int) -> str:
    # Every admitted request writes two of these, and a client's resets repeat (whole
    # milliseconds, within a minute): remembered, not formatted again each time.
    if 0 < milliseconds < 1000:
        return f"{milliseconds}ms"
    hours, rest = divmod(milliseconds, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    text = f"{rest / 1000:.3f}".rstrip("0").rstrip(".") + "s"
    if hours:
        return f"{hours}h{minutes}m{text}"
    if minutes:
        return f"{minutes}m{text}"
    return text


class RateLimiter:
    """Admits requests against ``RateLimits`` through a ``RateLimitStore`` (Redis, shared by
    every replica), falling back to ``fallback`` (default: in-memory) per ``policy``."""

    def __init__(
        self,
        store: RateLimitStore,
        *,
        defaults: RateLimits,
        policy: StoreDownPolicy | str = StoreDownPolicy.FAIL_OPEN,
        fallback: RateLimitStore | None = None,
        on_fallback: Callable[[], None] | None = None,
        fail_open_share: float = 1.0,
    ) -> None:
        if not 0 < fail_open_share <= 1:
            raise ValueError("fail_open_share must be in (0, 1]")
        self._store = store
        self._leased = store if isinstance(store, LeasedRateLimitStore) else None
        """The store when leases front it: their adjustments can be settled without a task."""
        self._share = fail_open_share
        self._defaults = defaults
        self._policy = StoreDownPolicy(policy)
        self._fallback = fallback or InMemoryRateLimitStore(SystemClock())
        self._on_fallback = on_fallback
        self.fallbacks = 0
        """Admissions decided by the fallback since start (also reported to ``on_fallback``)."""
        self.lost_adjustments = 0
        """``reconcile`` calls dropped because the store was down."""
        self._key_limits: dict[tuple[int | None, int | None], RateLimits] = {}
        self._request_charges: dict[int, Charge] = {}
        """The requests bucket's charge (always 1 unit) per limit: built once, not per request."""

    @property
    def defaults(self) -> RateLimits:
        return self._defaults

    @defaults.setter
    def defaults(self, defaults: RateLimits) -> None:
        self._defaults = defaults
        self._key_limits.clear()  # made from the old defaults

    def limits_for(self, key: ApiKey | None) -> RateLimits:
        if key is None:
            return self._defaults
        pair = (key.requests_per_minute, key.tokens_per_minute)
        if pair == (None, None):
            return self._defaults
        # One object per distinct pair of a key's limits, not one per request.
        limits = self._key_limits.get(pair)
        if limits is None:
            if len(self._key_limits) >= _KEY_LIMITS_KEPT:
                self._key_limits.clear()
            limits = self._key_limits[pair] = self._defaults.for_key(key)
        return limits

    async def admit(
        self, identity: str, *, estimated_tokens: int = 0, limits: RateLimits | None = None
    ) -> Admission:
        limits = limits or self._defaults
        charges = self._charges(limits, max(0, estimated_tokens))
        if not charges:
            return Admission(identity, limits, reserved_tokens=0, headers={})
        decision, charges, via_fallback = await self._acquire(identity, charges)
        headers = _headers(charges, decision)
        if not decision.allowed:
            raise RateLimitExceededError(
                _rejection_message(charges, decision),
                retry_after=decision.retry_after,
                headers=headers,
            )
        # The tokens charge, when there is one, is the last (``_charges``; a fallback's too).
        reserved = charges[-1].cost if limits.tokens_per_minute is not None else 0
        return Admission(identity, limits, reserved, headers, via_fallback)

    async def reconcile(self, admission: Admission, actual_tokens: int) -> None:
        """Charge (or give back) the difference between the real and the reserved tokens.

        Never raises for a store that is down: the response is already over, and a lost
        adjustment only shifts one client's allowance by one estimate's error.
        """
        charge = self._reconciliation(admission, actual_tokens)
        if charge is not None:
            await self._adjust(admission, charge)

    def settle(self, admission: Admission, actual_tokens: int) -> Coroutine[Any, Any, None] | None:
        """``reconcile`` in two halves: what a live lease takes is settled now; the rest is a
        coroutine to run off the response's path (``None``: nothing left, which is the case
        of every answer far from the limits)."""
        charge = self._reconciliation(admission, actual_tokens)
        if charge is not None and not admission.via_fallback and self._leased is not None:
            charge = self._leased.absorb(admission.identity, charge)
        return None if charge is None else self._adjust(admission, charge)

    def _reconciliation(self, admission: Admission, actual_tokens: int) -> Charge | None:
        tokens_per_minute = admission.limits.tokens_per_minute
        delta = admission.token_delta(actual_tokens)
        if tokens_per_minute is None or delta == 0:
            return None
        return Charge(TOKENS, tokens_per_minute, MINUTE, delta)

    async def _adjust(self, admission: Admission, charge: Charge) -> None:
        store = self._store
        if admission.via_fallback:
            store, charge = self._fallback, self._fallback_charge(charge)
        try:
            await store.adjust(admission.identity, charge)
        except StoreUnavailableError:
            self.lost_adjustments += 1

    def _charges(self, limits: RateLimits, estimated_tokens: int) -> tuple[Charge, ...]:
        charges = []
        requests_per_minute = limits.requests_per_minute
        if requests_per_minute is not None:
            charge = self._request_charges.get(requests_per_minute)
            if charge is None:
                if len(self._request_charges) >= _KEY_LIMITS_KEPT:
                    self._request_charges.clear()
                charge = Charge(REQUESTS, requests_per_minute, MINUTE, 1)
                self._request_charges[requests_per_minute] = charge
            charges.append(charge)
        if limits.tokens_per_minute is not None:
            # A reservation above the whole allowance is charged as the whole allowance (see
            # the port); recording the clamped figure keeps ``reconcile`` exact.
            cost = min(estimated_tokens, limits.tokens_per_minute)
            charges.append(Charge(TOKENS, limits.tokens_per_minute, MINUTE, cost))
        return tuple(charges)

    async def _acquire(
        self, identity: str, charges: tuple[Charge, ...]
    ) -> tuple[RateLimitDecision, tuple[Charge, ...], bool]:
        """The decision, the charges it was made on (a fallback's are its share) and whether
        the fallback made it."""
        try:
            return await self._store.acquire(identity, charges), charges, False
        except StoreUnavailableError:
            if self._policy is StoreDownPolicy.FAIL_CLOSED:
                raise
        self.fallbacks += 1
        if self._on_fallback is not None:
            self._on_fallback()
        local = tuple(self._fallback_charge(charge) for charge in charges)
        return await self._fallback.acquire(identity, local), local, True

    def _fallback_charge(self, charge: Charge) -> Charge:
        """``charge`` against this replica's share of the limit (at least 1 unit): the bound
        that keeps N replicas within N x share x limit while the store is down."""
        limit = max(1, math.floor(charge.limit * self._share))
        cost = min(charge.cost, limit) if charge.cost > 0 else charge.cost
        return replace(charge, limit=limit, cost=cost)


def _header_names(bucket: str) -> tuple[str, str, str]:
    return (
        f"x-ratelimit-limit-{bucket}",
        f"x-ratelimit-remaining-{bucket}",
        f"x-ratelimit-reset-{bucket}",
    )


_HEADER_NAMES = {bucket: _header_names(bucket) for bucket in (REQUESTS, TOKENS)}
"""Every admitted request names these: spelled once."""


def _headers(charges: tuple[Charge, ...], decision: RateLimitDecision) -> dict[str, str]:
    headers = {}
    for charge, state in zip(charges, decision.buckets, strict=True):
        names = _HEADER_NAMES.get(charge.bucket) or _header_names(charge.bucket)
        headers[names[0]] = str(state.limit)
        headers[names[1]] = str(state.remaining)
        headers[names[2]] = format_reset(state.reset_after)
    return headers


def _rejection_message(charges: tuple[Charge, ...], decision: RateLimitDecision) -> str:
    pairs = zip(charges, decision.buckets, strict=True)
    charge, state = max(pairs, key=lambda pair: pair[1].retry_after)
    return (
        f"Rate limit reached for {charge.bucket} per minute (limit {state.limit}). "
        f"Try again in {format_reset(state.retry_after)}."
    )
