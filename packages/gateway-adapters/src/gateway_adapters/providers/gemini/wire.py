"""Gemini ``generateContent`` requests from the gateway's domain values. Pure: no I/O.

The same body serves the Gemini API and Vertex AI
(https://ai.google.dev/api/generate-content, .../rest/v1/projects.locations.publishers.models):

- system and developer messages -> ``systemInstruction``; user -> ``user`` contents; assistant
  -> ``model`` contents with ``functionCall`` parts (with the ``thoughtSignature`` a call's id
  carries, see ``response``); tool results -> ``functionResponse`` parts,
  named after the call they answer (Gemini matches results by name), the tool's text under
  ``output`` as Google documents (consecutive results share one content);
- ``data:`` images -> ``inlineData``; ``gs://`` and ``https://`` images -> ``fileData`` with
  the MIME type their extension names (refused by name when it names none);
- tools -> ``functionDeclarations``; ``tool_choice`` -> ``toolConfig.functionCallingConfig``;
- ``response_format`` json_schema -> ``responseMimeType: application/json`` + ``responseSchema``
  (the schema as sent: Google answers a 400 naming a keyword its OpenAPI subset lacks);
  json_object -> ``responseMimeType`` alone;
- temperature, top_p, max_tokens, stop, n, seed -> ``generationConfig``;
- fields the gateway does not model follow ``field_support.GEMINI``: ``reasoning_effort`` and
  ``thinking`` become ``generationConfig.thinkingConfig`` (a budget, and ``includeThoughts`` so
  the thoughts come back as ``reasoning_content``), ``top_k`` and the penalties go into
  ``generationConfig``, others are refused by name.
``user``, ``metadata`` and ``parallel_tool_calls`` have no Gemini field and are not sent.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Mapping
from typing import Any

import msgspec

from gateway_adapters.providers.gemini.response import SIGNATURE_MARK
from gateway_adapters.providers.text_and_images import image_part
from gateway_core.domain.chat import ChatRequest
from gateway_core.domain.messages import NO_EXTRA, ContentPart, Message, TextPart, ToolCall
from gateway_core.domain.tools import NamedToolChoice, ToolChoice, ToolSpec
from gateway_core.errors import InvalidRequestError, UpstreamBadRequestError

_SYSTEM_ROLES = ("system", "developer")
_MODES = {"auto": "AUTO", "none": "NONE", "required": "ANY"}


def encode(body: Mapping[str, Any]) -> bytes:
    return msgspec.json.encode(body)


THINKING_BUDGETS: Mapping[str, int] = {
    "none": 0,
    "minimal": 512,
    "low": 1024,
    "medium": 8192,
    "high": 24576,
}
"""``reasoning_effort`` -> ``thinkingBudget``. 0 turns thinking off (Flash and Flash-Lite;
Pro cannot, and Google's 400 says so); 512 is Flash-Lite's smallest budget, 24576 Flash's
largest (Pro takes up to 32768)."""
_GENERATION_EXTRAS = {
    "top_k": "topK",
    "frequency_penalty": "frequencyPenalty",
    "presence_penalty": "presencePenalty",
}


def to_gemini_payload(
    request: ChatRequest, extras: Mapping[str, Any] = NO_EXTRA
) -> dict[str, Any]:
    """``extras``: the unmodelled fields ``field_support.servable_extras`` let through."""
    payload: dict[str, Any] = {"contents": _contents(request.messages)}
    system = [
        {"text": message.text} for message in request.messages if message.role in _SYSTEM_ROLES
    ]
    if system:
        payload["systemInstruction"] = {"parts": system}
    if request.tools:
        declarations = [_declaration(spec) for spec in request.tools]
        payload["tools"] = [{"functionDeclarations": declarations}]
    if request.tool_choice is not None:
        payload["toolConfig"] = {"functionCallingConfig": _calling_config(request.tool_choice)}
    config = _generation_config(request)
    config.update(_extras_config(request.model, extras))
    if config:
        payload["generationConfig"] = config
    return payload


def _contents(messages: tuple[Message, ...]) -> list[dict[str, Any]]:
    contents: list[dict[str, Any]] = []
    call_names = {call.id: call.name for message in messages for call in message.tool_calls}
    for message in messages:
        if message.role in _SYSTEM_ROLES:
            continue
        role, parts = _turn(message, call_names)
        if contents and contents[-1]["role"] == role and message.role == "tool":
            contents[-1]["parts"].extend(parts)  # parallel results answer in one turn
        else:
            contents.append({"role": role, "parts": parts})
    return contents


def _turn(message: Message, call_names: Mapping[str, str]) -> tuple[str, list[dict[str, Any]]]:
    if message.role == "tool":
        name = call_names.get(message.tool_call_id or "")
        if name is None:
            raise UpstreamBadRequestError(
                f"tool message answers an unknown tool_call_id {message.tool_call_id!r}",
                param="messages",
            )
        response = {"name": name, "response": {"output": message.text}}
        return "user", [{"functionResponse": response}]
    parts = _parts(message.content)
    if message.role == "assistant":
        parts += [_function_call(call) for call in message.tool_calls]
        return "model", parts or [{"text": ""}]
    return "user", parts


def _function_call(call: ToolCall) -> dict[str, Any]:
    """A ``functionCall`` part, with the thought signature its id carries (see ``response``)."""
    part: dict[str, Any] = {"functionCall": {"name": call.name, "args": _arguments(call.arguments)}}
    _, marked, signature = call.id.partition(SIGNATURE_MARK)
    if marked and signature:
        part["thoughtSignature"] = signature
    return part


def _arguments(text: str) -> Any:
    try:
        return msgspec.json.decode(text or "{}")
    except msgspec.DecodeError as error:
        raise UpstreamBadRequestError(
            "a tool call's arguments are not JSON", param="messages"
        ) from error


def _parts(content: str | tuple[ContentPart, ...] | None) -> list[dict[str, Any]]:
    if content is None or content == "":
        return []
    if isinstance(content, str):
        return [{"text": content}]
    return [_part(part) for part in content]


def _part(part: ContentPart) -> dict[str, Any]:
    if isinstance(part, TextPart):
        return {"text": part.text}
    part = image_part(part, "Gemini")
    if part.url.startswith("data:"):
        header, _, data = part.url[5:].partition(",")
        mime_type, _, encoding = header.partition(";")
        if encoding != "base64" or not data:
            raise UpstreamBadRequestError(
                "a data: image must be base64 (data:<type>;base64,...)", param="messages"
            )
        return {"inlineData": {"mimeType": mime_type, "data": data}}
    guessed, _ = mimetypes.guess_type(part.url.split("?", 1)[0])
    if guessed is None:
        raise UpstreamBadRequestError(
            "Gemini needs an image's type: send a data: URL, or a URL ending in its extension",
            param="messages",
        )
    return {"fileData": {"mimeType": guessed, "fileUri": part.url}}


def _declaration(spec: ToolSpec) -> dict[str, Any]:
    declaration: dict[str, Any] = {"name": spec.name, "parameters": dict(spec.parameters)}
    if spec.description:
        declaration["description"] = spec.description
    return declaration


def _calling_config(choice: ToolChoice) -> dict[str, Any]:
    if isinstance(choice, NamedToolChoice):
        return {"mode": "ANY", "allowedFunctionNames": [choice.name]}
    return {"mode": _MODES[choice]}


def _generation_config(request: ChatRequest) -> dict[str, Any]:
    fields = {
        "temperature": request.temperature,
        "topP": request.top_p,
        "maxOutputTokens": request.max_tokens,
        "seed": request.seed,
        "candidateCount": request.n if request.n != 1 else None,
        "stopSequences": list(request.stop) or None,
    }
    config = {name: value for name, value in fields.items() if value is not None}
    config.update(_structured_output(request.response_format))
    return config


def _structured_output(response_format: Mapping[str, Any] | None) -> dict[str, Any]:
    kind = (response_format or {}).get("type")
    if kind == "json_object":
        return {"responseMimeType": "application/json"}
    if kind != "json_schema":
        return {}
    spec = (response_format or {}).get("json_schema") or {}
    schema = spec.get("schema") if isinstance(spec, Mapping) else None
    if not isinstance(schema, Mapping):
        raise UpstreamBadRequestError(
            "response_format json_schema needs a schema.", param="response_format.json_schema"
        )
    return {"responseMimeType": "application/json", "responseSchema": dict(schema)}


def _extras_config(model: str, extras: Mapping[str, Any]) -> dict[str, Any]:
    config = {field: extras[name] for name, field in _GENERATION_EXTRAS.items() if name in extras}
    thinking = _thinking_config(model, extras)
    if thinking is not None:
        config["thinkingConfig"] = thinking
    return config


def _thinking_config(model: str, extras: Mapping[str, Any]) -> dict[str, Any] | None:
    """``thinking`` (Anthropic's shape) wins over ``reasoning_effort``, as on Anthropic.
    Gemini 3 models take ``reasoning_effort`` as their ``thinkingLevel`` (Google keeps budgets
    only for compatibility there); they cannot stop thinking, so ``none`` is refused."""
    thinking = extras.get("thinking")
    if thinking is not None:
        kind = thinking.get("type") if isinstance(thinking, Mapping) else None
        budget = thinking.get("budget_tokens") if isinstance(thinking, Mapping) else None
        if kind == "disabled":
            return {"thinkingBudget": 0}
        if kind == "enabled" and isinstance(budget, int) and not isinstance(budget, bool):
            return {"thinkingBudget": budget, "includeThoughts": True}
        raise InvalidRequestError(
            'thinking must be {"type": "enabled", "budget_tokens": <int>} or '
            '{"type": "disabled"}.',
            param="thinking",
        )
    if "reasoning_effort" not in extras:
        return None
    effort = extras["reasoning_effort"]
    if not isinstance(effort, str) or effort not in THINKING_BUDGETS:
        raise InvalidRequestError(
            f"reasoning_effort must be one of {', '.join(THINKING_BUDGETS)}.",
            param="reasoning_effort",
        )
    if model.startswith("gemini-3"):
        if effort == "none":
            raise InvalidRequestError(
                "Gemini 3 models always think: reasoning_effort must be minimal, low, medium "
                "or high.",
                param="reasoning_effort",
            )
        return {"thinkingLevel": effort, "includeThoughts": True}
    budget = THINKING_BUDGETS[effort]
    return {"thinkingBudget": budget, "includeThoughts": True} if budget else {"thinkingBudget": 0}
