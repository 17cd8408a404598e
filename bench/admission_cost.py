"""What one rate-limited admission and its settlement cost, hot, through a live lease.

The realistic scenarios' limiter (``RateLimiter`` in front of ``LeasedRateLimitStore``, limits
far above the load) admits each request from a lease and settles its token estimate against
it afterwards: no store round trip, only Python. Request-level tools cannot see a change of a
few microseconds there (``profile_path`` moves by 10% between runs on a shared machine, and
``instructions`` counts the lease renewals' clock-driven work with it), so this times that
step alone, in process, over an in-memory store:

    uv run python -m bench.admission_cost            # run it in two worktrees for an A/B

It prints the median and best of ``--runs`` runs of ``--admissions`` admissions each, in
microseconds an admission plus its settlement.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from gateway_core.clock import SystemClock
from gateway_core.domain.api_keys import ApiKey, hash_secret
from gateway_core.memory.rate_limits import InMemoryRateLimitStore
from gateway_core.ports.clock import Clock
from gateway_core.use_cases.background import BackgroundTasks
from gateway_core.use_cases.rate_limit import RateLimiter, RateLimits, identity_for_key
from gateway_core.use_cases.rate_limit_leases import LeasedRateLimitStore

_LIMITS = RateLimits(requests_per_minute=100_000_000, tokens_per_minute=100_000_000_000)
"""The bench's realistic limits (``bench/scenarios.py``): checked on every request, never hit."""
_ESTIMATE, _SPENT = 530, 40
"""A short chat's token estimate (its prompt and the default completion budget) and use."""
_YIELD_EVERY = 100


def leased_store(clock: Clock | None = None) -> LeasedRateLimitStore:
    """Leases in front of an in-memory store, renewed ahead in the background."""
    clock = clock or SystemClock()
    return LeasedRateLimitStore(InMemoryRateLimitStore(clock), clock, background=BackgroundTasks())


def limiter(store: LeasedRateLimitStore | None = None) -> tuple[RateLimiter, ApiKey]:
    key = ApiKey(
        id="bench", name="bench", sha256=hash_secret("bench-secret"),
        requests_per_minute=_LIMITS.requests_per_minute,
        tokens_per_minute=_LIMITS.tokens_per_minute,
    )  # fmt: skip
    return RateLimiter(store or leased_store(), defaults=_LIMITS), key


async def time_admissions(
    admissions: int, runs: int, warmup: int, clock: Clock | None = None
) -> tuple[list[float], float]:
    """Microseconds an admission plus its settlement, per run, and the share of the timed
    admissions a lease decided (the rest took the store's way)."""
    store = leased_store(clock)
    rate_limiter, key = limiter(store)
    identity = identity_for_key(key.id)

    async def one() -> None:
        admission = await rate_limiter.admit(
            identity, estimated_tokens=_ESTIMATE, limits=rate_limiter.limits_for(key)
        )
        rest = rate_limiter.settle(admission, _SPENT)
        if rest is not None:
            await rest

    async def some(count: int) -> None:
        for done in range(count):
            await one()
            if done % _YIELD_EVERY == 0:
                # The loop runs between a server's requests, and with it the lease renewals'
                # background tasks: without this, a lease renewed ahead never was, and once
                # it ran out (0.6 s) every admission went to the store.
                await asyncio.sleep(0)

    await some(warmup)
    local_before = store.local_admissions
    per_run = []
    for _ in range(runs):
        started = time.perf_counter()
        await some(admissions)
        per_run.append((time.perf_counter() - started) / admissions * 1e6)
    return per_run, (store.local_admissions - local_before) / (admissions * runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--admissions", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=20_000)
    args = parser.parse_args()
    per_run, local = asyncio.run(time_admissions(args.admissions, args.runs, args.warmup))
    print(f"admission + settlement from a lease: median {statistics.median(per_run):.2f} us, "
          f"best {min(per_run):.2f} us ({args.runs} x {args.admissions}, "
          f"{local:.1%} decided by a lease)")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
