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
from gateway_core.use_cases.background import BackgroundTasks
from gateway_core.use_cases.rate_limit import RateLimiter, RateLimits, identity_for_key
from gateway_core.use_cases.rate_limit_leases import LeasedRateLimitStore

_LIMITS = RateLimits(requests_per_minute=100_000_000, tokens_per_minute=100_000_000_000)
"""The bench's realistic limits (``bench/scenarios.py``): checked on every request, never hit."""
_ESTIMATE, _SPENT = 530, 40
"""A short chat's token estimate (its prompt and the default completion budget) and use."""


def limiter() -> tuple[RateLimiter, ApiKey]:
    clock = SystemClock()
    store = LeasedRateLimitStore(InMemoryRateLimitStore(clock), clock, background=BackgroundTasks())
    key = ApiKey(
        id="bench", name="bench", sha256=hash_secret("bench-secret"),
        requests_per_minute=_LIMITS.requests_per_minute,
        tokens_per_minute=_LIMITS.tokens_per_minute,
    )  # fmt: skip
    return RateLimiter(store, defaults=_LIMITS), key


async def time_admissions(admissions: int, runs: int, warmup: int) -> list[float]:
    """Microseconds an admission plus its settlement, per run."""
    rate_limiter, key = limiter()
    identity = identity_for_key(key.id)

    async def one() -> None:
        admission = await rate_limiter.admit(
            identity, estimated_tokens=_ESTIMATE, limits=rate_limiter.limits_for(key)
        )
        rest = rate_limiter.settle(admission, _SPENT)
        if rest is not None:
            await rest

    for _ in range(warmup):
        await one()
    per_run = []
    for _ in range(runs):
        started = time.perf_counter()
        for _ in range(admissions):
            await one()
        per_run.append((time.perf_counter() - started) / admissions * 1e6)
        await asyncio.sleep(0)  # the lease renewals' background tasks run between runs
    return per_run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--admissions", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=20_000)
    args = parser.parse_args()
    per_run = asyncio.run(time_admissions(args.admissions, args.runs, args.warmup))
    print(f"admission + settlement from a lease: median {statistics.median(per_run):.2f} us, "
          f"best {min(per_run):.2f} us ({args.runs} x {args.admissions})")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
