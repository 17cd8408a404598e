"""Reasoning between the chat turn and the Responses API's ``reasoning`` items. Pure.

A translated answer's reasoning becomes one ``reasoning`` item: the model's reasoning text as
its summary, and, from an Anthropic model, its thinking blocks (signatures included) sealed in
``encrypted_content``. A client that sends that item back (the Agents SDK and pydantic-ai send
output items back as they got them; ``previous_response_id`` replays them) gets the blocks
back to Anthropic ahead of the assistant turn, as Anthropic requires with tool use.

The seal is the gateway's, not encryption: a prefix and the blocks as base64 JSON. Their text
is already the item's summary, a redacted block's data is Anthropic's own ciphertext, and
Anthropic checks every signature, so an altered block is refused there, not here.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from gateway_core.domain.messages import Message

_SEAL = "gwthink1."
_KINDS = frozenset({"thinking", "redacted_thinking"})
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(list[dict[str, Any]]).decode


def sealed(blocks: Sequence[Mapping[str, Any]]) -> str:
    return _SEAL + base64.urlsafe_b64encode(_encode(list(blocks))).decode()


def unsealed(value: Any) -> list[dict[str, Any]] | None:
    """The thinking blocks a gateway-made ``encrypted_content`` holds; ``None`` for anything
    else (a Responses provider's own ciphertext, which only it can read)."""
    if not isinstance(value, str) or not value.startswith(_SEAL):
        return None
    try:
        blocks = _decode(base64.urlsafe_b64decode(value[len(_SEAL) :].encode()))
    except (binascii.Error, ValueError, msgspec.DecodeError):
        return None
    if not blocks or any(block.get("type") not in _KINDS for block in blocks):
        return None
    return blocks


def reasoning_item(
    item_id: str,
    text: str,
    blocks: Sequence[Mapping[str, Any]] = (),
    status: str = "completed",
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "type": "reasoning",
        "id": item_id,
        "summary": [{"type": "summary_text", "text": text}] if text else [],
        "status": status,
    }
    if blocks:
        item["encrypted_content"] = sealed(blocks)
    return item


def message_reasoning(message: Message) -> tuple[str, list[Mapping[str, Any]]]:
    """A chat answer's reasoning text and thinking blocks (either may be empty)."""
    blocks = list(message.extra.get("thinking_blocks") or ())
    text = message.reasoning_content
    if not text:
        text = "".join(b.get("thinking") or "" for b in blocks if b.get("type") == "thinking")
    return text, blocks
