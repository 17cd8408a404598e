"""``AdmissionPolicy.settle``: the token reservation is reconciled off the answer's path, and
an admission with nothing to adjust starts no background task at all."""

from __future__ import annotations

from gateway_core.memory.rate_limits import InMemoryRateLimitStore
from gateway_core.testing import FakeClock
from gateway_core.use_cases.admission import AdmissionPolicy
from gateway_core.use_cases.background import BackgroundTasks
from gateway_core.use_cases.rate_limit import RateLimiter, RateLimits


async def _settled(limits: RateLimits, estimated: int, spent: int) -> tuple[int, int]:
    """Tasks started by ``settle``, and the tokens left in the minute once they ran."""
    background = BackgroundTasks()
    limiter = RateLimiter(InMemoryRateLimitStore(FakeClock()), defaults=limits)
    policy = AdmissionPolicy(limiter=limiter, background=background)
    admission = await limiter.admit("key:k", estimated_tokens=estimated)
    policy.settle(admission, spent)
    started = background.running
    await background.drain(1.0)
    after = await limiter.admit("key:k", estimated_tokens=0)
    remaining = after.headers.get("x-ratelimit-remaining-tokens", "-1")
    return started, int(remaining)


async def test_no_token_limit_starts_no_task() -> None:
    assert (await _settled(RateLimits(requests_per_minute=10), 100, 40))[0] == 0


async def test_an_exact_estimate_starts_no_task() -> None:
    started, remaining = await _settled(RateLimits(tokens_per_minute=1000), 100, 100)
    assert (started, remaining) == (0, 900)


async def test_a_wrong_estimate_is_reconciled_in_the_background() -> None:
    started, remaining = await _settled(RateLimits(tokens_per_minute=1000), 100, 40)
    assert (started, remaining) == (1, 960)


async def test_a_turn_that_spent_more_than_reserved_is_charged_the_rest() -> None:
    started, remaining = await _settled(RateLimits(tokens_per_minute=1000), 100, 300)
    assert (started, remaining) == (1, 700)
