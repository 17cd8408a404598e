"""Background upkeep of Redis state: deleting rate-limit buckets that have refilled.

Buckets carry no TTL (so that no memory policy can evict them, see
``gateway_adapters.stores.redis.rate_limits``); an acquisition deletes a bucket it finds full,
and this sweep deletes those nobody came back to. Every process sweeps, at a jittered interval
so that replicas do not SCAN at the same moment; the sweep is idempotent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator

from redis.asyncio import Redis

from gateway_adapters.stores.redis.rate_limits import RedisRateLimitStore
from gateway_core.errors import StoreUnavailableError

SWEEP_INTERVAL_SECONDS = 300.0
"""Idle buckets outlive their refill by at most about this long."""

log = logging.getLogger("gateway_http")


async def open_bucket_sweeper(redis: Redis | None) -> AsyncIterator[None]:
    if redis is None:
        yield None
        return
    task = asyncio.create_task(_sweep_forever(RedisRateLimitStore(redis)), name="bucket-sweeper")
    try:
        yield None
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _sweep_forever(store: RedisRateLimitStore) -> None:
    while True:
        await asyncio.sleep(SWEEP_INTERVAL_SECONDS * random.uniform(0.5, 1.5))
        try:
            deleted = await store.sweep_full_buckets()
        except StoreUnavailableError as error:
            log.warning("rate-limit bucket sweep skipped: Redis unavailable (%s)", error.code)
            continue
        log.debug("rate-limit bucket sweep deleted %d refilled buckets", deleted)
