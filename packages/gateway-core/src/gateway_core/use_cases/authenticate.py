"""Who is calling: a client key from ``Authorization: Bearer <key>`` or ``x-api-key``.

Which header wins: a well-formed ``Authorization: Bearer`` first (the OpenAI SDKs), then
``x-api-key`` (the Anthropic SDKs). An ``Authorization`` header of another scheme is ignored
when ``x-api-key`` is present (proxies add their own), and is a 401 otherwise.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from gateway_core.clock import SystemClock
from gateway_core.domain.api_keys import ApiKey, hash_secret
from gateway_core.errors import AuthenticationError, PermissionDeniedError, UnknownKeyError
from gateway_core.ports.clock import Clock

_MAX_SECRET_LENGTH = 512
"""Longer is not a key of ours; refusing it early keeps hashing cheap."""
_MAX_MODEL_IN_MESSAGE = 100

MISSING_KEY = (
    "Missing API key: send it as 'Authorization: Bearer <key>' or in the 'x-api-key' header."
)
MALFORMED_AUTHORIZATION = "Malformed Authorization header: expected 'Bearer <key>'."
INVALID_KEY = "Invalid API key."
DISABLED_KEY = "This API key is disabled."
EXPIRED_KEY = "This API key has expired."


class Authenticator:
    """Finds the ``ApiKey`` whose hash matches the presented secret.

    Lookup is a dict keyed by the hash, then ``hmac.compare_digest`` on the hashes. The dict
    lookup is not constant-time, but it is keyed by a SHA-256 the caller cannot steer, so its
    timing tells nothing about any stored key; ``compare_digest`` keeps the final check free of
    an early exit as a matter of principle. Error messages never contain the presented secret.

    Two sets of keys: the static ones given at construction (keys file, environment), and the
    managed ones (the key store, see ``KeySync``) swapped in whole by ``use_managed_keys``.
    Lookups read one dict, replaced in one assignment: a request sees the old set or the new
    one, never half of each, and the hot path never waits on a store.
    """

    def __init__(self, keys: Sequence[ApiKey], clock: Clock | None = None) -> None:
        self._static = tuple(keys)
        self._managed: tuple[ApiKey, ...] = ()
        self._clock = clock or SystemClock()
        self._by_hash = _index(self._static, strict=True)

    @property
    def key_count(self) -> int:
        return len({key.id for key in self._by_hash.values()})

    @property
    def static_keys(self) -> tuple[ApiKey, ...]:
        return self._static

    def use_managed_keys(self, keys: Sequence[ApiKey]) -> None:
        """Serve ``keys`` (the store's) besides the static ones. A managed key whose id or hash
        a static key already has is left out: configuration wins."""
        self._managed = tuple(keys)
        self._by_hash = _index((*self._static, *self._managed), strict=False)

    def use_static_keys(self, keys: Sequence[ApiKey]) -> None:
        """Serve ``keys`` as the configured ones from now on (a reloaded keys file), checked
        as strictly as at start-up first; the store's keys stay. One assignment: a request
        authenticates against the old set or the new one, never a mix."""
        static = tuple(keys)
        _index(static, strict=True)  # raises on a duplicate id or hash, before anything changes
        self._static = static
        self._by_hash = _index((*static, *self._managed), strict=False)

    def authenticate(self, authorization_header: str | None, x_api_key: str | None) -> ApiKey:
        secret = _presented_secret(authorization_header, x_api_key)
        if not secret or len(secret) > _MAX_SECRET_LENGTH or not secret.isprintable():
            raise AuthenticationError(INVALID_KEY)
        digest = hash_secret(secret)
        candidate = self._by_hash.get(digest)
        if candidate is None:
            raise UnknownKeyError(INVALID_KEY)
        if not hmac.compare_digest(candidate.sha256, digest):
            # The secret a rotation replaced: valid during the overlap only.
            previous = candidate.previous_sha256 or ""
            if not hmac.compare_digest(previous, digest) or not candidate.previous_secret_valid(
                self._clock.now()
            ):
                raise AuthenticationError(INVALID_KEY)
        if candidate.disabled:
            raise AuthenticationError(DISABLED_KEY)
        if candidate.expires_at is not None and candidate.expired(self._clock.now()):
            raise AuthenticationError(EXPIRED_KEY)
        return candidate

    def authorize_model(self, key: ApiKey, model: str) -> None:
        """Raises ``PermissionDeniedError`` (403) when ``key`` may not use ``model``."""
        if not key.allows_model(model):
            shown = model[:_MAX_MODEL_IN_MESSAGE]
            raise PermissionDeniedError(
                f"This API key may not use the model '{shown}'.", param="model"
            )


def _presented_secret(authorization_header: str | None, x_api_key: str | None) -> str:
    if authorization_header is not None and authorization_header.strip():
        scheme, _, credentials = authorization_header.strip().partition(" ")
        if scheme.lower() == "bearer":  # RFC 9110: auth schemes are case-insensitive
            token = credentials.strip()
            if not token:
                raise AuthenticationError(MALFORMED_AUTHORIZATION)
            return token
        if x_api_key is None:
            raise AuthenticationError(MALFORMED_AUTHORIZATION)
    if x_api_key is not None:
        return x_api_key.strip()
    raise AuthenticationError(MISSING_KEY)


def _index(keys: Sequence[ApiKey], *, strict: bool) -> dict[str, ApiKey]:
    """Every usable hash (current and previous) to its key. ``strict``: a shared id or hash is
    a configuration error; otherwise the later key is left out."""
    by_hash: dict[str, ApiKey] = {}
    seen_ids: set[str] = set()
    for key in keys:
        clash = _clash(key, seen_ids, by_hash)
        if clash is not None:
            if strict:
                raise ValueError(clash)
            continue
        seen_ids.add(key.id)
        for digest in key.hashes():
            by_hash[digest] = key
    return by_hash


def _clash(key: ApiKey, seen_ids: set[str], by_hash: dict[str, ApiKey]) -> str | None:
    if key.id in seen_ids:
        return f"two API keys share the id '{key.id}'"
    for digest in key.hashes():
        if digest in by_hash:
            return f"API keys '{by_hash[digest].id}' and '{key.id}' share a hash"
    return None
