"""Keeps every replica's ``Authenticator`` in step with the key store.

Each replica polls ``KeyStore.version`` every ``interval`` seconds (one tiny read) and reloads
the whole key set only when it changed. So a key created, changed, disabled, rotated or revoked
on any replica takes effect on every other one within ``interval`` plus one store round trip;
on the replica that made the change, at once (the admin use case calls ``refresh``). A key this
replica does not know yet works at once too: an unknown key makes the caller ask the store's
version (``refresh_for_unknown``), at most one such read in flight and one per
``MIN_MISS_INTERVAL`` (a client spraying bad keys costs the store a read every 50 ms at most).
Expiry and a rotation's overlap need no reload: ``Authenticator`` compares them with its clock.

While the store is unreachable the last key set keeps serving (nothing can be written to the
store meanwhile, so nothing is missed), and polling goes on.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from gateway_core.errors import StoreUnavailableError
from gateway_core.ports.api_keys import KeyStore
from gateway_core.use_cases.authenticate import Authenticator

MIN_MISS_INTERVAL = 0.05
"""Seconds between two store reads caused by unknown keys."""


class KeySync:
    def __init__(
        self,
        authenticator: Authenticator,
        store: KeyStore,
        interval: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if interval <= 0:
            raise ValueError("the key refresh interval must be positive")
        self._authenticator = authenticator
        self._store = store
        self.interval = interval
        self._version: int | None = None
        self._monotonic = monotonic
        self._miss_lock = asyncio.Lock()
        self._last_miss_check = float("-inf")

    async def refresh_for_unknown(self) -> bool:
        """An unknown key was presented: reload if the store moved since (``True``), so that a
        key made on another replica a moment ago works here at once. Never raises: a store
        that is down means the key stays unknown."""
        if self._miss_lock.locked():
            async with self._miss_lock:  # another request is asking already: share its answer
                return True
        async with self._miss_lock:
            now = self._monotonic()
            if now - self._last_miss_check < MIN_MISS_INTERVAL:
                return False
            self._last_miss_check = now
            try:
                return await self.refresh()
            except StoreUnavailableError:
                return False

    async def refresh(self, *, force: bool = False) -> bool:
        """Reload the keys if the store's version moved (or ``force``); ``True`` if reloaded.
        The version is read before the keys: a write in between is picked up next time."""
        version = await self._store.version()
        if not force and version == self._version:
            return False
        self._authenticator.use_managed_keys(await self._store.list())
        self._version = version
        return True

    async def run(self, on_error: Callable[[StoreUnavailableError], None] | None = None) -> None:
        """Poll until cancelled; a store that is down is reported to ``on_error`` (a log line)
        and asked again at the next interval."""
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.refresh()
            except StoreUnavailableError as error:
                if on_error is not None:
                    on_error(error)
