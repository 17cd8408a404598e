"""Session request and response bodies."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
from msgspec import Struct

from gateway_adapters.stores.codec import message_to_dict
from gateway_core.domain.sessions import Session, SessionUsage
from gateway_http.schemas.json_body import decode_body


class CreateSessionBody(Struct, kw_only=True):
    ttl_seconds: int | None = None
    context: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None


_decoder = msgspec.json.Decoder(CreateSessionBody)


def decode_create_session(raw: bytes) -> CreateSessionBody:
    if not raw.strip():
        return CreateSessionBody()
    return decode_body(_decoder, raw)


def iso(timestamp: float) -> str:
    """ISO-8601 UTC with a ``Z``, to the millisecond (rounded, as the stores keep it)."""
    milliseconds = round(timestamp * 1000)
    moment = datetime.fromtimestamp(milliseconds // 1000, UTC)
    moment = moment.replace(microsecond=(milliseconds % 1000) * 1000)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def session_body(session: Session) -> dict[str, Any]:
    return {
        "id": session.id,
        "session_id": session.id,
        "object": "session",
        "messages": [message_to_dict(message) for message in session.messages],
        "context": dict(session.context),
        "metadata": dict(session.metadata),
        "created_at": iso(session.created_at),
        "expires_at": iso(session.expires_at),
        "ttl_seconds": session.ttl_seconds,
        "usage": usage_body(session.usage),
    }


def usage_body(usage: SessionUsage) -> dict[str, Any]:
    return {
        "turns": usage.turns,
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
        "cached_tokens": usage.cached_tokens,
        "cost_usd": usage.cost_usd.to_float(),
    }
