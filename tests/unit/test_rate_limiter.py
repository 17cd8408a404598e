"""``RateLimiter``: headers, reservations and reconciliation, and the store-down policies."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from gateway_core.domain.api_keys import ApiKey, hash_secret
from gateway_core.domain.chat import ChatRequest
from gateway_core.domain.messages import Message
from gateway_core.errors import RateLimitExceededError, StoreUnavailableError
from gateway_core.memory.rate_limits import InMemoryRateLimitStore
from gateway_core.ports.rate_limits import Charge, RateLimitDecision, is_valid_identity
from gateway_core.testing import FakeClock
from gateway_core.use_cases.rate_limit import (
    RateLimiter,
    RateLimits,
    StoreDownPolicy,
    estimate_tokens,
    format_reset,
    identity_for_address,
    identity_for_key,
)

WHO = "key:team-a"


class DownStore:
    """A ``RateLimitStore`` whose backend is unreachable."""

    def __init__(self) -> None:
        self.calls = 0

    async def acquire(self, identity: str, charges: Sequence[Charge]) -> RateLimitDecision:
        self.calls += 1
        raise StoreUnavailableError("The rate-limit store is unavailable.", retry_after=2.0)

    async def adjust(self, identity: str, charge: Charge) -> None:
        self.calls += 1
        raise StoreUnavailableError("The rate-limit store is unavailable.", retry_after=2.0)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def limiter(clock: FakeClock, rpm: int | None = 5, tpm: int | None = 1_000) -> RateLimiter:
    return RateLimiter(InMemoryRateLimitStore(clock), defaults=RateLimits(rpm, tpm))


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (0.0004, "0s"),
        (0.02, "20ms"),
        (0.999, "999ms"),
        (1, "1s"),
        (1.5, "1.5s"),
        (8.64, "8.64s"),
        (59.9996, "1m0s"),
        (360, "6m0s"),
        (90.5, "1m30.5s"),
        (3723, "1h2m3s"),
    ],
)
def test_reset_durations_are_written_like_openai(seconds: float, text: str) -> None:
    assert format_reset(seconds) == text


async def test_every_admission_carries_both_header_trios(clock: FakeClock) -> None:
    admission = await limiter(clock).admit(WHO, estimated_tokens=100)
    assert admission.headers == {
        "x-ratelimit-limit-requests": "5",
        "x-ratelimit-remaining-requests": "4",
        "x-ratelimit-reset-requests": "12s",
        "x-ratelimit-limit-tokens": "1000",
        "x-ratelimit-remaining-tokens": "900",
        "x-ratelimit-reset-tokens": "6s",
    }
    assert admission.reserved_tokens == 100


async def test_unlimited_dimensions_get_no_headers_and_no_store_call() -> None:
    store = DownStore()
    unlimited = RateLimiter(store, defaults=RateLimits(), policy=StoreDownPolicy.FAIL_CLOSED)
    admission = await unlimited.admit(WHO, estimated_tokens=10_000)
    assert admission.headers == {} and store.calls == 0
    await unlimited.reconcile(admission, 50_000)
    assert store.calls == 0


async def test_rejection_is_429_with_headers_and_an_honest_retry_after(clock: FakeClock) -> None:
    tight = limiter(clock, rpm=None, tpm=1_000)
    await tight.admit(WHO, estimated_tokens=900)
    with pytest.raises(RateLimitExceededError) as caught:
        await tight.admit(WHO, estimated_tokens=200)
    error = caught.value
    assert error.retry_after == 6.0  # 100 tokens missing at 1000/min
    assert error.headers["x-ratelimit-remaining-tokens"] == "100"
    assert "tokens per minute" in error.message and WHO not in error.message
    clock.advance(error.retry_after)
    await tight.admit(WHO, estimated_tokens=200)


async def test_a_rejection_by_tokens_does_not_spend_a_request(clock: FakeClock) -> None:
    both = limiter(clock, rpm=2, tpm=100)
    await both.admit(WHO, estimated_tokens=100)
    with pytest.raises(RateLimitExceededError):
        await both.admit(WHO, estimated_tokens=1)
    admission = await both.admit(WHO, estimated_tokens=0)
    assert admission.headers["x-ratelimit-remaining-requests"] == "0"


async def test_a_reservation_above_the_allowance_is_clamped_to_it(clock: FakeClock) -> None:
    small = limiter(clock, rpm=None, tpm=1_000)
    admission = await small.admit(WHO, estimated_tokens=50_000)
    assert admission.reserved_tokens == 1_000
    assert admission.headers["x-ratelimit-remaining-tokens"] == "0"


async def test_reconcile_charges_the_overrun_and_returns_the_rest(clock: FakeClock) -> None:
    tokens = limiter(clock, rpm=None, tpm=1_000)
    first = await tokens.admit(WHO, estimated_tokens=100)
    await tokens.reconcile(first, 400)  # 300 more than reserved
    second = await tokens.admit(WHO, estimated_tokens=100)
    assert second.headers["x-ratelimit-remaining-tokens"] == "500"
    await tokens.reconcile(second, 0)  # all 100 back
    third = await tokens.admit(WHO, estimated_tokens=0)
    assert third.headers["x-ratelimit-remaining-tokens"] == "600"


async def test_a_debt_from_reconcile_blocks_until_it_is_refilled(clock: FakeClock) -> None:
    tokens = limiter(clock, rpm=None, tpm=1_000)
    admission = await tokens.admit(WHO, estimated_tokens=1_000)
    await tokens.reconcile(admission, 1_500)  # 500 over the whole allowance
    with pytest.raises(RateLimitExceededError) as caught:
        await tokens.admit(WHO, estimated_tokens=0)
    assert caught.value.retry_after == 30.0
    clock.advance(30.0)
    await tokens.admit(WHO, estimated_tokens=0)


async def test_identities_are_limited_separately(clock: FakeClock) -> None:
    one = limiter(clock, rpm=1, tpm=None)
    await one.admit(identity_for_key("a"))
    await one.admit(identity_for_key("b"))
    with pytest.raises(RateLimitExceededError):
        await one.admit(identity_for_key("a"))


async def test_fail_open_falls_back_to_a_local_limiter_and_counts_it(clock: FakeClock) -> None:
    reported: list[None] = []
    open_limiter = RateLimiter(
        DownStore(),
        defaults=RateLimits(2, None),
        fallback=InMemoryRateLimitStore(clock),
        on_fallback=lambda: reported.append(None),
    )
    first = await open_limiter.admit(WHO)
    await open_limiter.admit(WHO)
    with pytest.raises(RateLimitExceededError):
        await open_limiter.admit(WHO)
    assert first.via_fallback and first.headers["x-ratelimit-remaining-requests"] == "1"
    assert open_limiter.fallbacks == 3 and len(reported) == 3


async def test_reconcile_after_a_fallback_admission_goes_to_the_fallback(clock: FakeClock) -> None:
    fallback = InMemoryRateLimitStore(clock)
    open_limiter = RateLimiter(DownStore(), defaults=RateLimits(None, 100), fallback=fallback)
    admission = await open_limiter.admit(WHO, estimated_tokens=10)
    await open_limiter.reconcile(admission, 60)
    decision = await fallback.acquire(WHO, [Charge("tokens", 100, 60.0, 0)])
    assert decision.buckets[0].remaining == 40
    assert open_limiter.lost_adjustments == 0


async def test_fail_closed_lets_the_503_through() -> None:
    closed = RateLimiter(
        DownStore(), defaults=RateLimits(5, None), policy=StoreDownPolicy.FAIL_CLOSED
    )
    with pytest.raises(StoreUnavailableError):
        await closed.admit(WHO)
    assert closed.fallbacks == 0


async def test_reconcile_never_raises_when_the_store_is_down(clock: FakeClock) -> None:
    store = InMemoryRateLimitStore(clock)
    admission = await RateLimiter(store, defaults=RateLimits(None, 100)).admit(WHO)
    down = RateLimiter(DownStore(), defaults=RateLimits(None, 100), policy="fail_closed")
    await down.reconcile(admission, 50)
    assert down.lost_adjustments == 1


def test_policy_names_are_the_setting_values() -> None:
    assert StoreDownPolicy("fail_open") is StoreDownPolicy.FAIL_OPEN
    with pytest.raises(ValueError):
        RateLimiter(DownStore(), defaults=RateLimits(), policy="fail_sideways")


def test_identities_never_carry_a_raw_address() -> None:
    for address in ("203.0.113.7", "2001:db8::1", "::ffff:10.0.0.1"):
        identity = identity_for_address(address)
        assert address not in identity and is_valid_identity(identity)
    assert identity_for_address("203.0.113.7") != identity_for_address("203.0.113.8")
    assert identity_for_key("team-a") == "key:team-a"


async def test_an_invalid_identity_is_refused(clock: FakeClock) -> None:
    with pytest.raises(ValueError):
        await limiter(clock).admit("key:{team}")


def test_the_token_estimate_covers_prompt_and_completion_budget() -> None:
    request = ChatRequest(model="m", messages=(Message.user("x" * 400),), max_tokens=50, n=2)
    assert estimate_tokens(request) == 100 + 4 + 100
    assert estimate_tokens(ChatRequest(model="m", messages=())) == 512


async def test_fail_open_admits_only_its_share_of_each_limit(clock: FakeClock) -> None:
    share = RateLimiter(DownStore(), defaults=RateLimits(10, 1000),
                        fallback=InMemoryRateLimitStore(clock), fail_open_share=0.3)  # fmt: skip
    admitted = []
    for _ in range(5):
        try:
            admitted.append(await share.admit(WHO, estimated_tokens=10))
        except RateLimitExceededError as error:
            assert error.headers["x-ratelimit-limit-requests"] == "3"
    assert len(admitted) == 3
    assert admitted[0].headers["x-ratelimit-limit-tokens"] == "300"
    assert admitted[0].reserved_tokens == 10


async def test_the_share_is_at_least_one_unit_and_reconciles_against_it(clock: FakeClock) -> None:
    fallback = InMemoryRateLimitStore(clock)
    tiny = RateLimiter(DownStore(), defaults=RateLimits(1, 100), fallback=fallback,
                       fail_open_share=0.1)  # fmt: skip
    admission = await tiny.admit(WHO, estimated_tokens=50)
    assert admission.reserved_tokens == 10  # the whole local allowance of 10 tokens
    with pytest.raises(RateLimitExceededError):
        await tiny.admit(WHO)
    await tiny.reconcile(admission, 4)
    decision = await fallback.acquire(WHO, [Charge("tokens", 10, 60.0, 0)])
    assert decision.buckets[0].remaining == 6


def test_a_share_outside_zero_to_one_is_refused() -> None:
    for bad in (0.0, 1.5):
        with pytest.raises(ValueError):
            RateLimiter(DownStore(), defaults=RateLimits(1, None), fail_open_share=bad)


def _key(key_id: str, rpm: int | None = None, tpm: int | None = None) -> ApiKey:
    return ApiKey(
        id=key_id, name=key_id, sha256=hash_secret(f"secret-{key_id}"),
        requests_per_minute=rpm, tokens_per_minute=tpm,
    )  # fmt: skip


def test_a_keys_own_limits_override_the_defaults_dimension_by_dimension(clock: FakeClock) -> None:
    one = limiter(clock, rpm=5, tpm=1_000)
    assert one.limits_for(None) == RateLimits(5, 1_000)
    assert one.limits_for(_key("plain")) == RateLimits(5, 1_000)
    assert one.limits_for(_key("fast", rpm=50)) == RateLimits(50, 1_000)
    assert one.limits_for(_key("big", tpm=9_000)) == RateLimits(5, 9_000)
    # Asked again (every request asks), and for another key with the same pair: the same.
    assert one.limits_for(_key("fast", rpm=50)) == RateLimits(50, 1_000)
    assert one.limits_for(_key("also-fast", rpm=50)) == RateLimits(50, 1_000)
    # New defaults: what a key leaves to them follows, what it sets stays its own.
    one.defaults = RateLimits(7, 2_000)
    assert one.limits_for(_key("fast", rpm=50)) == RateLimits(50, 2_000)
    assert one.limits_for(_key("plain")) == RateLimits(7, 2_000)


async def test_many_distinct_limits_are_all_honoured(clock: FakeClock) -> None:
    """The per-limit memos start over past their size; every key still gets its own limits."""
    one = limiter(clock, rpm=5, tpm=None)
    for rpm in range(1, 2_100):
        key = _key(f"k{rpm}", rpm=rpm)
        admission = await one.admit(identity_for_key(key.id), limits=one.limits_for(key))
        assert admission.headers["x-ratelimit-limit-requests"] == str(rpm)
        assert admission.headers["x-ratelimit-remaining-requests"] == str(rpm - 1)
