"""Who is calling: a client key from ``Authorization: Bearer <key>`` or ``x-api-key``.

Which header wins: a well-formed ``Authorization: Bearer`` first (the OpenAI SDKs), then
``x-api-key`` (the Anthropic SDKs). An ``Authorization`` header of another scheme is ignored
when ``x-api-key`` is present (proxies add their own), and is a 401 otherwise.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from gateway_core.domain.api_keys import ApiKey, hash_secret
from gateway_core.errors import AuthenticationError, PermissionDeniedError

_MAX_SECRET_LENGTH = 512
"""Longer is not a key of ours; refusing it early keeps hashing cheap."""
_MAX_MODEL_IN_MESSAGE = 100

MISSING_KEY = (
    "Missing API key: send it as 'Authorization: Bearer <key>' or in the 'x-api-key' header."
)
MALFORMED_AUTHORIZATION = "Malformed Authorization header: expected 'Bearer <key>'."
INVALID_KEY = "Invalid API key."


class Authenticator:
    """Finds the ``ApiKey`` whose hash matches the presented secret.

    Lookup is a dict keyed by the hash, then ``hmac.compare_digest`` on the hashes. The dict
    lookup is not constant-time, but it is keyed by a SHA-256 the caller cannot steer, so its
    timing tells nothing about any stored key; ``compare_digest`` keeps the final check free of
    an early exit as a matter of principle. Error messages never contain the presented secret.
    """

    def __init__(self, keys: Sequence[ApiKey]) -> None:
        by_hash: dict[str, ApiKey] = {}
        seen_ids: set[str] = set()
        for key in keys:
            if key.id in seen_ids:
                raise ValueError(f"two API keys share the id '{key.id}'")
            if key.sha256 in by_hash:
                raise ValueError(f"API keys '{by_hash[key.sha256].id}' and '{key.id}' share a hash")
            seen_ids.add(key.id)
            by_hash[key.sha256] = key
        self._by_hash = by_hash

    def authenticate(self, authorization_header: str | None, x_api_key: str | None) -> ApiKey:
        secret = _presented_secret(authorization_header, x_api_key)
        if not secret or len(secret) > _MAX_SECRET_LENGTH or not secret.isprintable():
            raise AuthenticationError(INVALID_KEY)
        digest = hash_secret(secret)
        candidate = self._by_hash.get(digest)
        if candidate is None or not hmac.compare_digest(candidate.sha256, digest):
            raise AuthenticationError(INVALID_KEY)
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
