"""The key store, its sync with the ``Authenticator`` and the admin use case, for the container."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from redis.asyncio import Redis

from gateway_adapters.stores.redis.keys import RedisKeyStore
from gateway_core.errors import StoreUnavailableError
from gateway_core.memory import InMemoryKeyStore
from gateway_core.ports.api_keys import KeyStore
from gateway_core.ports.clock import Clock
from gateway_core.use_cases.authenticate import Authenticator
from gateway_core.use_cases.key_sync import KeySync
from gateway_core.use_cases.manage_keys import KeyAdmin
from gateway_http.settings import Settings

log = logging.getLogger("gateway_http")


def key_store(redis: Redis | None) -> KeyStore:
    """Redis when configured (shared by every replica), else this process's memory."""
    return InMemoryKeyStore() if redis is None else RedisKeyStore(redis)


async def open_key_sync(
    authenticator: Authenticator | None, store: KeyStore, settings: Settings
) -> AsyncIterator[KeySync | None]:
    """Loads the store's keys before the first request, then polls for changes until shutdown.
    ``None`` when authentication is off: there is nothing to keep in step."""
    if authenticator is None:
        yield None
        return
    sync = KeySync(authenticator, store, settings.keys_refresh_seconds)
    try:
        await sync.refresh(force=True)
    except StoreUnavailableError as error:
        log.warning("the key store is unavailable at start; serving static keys (%s)", error.code)
    task = asyncio.create_task(sync.run(_log_sync_error), name="key-sync")
    try:
        yield sync
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _log_sync_error(error: StoreUnavailableError) -> None:
    log.warning("cannot reload client keys; serving the last set (%s)", error.code)


def key_admin(
    store: KeyStore, authenticator: Authenticator | None, sync: KeySync | None, clock: Clock
) -> KeyAdmin:
    static = authenticator.static_keys if authenticator is not None else ()

    async def refresh_here() -> None:
        # The write succeeded: a failing reload must not turn it into an error (the poll
        # picks it up).
        if sync is not None:
            with contextlib.suppress(StoreUnavailableError):
                await sync.refresh(force=True)

    return KeyAdmin(store, static, clock, on_change=refresh_here)
