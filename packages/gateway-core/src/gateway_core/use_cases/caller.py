"""Who a request is served for: the client key (or none), and whom rate limits count against."""

from __future__ import annotations

from dataclasses import dataclass

from gateway_core.domain.api_keys import ApiKey

ANONYMOUS_KEY_ID = "anonymous"
"""The key id usage and cache entries are filed under when authentication is off."""


@dataclass(frozen=True, slots=True)
class ChatCaller:
    key: ApiKey | None
    """The authenticated client key; ``None`` when authentication is off."""
    identity: str
    """Whom rate limits count against (a key id, or a hashed client address)."""

    @property
    def key_id(self) -> str:
        return self.key.id if self.key is not None else ANONYMOUS_KEY_ID

    @property
    def owner(self) -> str | None:
        return self.key.id if self.key is not None else None
