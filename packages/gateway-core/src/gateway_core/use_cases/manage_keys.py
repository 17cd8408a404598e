"""The admin operations on client keys: create, read, update, disable, rotate, revoke.

Secrets: a new one is made by ``create`` and ``rotate``, returned once for the caller to show,
and only its SHA-256 is kept. Keys from configuration (keys file, ``LLM_GATEWAY_API_KEYS``) are
listed and readable here but changed only in their source: every write to one is refused.
Each write refreshes this replica's ``Authenticator`` at once (``on_change``); the others follow
within ``KeySync``'s interval.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from gateway_core.domain.api_keys import ApiKey, hash_secret, new_secret
from gateway_core.errors import ConflictError, InvalidRequestError, NotFoundError
from gateway_core.ports.api_keys import KeyStore
from gateway_core.ports.clock import Clock

UPDATABLE = frozenset({
    "name", "requests_per_minute", "tokens_per_minute", "allowed_models", "monthly_budget_usd",
    "admin", "disabled", "expires_at",
})  # fmt: skip
MAX_OVERLAP_SECONDS = 30 * 86_400


@dataclass(frozen=True, slots=True)
class KeyView:
    key: ApiKey
    managed: bool
    """From the key store (``True``) or from configuration (read-only here)."""


class KeyAdmin:
    def __init__(
        self,
        store: KeyStore,
        static_keys: tuple[ApiKey, ...],
        clock: Clock,
        on_change: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        self._store = store
        self._static = {key.id: key for key in static_keys}
        self._clock = clock
        self._on_change = on_change

    async def create(
        self, settings: Mapping[str, Any], key_id: str | None = None
    ) -> tuple[ApiKey, str]:
        """A new key with ``settings`` (fields of ``UPDATABLE``); returns it and its secret."""
        secret = new_secret()
        key_id = key_id or f"key_{secrets.token_hex(6)}"
        if key_id in self._static:
            raise _taken(key_id)
        fields = {"name": key_id, **_checked(settings)}
        key = _build(id=key_id, sha256=hash_secret(secret), created_at=self._clock.now(), **fields)
        if not await self._store.create(key):
            raise _taken(key_id)
        await self._changed()
        return key, secret

    async def list(self) -> list[KeyView]:
        stored = [KeyView(key, True) for key in await self._store.list()]
        static = [KeyView(key, False) for key in self._static.values()]
        return sorted(static + stored, key=lambda view: view.key.id)

    async def get(self, key_id: str) -> KeyView:
        if key_id in self._static:
            return KeyView(self._static[key_id], False)
        key = await self._store.get(key_id)
        if key is None:
            raise _not_found(key_id)
        return KeyView(key, True)

    async def update(self, key_id: str, changes: Mapping[str, Any]) -> ApiKey:
        key = await self._managed(key_id)
        return await self._save(_build_from(key, _checked(changes)))

    async def rotate(self, key_id: str, overlap_seconds: float = 0) -> tuple[ApiKey, str]:
        """A new secret; the old one keeps working for ``overlap_seconds`` (0: stops now)."""
        if not 0 <= overlap_seconds <= MAX_OVERLAP_SECONDS:
            message = f"'overlap_seconds' must be between 0 and {MAX_OVERLAP_SECONDS}."
            raise InvalidRequestError(message, param="overlap_seconds")
        key = await self._managed(key_id)
        secret = new_secret()
        overlap = overlap_seconds > 0
        rotated = replace(
            key,
            sha256=hash_secret(secret),
            previous_sha256=key.sha256 if overlap else None,
            previous_valid_until=self._clock.now() + overlap_seconds if overlap else None,
        )
        return await self._save(rotated), secret

    async def revoke(self, key_id: str) -> None:
        await self._managed(key_id)
        if not await self._store.delete(key_id):
            raise _not_found(key_id)
        await self._changed()

    async def _managed(self, key_id: str) -> ApiKey:
        if key_id in self._static:
            raise ConflictError(
                f"The key '{key_id}' comes from configuration (keys file or "
                "LLM_GATEWAY_API_KEYS); change it there.",
                code="key_from_configuration",
            )
        key = await self._store.get(key_id)
        if key is None:
            raise _not_found(key_id)
        return key

    async def _save(self, key: ApiKey) -> ApiKey:
        if not await self._store.replace(key):
            raise _not_found(key.id)
        await self._changed()
        return key

    async def _changed(self) -> None:
        if self._on_change is not None:
            await self._on_change()


def _checked(settings: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(settings) - UPDATABLE)
    if unknown:
        raise InvalidRequestError(f"Unknown key field '{unknown[0]}'.", param=unknown[0])
    values = dict(settings)
    if "allowed_models" in values:
        values["allowed_models"] = tuple(values["allowed_models"] or ())
    return values


def _build(**fields: Any) -> ApiKey:
    try:
        return ApiKey(**fields)
    except ValueError as error:  # the message names the field, never a value
        raise InvalidRequestError(f"Invalid key: {error}.") from None


def _build_from(key: ApiKey, changes: Mapping[str, Any]) -> ApiKey:
    try:
        return replace(key, **changes)
    except ValueError as error:
        raise InvalidRequestError(f"Invalid key: {error}.") from None


def _taken(key_id: str) -> ConflictError:
    message = f"A key with the id '{key_id}' already exists."
    return ConflictError(message, code="key_exists", param="id")


def _not_found(key_id: str) -> NotFoundError:
    return NotFoundError(f"No key with the id '{key_id}'.", code="key_not_found")
