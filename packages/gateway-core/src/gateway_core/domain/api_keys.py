"""Client API keys: what the gateway knows about a key, never the key itself.

The gateway stores only the SHA-256 of each secret. A secret is high-entropy random text
(``new_secret``), so a plain unsalted SHA-256 is enough: there is nothing to brute-force.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from gateway_core.domain.money import Money

SECRET_PREFIX = "sk-gw-"

_KEY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
"""Ids end up in Redis key names, metric labels and logs: keep them short and plain."""
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_GLOB_CHARS = frozenset("*?[")


def hash_secret(secret: str) -> str:
    """The lowercase hex SHA-256 of ``secret`` (UTF-8): the only form a key is stored in."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_secret() -> str:
    """A fresh client secret: ``sk-gw-`` and 256 random bits, URL-safe."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def is_valid_key_id(key_id: str) -> bool:
    return _KEY_ID.fullmatch(key_id) is not None


@dataclass(frozen=True, slots=True)
class ApiKey:
    """One client key. ``None`` limits mean "use the gateway's defaults"; an empty
    ``allowed_models`` means every model; entries may be exact names or globs (``gpt-4o*``)."""

    id: str
    name: str
    sha256: str = field(repr=False)
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None
    allowed_models: tuple[str, ...] = ()
    monthly_budget_usd: Money | None = None
    admin: bool = False
    disabled: bool = False
    """Refused until enabled again (the admin API's ``disable``); revoking deletes the key."""
    expires_at: float | None = None
    """Unix seconds after which the key is refused; ``None``: never."""
    created_at: float | None = None
    previous_sha256: str | None = field(default=None, repr=False)
    """After a rotation, the old secret's hash, accepted until ``previous_valid_until``."""
    previous_valid_until: float | None = None

    def __post_init__(self) -> None:
        # Messages name the field only: never the value, which may be a pasted secret.
        if not is_valid_key_id(self.id):
            raise ValueError("'id' must be 1-64 characters of letters, digits, '.', '_', '-'")
        if _SHA256_HEX.fullmatch(self.sha256) is None:
            raise ValueError("'sha256' must be 64 lowercase hex characters")
        if self.previous_sha256 is not None and _SHA256_HEX.fullmatch(self.previous_sha256) is None:
            raise ValueError("'previous_sha256' must be 64 lowercase hex characters")
        for name in ("requests_per_minute", "tokens_per_minute"):
            value = getattr(self, name)
            if value is not None and (type(value) is not int or value <= 0):
                raise ValueError(f"'{name}' must be a positive integer")
        budget = self.monthly_budget_usd
        if budget is not None and (not isinstance(budget, Money) or budget < Money.ZERO):
            raise ValueError("'monthly_budget_usd' must be a non-negative amount of money")
        if not isinstance(self.allowed_models, tuple):
            raise ValueError("'allowed_models' must be a tuple of model names or patterns")

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    def previous_secret_valid(self, now: float) -> bool:
        """Whether the secret replaced by the last rotation still works (the overlap)."""
        until = self.previous_valid_until
        return self.previous_sha256 is not None and until is not None and now < until

    def hashes(self) -> tuple[str, ...]:
        """Every hash that may identify this key: the current one, then the previous one."""
        if self.previous_sha256 is None:
            return (self.sha256,)
        return (self.sha256, self.previous_sha256)

    def allows_model(self, model: str) -> bool:
        if not self.allowed_models or model in self.allowed_models:
            return True
        return any(
            fnmatchcase(model, pattern)
            for pattern in self.allowed_models
            if not _GLOB_CHARS.isdisjoint(pattern)
        )
