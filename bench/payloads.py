"""The request every measurement sends: a 2-message chat, in the format of its target."""

from __future__ import annotations

import json

_MESSAGES = [
    {"role": "system", "content": "You are a terse assistant. Answer in one short sentence."},
    {"role": "user", "content": "Say hello to the benchmark, please."},
]


def openai_body(model: str, stream: bool) -> bytes:
    body: dict = {"model": model, "messages": _MESSAGES}
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return json.dumps(body, separators=(",", ":")).encode()


def anthropic_body(model: str, stream: bool) -> bytes:
    """Anthropic takes the system prompt apart from the turns and requires ``max_tokens``."""
    body: dict = {
        "model": model,
        "max_tokens": 256,
        "system": _MESSAGES[0]["content"],
        "messages": _MESSAGES[1:],
    }
    if stream:
        body["stream"] = True
    return json.dumps(body, separators=(",", ":")).encode()


def responses_body(model: str, stream: bool) -> bytes:
    """OpenAI's Responses API: the system prompt as ``instructions``, the turn as ``input``."""
    body: dict = {
        "model": model,
        "instructions": _MESSAGES[0]["content"],
        "input": _MESSAGES[1]["content"],
        "store": False,
    }
    if stream:
        body["stream"] = True
    return json.dumps(body, separators=(",", ":")).encode()


def raw_post(
    host: str, port: int, path: str, body: bytes, headers: dict[str, str] | None = None
) -> bytes:
    """A complete HTTP/1.1 keep-alive POST, as the paced probe writes it on the socket."""
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}:{port}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        *(f"{name}: {value}" for name, value in (headers or {}).items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body
