"""The parts of OpenAI's response bodies the gateway reads, as msgspec Structs.

Decoding bytes straight into these is fast and turns a wrong shape into a ``ValidationError``
instead of a ``KeyError`` deep in the translation. Fields not modelled here are read by
``extras`` and passed on unchanged; optional fields also accept ``null``,
which OpenAI-compatible servers send where OpenAI leaves a field out.
https://platform.openai.com/docs/api-reference/chat/object
"""

from __future__ import annotations

from typing import Any

import msgspec


class Function(msgspec.Struct):
    name: str | None = None
    arguments: str | None = None


class ToolCall(msgspec.Struct):
    index: int = 0
    id: str | None = None
    function: Function | None = None


class Message(msgspec.Struct):
    role: str = "assistant"
    content: str | None = None
    tool_calls: list[ToolCall] | None = None
    reasoning_content: str | None = None


class Choice(msgspec.Struct):
    message: Message
    index: int = 0
    finish_reason: str | None = None


class PromptDetails(msgspec.Struct):
    cached_tokens: int | None = None


class CompletionDetails(msgspec.Struct):
    reasoning_tokens: int | None = None


class Usage(msgspec.Struct):
    prompt_tokens: int = 0
    completion_tokens: int | None = None
    prompt_tokens_details: PromptDetails | None = None
    completion_tokens_details: CompletionDetails | None = None


class Completion(msgspec.Struct):
    choices: list[Choice] | None = None
    id: str = ""
    model: str = ""
    created: int | float = 0
    usage: Usage | None = None
    system_fingerprint: str | None = None
    error: Any = None  # some OpenAI-compatible servers answer errors with status 200


class Delta(msgspec.Struct):
    role: str | None = None
    content: str | None = None
    tool_calls: list[ToolCall] | None = None
    reasoning_content: str | None = None


class ChunkChoice(msgspec.Struct):
    index: int = 0
    delta: Delta | None = None
    finish_reason: str | None = None


class Chunk(msgspec.Struct):
    choices: list[ChunkChoice] | None = None
    model: str | None = None
    usage: Usage | None = None
    error: Any = None


COMPLETION_DECODER = msgspec.json.Decoder(Completion)
CHUNK_DECODER = msgspec.json.Decoder(Chunk)
