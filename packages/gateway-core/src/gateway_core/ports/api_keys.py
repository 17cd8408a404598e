"""The key store: client keys created, changed and revoked while the gateway runs.

Keys live here as ``ApiKey`` values: ids, limits and SHA-256 hashes, never a secret. Every
replica serves the store's keys from memory (``Authenticator``) and reloads them when
``version`` changes (``KeySync``), so a write reaches every replica within one poll interval.

Every method raises ``StoreUnavailableError`` when the backend is unreachable.
"""

from __future__ import annotations

from typing import Protocol

from gateway_core.domain.api_keys import ApiKey


class KeyStore(Protocol):
    async def list(self) -> list[ApiKey]:
        """Every stored key, ordered by id."""
        ...

    async def get(self, key_id: str) -> ApiKey | None: ...

    async def create(self, key: ApiKey) -> bool:
        """Store a new key; ``False`` (nothing written) if its id or one of its hashes is taken."""
        ...

    async def replace(self, key: ApiKey) -> bool:
        """Overwrite the key with ``key.id`` (its hashes may change, as in a rotation);
        ``False`` (nothing written) if there is no such key or a new hash is another key's."""
        ...

    async def delete(self, key_id: str) -> bool:
        """Remove the key and its hashes; ``False`` if there was none."""
        ...

    async def version(self) -> int:
        """A number that changes with every write: cheap to poll."""
        ...
