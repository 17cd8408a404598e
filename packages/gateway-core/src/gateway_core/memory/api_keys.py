"""``KeyStore`` for one process: the embedded default, and the contract suite's reference."""

from __future__ import annotations

from gateway_core.domain.api_keys import ApiKey


class InMemoryKeyStore:
    """Atomic because no method awaits mid-change."""

    def __init__(self) -> None:
        self._keys: dict[str, ApiKey] = {}
        self._owner_of_hash: dict[str, str] = {}
        self._version = 0

    async def list(self) -> list[ApiKey]:
        return [self._keys[key_id] for key_id in sorted(self._keys)]

    async def get(self, key_id: str) -> ApiKey | None:
        return self._keys.get(key_id)

    async def create(self, key: ApiKey) -> bool:
        if key.id in self._keys or not self._hashes_free(key):
            return False
        self._put(key)
        return True

    async def replace(self, key: ApiKey) -> bool:
        if key.id not in self._keys or not self._hashes_free(key):
            return False
        self._drop(key.id)
        self._put(key)
        return True

    async def delete(self, key_id: str) -> bool:
        if key_id not in self._keys:
            return False
        self._drop(key_id)
        self._version += 1
        return True

    async def version(self) -> int:
        return self._version

    def _hashes_free(self, key: ApiKey) -> bool:
        return all(self._owner_of_hash.get(digest, key.id) == key.id for digest in key.hashes())

    def _put(self, key: ApiKey) -> None:
        self._keys[key.id] = key
        for digest in key.hashes():
            self._owner_of_hash[digest] = key.id
        self._version += 1

    def _drop(self, key_id: str) -> None:
        for digest in self._keys.pop(key_id).hashes():
            self._owner_of_hash.pop(digest, None)
