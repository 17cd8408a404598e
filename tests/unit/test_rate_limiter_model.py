"""``RateLimiter`` on the in-memory store, checked step by step against a reference model.

The model is the textbook token bucket in exact rational arithmetic (``Fraction``), written
independently of the implementation's scaled-integer bookkeeping: the two must agree on every
decision, every ``remaining`` and every ``retry_after``, and a rejected client that waits its
``retry_after`` must get in (and must not get in a millisecond sooner).
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway_core.errors import RateLimitExceededError
from gateway_core.memory.rate_limits import InMemoryRateLimitStore
from gateway_core.testing import FakeClock
from gateway_core.use_cases.rate_limit import Admission, RateLimiter, RateLimits, format_reset

PERIOD_MS = 60_000
IDENTITY = "key:model-test"


@dataclass
class ModelBucket:
    limit: int
    available: Fraction

    def refill(self, elapsed_ms: int) -> None:
        self.available = min(
            Fraction(self.limit), self.available + Fraction(elapsed_ms * self.limit, PERIOD_MS)
        )

    def wait_ms(self, cost: int) -> int:
        """Whole ms until ``cost`` fits (0: it fits now)."""
        missing = min(cost, self.limit) - self.available
        return max(0, math.ceil(missing * PERIOD_MS / self.limit))

    def reset_ms(self) -> int:
        return math.ceil((self.limit - self.available) * PERIOD_MS / self.limit)


class Model:
    def __init__(self, rpm: int, tpm: int) -> None:
        self.requests = ModelBucket(rpm, Fraction(rpm))
        self.tokens = ModelBucket(tpm, Fraction(tpm))

    def wait(self, elapsed_ms: int) -> None:
        self.requests.refill(elapsed_ms)
        self.tokens.refill(elapsed_ms)

    def retry_ms(self, estimate: int) -> int:
        return max(self.requests.wait_ms(1), self.tokens.wait_ms(estimate))

    def charge(self, estimate: int) -> None:
        self.requests.available -= 1
        self.tokens.available -= min(estimate, self.tokens.limit)

    def reconcile(self, delta: int) -> None:
        self.tokens.available = min(Fraction(self.tokens.limit), self.tokens.available - delta)


class Harness:
    def __init__(self, rpm: int, tpm: int) -> None:
        self.clock = FakeClock()
        self.now_ms = 0
        self.limiter = RateLimiter(
            InMemoryRateLimitStore(self.clock), defaults=RateLimits(rpm, tpm)
        )
        self.model = Model(rpm, tpm)
        self.admitted_at: list[int] = []
        self.open: list[Admission] = []

    def wait(self, elapsed_ms: int) -> None:
        self.clock.advance(elapsed_ms / 1000)
        self.now_ms += elapsed_ms
        self.model.wait(elapsed_ms)

    async def admit(self, estimate: int) -> bool:
        """One admission, checked against the model; True when admitted."""
        expected_wait = self.model.retry_ms(estimate)
        try:
            admission = await self.limiter.admit(IDENTITY, estimated_tokens=estimate)
        except RateLimitExceededError as error:
            assert expected_wait > 0, "rejected although the model admits"
            assert error.retry_after == expected_wait / 1000
            return False
        assert expected_wait == 0, "admitted although the model rejects"
        self.model.charge(estimate)
        self._check_headers(admission)
        self.admitted_at.append(self.now_ms)
        self.open.append(admission)
        return True

    def _check_headers(self, admission: Admission) -> None:
        for name, bucket in (("requests", self.model.requests), ("tokens", self.model.tokens)):
            assert admission.headers[f"x-ratelimit-limit-{name}"] == str(bucket.limit)
            remaining = max(0, math.floor(bucket.available))
            assert admission.headers[f"x-ratelimit-remaining-{name}"] == str(remaining)
            reset = format_reset(bucket.reset_ms() / 1000)
            assert admission.headers[f"x-ratelimit-reset-{name}"] == reset

    async def admit_after_retry_after(self, estimate: int) -> None:
        """A rejected client: 1 ms before its retry_after it is still out, at it it gets in."""
        retry_ms = self.model.retry_ms(estimate)
        self.wait(retry_ms - 1)
        assert not await self.admit(estimate)
        self.wait(1)
        assert await self.admit(estimate)

    async def reconcile(self, actual: int) -> None:
        if self.open:
            admission = self.open.pop(0)
            await self.limiter.reconcile(admission, actual)
            self.model.reconcile(actual - admission.reserved_tokens)

    def check_request_windows(self) -> None:
        """Within any span [a, b], a full bucket plus what refilled over b - a, never more."""
        times = self.admitted_at  # in order: the clock only moves forward
        limit = self.model.requests.limit
        for start in times:
            for end in times:
                if end >= start:
                    count = bisect_right(times, end) - bisect_left(times, start)
                    assert count <= limit + Fraction((end - start) * limit, PERIOD_MS)


steps = st.lists(
    st.one_of(
        st.tuples(st.just("wait"), st.integers(0, 40_000)),
        st.tuples(st.just("admit"), st.integers(0, 400)),
        st.tuples(st.just("reconcile"), st.integers(0, 700)),
    ),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(rpm=st.integers(1, 8), tpm=st.integers(1, 1_000), script=steps)
async def test_limiter_agrees_with_the_reference_model(
    rpm: int, tpm: int, script: list[tuple[str, int]]
) -> None:
    harness = Harness(rpm, tpm)
    for action, amount in script:
        if action == "wait":
            harness.wait(amount)
        elif action == "reconcile":
            await harness.reconcile(amount)
        elif not await harness.admit(amount):
            await harness.admit_after_retry_after(amount)
    harness.check_request_windows()


@pytest.mark.parametrize("limit", [1, 5, 50])
async def test_a_full_allowance_is_admitted_in_one_burst(limit: int) -> None:
    harness = Harness(limit, 1_000_000)
    for _ in range(limit):
        assert await harness.admit(1)
    with pytest.raises(RateLimitExceededError) as caught:
        await harness.limiter.admit(IDENTITY, estimated_tokens=1)
    assert caught.value.retry_after == PERIOD_MS / limit / 1000
    assert caught.value.headers["x-ratelimit-remaining-requests"] == "0"
