"""Gemini answers -> the gateway's domain values. Pure: no I/O.

- ``finishReason``: STOP -> ``stop`` (``tool_calls`` when the answer calls functions),
  MAX_TOKENS -> ``length``, the safety family -> ``content_filter``; any other value is passed
  on unchanged. The native value is kept in ``native_finish_reason``.
- A prompt Google blocks (``promptFeedback.blockReason``, no candidates) is an empty answer
  with ``finish_reason: "content_filter"`` and the block reason as the native one.
- Thought parts (``thought: true``, sent when the request asks ``includeThoughts``) are the
  model's reasoning, not its answer: their text is the message's ``reasoning_content`` (and
  ``delta.reasoning_content`` in a stream). Their tokens (``thoughtsTokenCount``) count as
  completion tokens, as Google bills them, and as ``reasoning_tokens``.
  ``cachedContentTokenCount`` -> ``cached_tokens``.
- Gemini gives function calls no id (Vertex sometimes does): one is made from the response id
  and the call's position, so complete and stream name the same call alike.
- A function call's ``thoughtSignature`` (a thinking model's encrypted context, which Gemini 3
  requires back with the call on the next turn) rides in the call's id after
  ``SIGNATURE_MARK``: OpenAI-format clients send the id back unchanged with the assistant
  message, and ``wire`` restores the signature from it.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import replace

import msgspec

from gateway_adapters.providers.gemini import schema
from gateway_adapters.providers.gemini.errors import body_error
from gateway_core.domain.chat import ChatResponse, Choice
from gateway_core.domain.messages import Message, ToolCall
from gateway_core.domain.usage import Usage
from gateway_core.errors import UpstreamResponseError

_FILTERED = frozenset(
    {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY"}
)
_FINISH = {"STOP": "stop", "MAX_TOKENS": "length"}


def decode(raw: bytes | str, provider: str) -> schema.Response:
    try:
        body = schema.DECODER.decode(raw)
    except msgspec.DecodeError as error:
        raise UpstreamResponseError(
            f"{provider} sent a body that is not a generateContent response", provider=provider
        ) from error
    if body.error is not None:
        raise body_error(body.error, provider)
    return body


def finish_reason(native: str, calls_functions: bool) -> str:
    if native in _FILTERED:
        return "content_filter"
    if native == "STOP" and calls_functions:
        return "tool_calls"
    return _FINISH.get(native, native)


def usage(metadata: schema.UsageMetadata | None) -> Usage:
    if metadata is None:
        return Usage()
    return Usage(
        prompt_tokens=metadata.prompt_token_count,
        completion_tokens=metadata.candidates_token_count + metadata.thoughts_token_count,
        cached_tokens=metadata.cached_content_token_count,
        reasoning_tokens=metadata.thoughts_token_count,
    )


def response_id(body: schema.Response) -> str:
    return body.response_id or uuid.uuid4().hex


SIGNATURE_MARK = "__thought__"


def call_id(response: str, position: int, part: schema.Part) -> str:
    call = part.function_call
    base = (call.id if call is not None else None) or f"call_{response}_{position}"
    return f"{base}{SIGNATURE_MARK}{part.thought_signature}" if part.thought_signature else base


def answer_parts(candidate: schema.Candidate) -> list[schema.Part]:
    """The parts that are the answer: thoughts are not."""
    parts = candidate.content.parts if candidate.content else None
    return [part for part in parts or () if not part.thought]


def thought_text(candidate: schema.Candidate) -> str:
    """The text of the candidate's thought parts (Google's thought summaries)."""
    parts = candidate.content.parts if candidate.content else None
    return "".join(part.text for part in parts or () if part.thought and part.text)


def to_response(body: schema.Response, provider: str, requested_model: str) -> ChatResponse:
    rid = response_id(body)
    choices = tuple(_choice(candidate, rid) for candidate in body.candidates or ())
    if not choices:
        block = body.prompt_feedback.block_reason if body.prompt_feedback else None
        if block is None:
            raise UpstreamResponseError(f"{provider} sent no candidates", provider=provider)
        blocked = Message.assistant(None)
        choices = (Choice(blocked, "content_filter", native_finish_reason=block),)
    return ChatResponse(
        id=rid,
        model=body.model_version or requested_model,
        created=int(time.time()),
        choices=choices,
        usage=usage(body.usage_metadata),
        provider=provider,
    )


def _choice(candidate: schema.Candidate, rid: str) -> Choice:
    parts = answer_parts(candidate)
    texts = [part.text for part in parts if part.text]
    calls = tuple(
        ToolCall(
            id=call_id(rid, position, part),
            name=part.function_call.name,
            arguments=msgspec.json.encode(part.function_call.args or {}).decode(),
        )
        for position, part in enumerate(p for p in parts if p.function_call is not None)
        if part.function_call is not None
    )
    native = candidate.finish_reason or "STOP"
    message = Message.assistant("".join(texts) if texts else None, calls)
    return Choice(
        message=replace(message, reasoning_content=thought_text(candidate) or None),
        finish_reason=finish_reason(native, bool(calls)),
        index=candidate.index,
        native_finish_reason=native,
    )
