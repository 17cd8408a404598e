"""One table of the service's operations, and the OpenAPI 3.1 document built from it.

Request bodies are described by the same msgspec structs that decode them, so the contract
cannot drift from what the gateway accepts; answers by the schemas in ``shapes``. A test keeps
the table and the app's routes in step (a route missing here fails it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

from gateway_http.admin.schemas import CreateKeyBody, KeyFields, RotateKeyBody
from gateway_http.messages_api.body import CountTokensBodyFields, MessagesBodyFields
from gateway_http.openapi import shapes
from gateway_http.responses_api.body import ResponsesBodyFields
from gateway_http.schemas.chat import ChatCompletionBody
from gateway_http.schemas.embeddings import EmbeddingsBody
from gateway_http.schemas.sessions import CreateSessionBody
from gateway_http.schemas.tools import ExecuteToolBody

_JSON = "application/json"
_SSE = "text/event-stream"

_ERROR_MEANINGS = {
    400: "The request is malformed, or names a parameter the gateway refuses.",
    401: "No valid API key (authentication is on).",
    402: "The key's monthly budget is spent.",
    403: "The key may not use this model or route.",
    404: "Unknown model, session, tool or route.",
    408: "The request was not received in time.",
    529: "The provider is overloaded (Anthropic's status).",
    409: "The session is busy with another turn.",
    413: "The body is larger than the configured limit.",
    415: "The body is not JSON (`Content-Type: application/json`).",
    422: "The arguments break the tool's JSON Schema.",
    429: "A rate limit (the gateway's or the provider's); see `Retry-After`.",
    502: "The provider or tool backend failed or answered garbage.",
    503: "The provider or a store is not available; see `Retry-After`.",
    504: "The provider or tool did not answer in time.",
}
_MODEL_CALL_ERRORS = (400, 401, 402, 403, 404, 409, 413, 415, 429, 502, 503, 504)


@dataclass(frozen=True, slots=True)
class Operation:
    method: str
    path: str
    summary: str
    tag: str
    answers: Mapping[int, tuple[str, shapes.JsonSchema | None]]
    """Status -> (description, JSON body schema or None for no body)."""
    body: type[msgspec.Struct] | None = None
    body_optional: bool = False
    """The body may be left out (every field has a default)."""
    errors: Sequence[int] = ()
    parameters: Sequence[Mapping[str, Any]] = ()
    streams: bool = False
    """A 200 may also be an SSE stream (``stream: true`` in the body)."""
    needs_key: bool = True
    anthropic_errors: bool = False
    """Errors in Anthropic's shape (``/v1/messages``), not OpenAI's."""
    example: Mapping[str, Any] | None = None
    """A request body that works on the shipped configuration (the echo model)."""
    extra: Mapping[str, Any] = field(default_factory=dict)


def _query(
    name: str, description: str, schema: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": dict(schema or {"type": "string"})}


_DATE = {"type": "string", "format": "date"}
_SESSION_ID = {"name": "session_id", "in": "path", "required": True,
               "schema": {"type": "string"}}
_RESPONSE_ID = {"name": "response_id", "in": "path", "required": True,
                "schema": {"type": "string"}}
_STORE_ERRORS = (401, 403, 404, 503)
_KEY_ID = {"name": "key_id", "in": "path", "required": True, "schema": {"type": "string"}}
_ADMIN_ERRORS = (400, 401, 403, 404, 409, 413, 415, 503)
_MESSAGES_ERRORS = (400, 401, 402, 403, 404, 409, 413, 415, 429, 502, 503, 504, 529)

OPERATIONS: tuple[Operation, ...] = (
    Operation("post", "/v1/chat/completions", "Create a chat completion", "chat",
              {200: ("The answer, or an SSE stream of chunks.", shapes.CHAT_COMPLETION)},
              body=ChatCompletionBody, errors=(*_MODEL_CALL_ERRORS, 422), streams=True,
              example={"model": "echo", "messages": [{"role": "user", "content": "Hello"}]}),
    Operation("post", "/v1/responses", "Create a response (OpenAI Responses API)", "responses",
              {200: ("The response object, or its typed SSE events.", shapes.RESPONSE)},
              body=ResponsesBodyFields, errors=_MODEL_CALL_ERRORS, streams=True,
              example={"model": "echo", "input": "Hello"}),
    Operation("get", "/v1/responses/{response_id}", "Read a stored response", "responses",
              {200: ("The response object.", shapes.RESPONSE)}, errors=_STORE_ERRORS,
              parameters=(_RESPONSE_ID,)),
    Operation("delete", "/v1/responses/{response_id}", "Delete a stored response", "responses",
              {200: ("Deleted.", shapes.RESPONSE_DELETED)}, errors=_STORE_ERRORS,
              parameters=(_RESPONSE_ID,)),
    Operation("get", "/v1/responses/{response_id}/input_items",
              "The input items of a stored response", "responses",
              {200: ("A page of input items.", shapes.INPUT_ITEMS)},
              errors=(400, *_STORE_ERRORS),
              parameters=(_RESPONSE_ID,
                          _query("order", "asc or desc (default)", {"enum": ["asc", "desc"]}),
                          _query("limit", "1-100 (outside, the nearest), default 20",
                                 {"type": "integer"}),
                          _query("after", "An item id to page after"))),
    Operation("post", "/v1/messages", "Create a message (Anthropic Messages API)", "messages",
              {200: ("The message, or Anthropic's SSE events.", shapes.ANTHROPIC_MESSAGE)},
              body=MessagesBodyFields, errors=_MESSAGES_ERRORS, streams=True,
              anthropic_errors=True,
              example={"model": "echo", "max_tokens": 64,
                       "messages": [{"role": "user", "content": "Hello"}]}),
    Operation("post", "/v1/messages/count_tokens", "Count a message's input tokens", "messages",
              {200: ("The count (exact when routed to Anthropic, else an estimate).",
                     shapes.TOKEN_COUNT)},
              body=CountTokensBodyFields, errors=_MESSAGES_ERRORS, anthropic_errors=True,
              example={"model": "echo", "messages": [{"role": "user", "content": "Hello"}]}),
    Operation("post", "/v1/embeddings", "Create embeddings", "embeddings",
              {200: ("The vectors.", shapes.EMBEDDINGS)},
              body=EmbeddingsBody, errors=_MODEL_CALL_ERRORS,
              example={"model": "echo", "input": "Hello"}),
    Operation("get", "/v1/models", "List the models this key can use now", "models",
              {200: ("The models.", shapes.MODELS)}, errors=(401, 403)),
    Operation("get", "/v1/models/{model_id}", "Retrieve a model by any routable name", "models",
              {200: ("The model object (exact, alias, prefix or pattern match).", shapes.MODEL)},
              errors=(401, 403, 404),
              parameters=({"name": "model_id", "in": "path", "required": True,
                           "schema": {"type": "string"}},)),
    Operation("post", "/v1/sessions", "Create a session", "sessions",
              {201: ("The new session.", shapes.SESSION)},
              body=CreateSessionBody, body_optional=True,
              errors=(400, 401, 403, 413, 415, 503),
              example={"ttl_seconds": 600, "context": {"app": "docs"}}),
    Operation("get", "/v1/sessions/{session_id}", "Read a session", "sessions",
              {200: ("The session.", shapes.SESSION)}, errors=(401, 403, 404, 503),
              parameters=(_SESSION_ID,)),
    Operation("delete", "/v1/sessions/{session_id}", "Delete a session", "sessions",
              {204: ("Deleted.", None)}, errors=(401, 403, 404, 503),
              parameters=(_SESSION_ID,)),
    Operation("get", "/v1/tools", "List the registered tools", "tools",
              {200: ("The tools and their JSON Schemas.", shapes.TOOLS)}, errors=(401, 403)),
    Operation("post", "/v1/tools/execute", "Run a registered tool", "tools",
              {200: ("The tool's result.", shapes.TOOL_RESULT)}, body=ExecuteToolBody,
              errors=(400, 401, 403, 404, 413, 415, 422, 502, 503, 504),
              example={"name": "calculator", "arguments": {"expression": "2 + 3"}}),
    Operation("get", "/v1/usage", "Requests, tokens and cost per key, model and day", "usage",
              {200: ("The usage report.", shapes.USAGE_REPORT)}, errors=(400, 401, 403, 503),
              parameters=(_query("start", "First UTC day (YYYY-MM-DD)", _DATE),
                          _query("end", "Last UTC day (YYYY-MM-DD)", _DATE),
                          _query("key_id", "One key's usage (admin keys)"))),
    Operation("post", "/v1/admin/keys", "Create a client key (the secret is shown once)",
              "admin", {201: ("The new key, with its secret.", shapes.API_KEY)},
              body=CreateKeyBody, body_optional=True, errors=_ADMIN_ERRORS),
    Operation("get", "/v1/admin/keys", "List client keys", "admin",
              {200: ("Every key (never a secret or a hash).", shapes.API_KEYS)},
              errors=(401, 403, 503)),
    Operation("get", "/v1/admin/keys/{key_id}", "Read a client key", "admin",
              {200: ("The key.", shapes.API_KEY)}, errors=(401, 403, 404, 503),
              parameters=(_KEY_ID,)),
    Operation("patch", "/v1/admin/keys/{key_id}", "Change a key's limits, models or budget",
              "admin", {200: ("The key.", shapes.API_KEY)}, body=KeyFields, body_optional=True,
              errors=_ADMIN_ERRORS, parameters=(_KEY_ID,)),
    Operation("delete", "/v1/admin/keys/{key_id}", "Revoke a client key", "admin",
              {200: ("The key is gone (revoked).", shapes.API_KEY_DELETED)},
              errors=(401, 403, 404, 409, 503),
              parameters=(_KEY_ID,)),
    Operation("post", "/v1/admin/keys/{key_id}/disable", "Disable a client key", "admin",
              {200: ("The key.", shapes.API_KEY)}, errors=(401, 403, 404, 409, 503),
              parameters=(_KEY_ID,)),
    Operation("post", "/v1/admin/keys/{key_id}/enable", "Enable a client key again", "admin",
              {200: ("The key.", shapes.API_KEY)}, errors=(401, 403, 404, 409, 503),
              parameters=(_KEY_ID,)),
    Operation("post", "/v1/admin/keys/{key_id}/rotate",
              "Rotate a key's secret (both work during the overlap)", "admin",
              {200: ("The key, with its new secret.", shapes.API_KEY)}, body=RotateKeyBody,
              body_optional=True, errors=_ADMIN_ERRORS, parameters=(_KEY_ID,)),
    Operation("get", "/health", "Liveness", "operations",
              {200: ("The process runs.", shapes.HEALTH)}, needs_key=False),
    Operation("get", "/ready", "Readiness", "operations",
              {200: ("Ready or degraded.", shapes.READINESS),
               503: ("Not ready.", shapes.READINESS)}, needs_key=False),
    Operation("get", "/health/ready", "Readiness (alias of /ready)", "operations",
              {200: ("Ready or degraded.", shapes.READINESS),
               503: ("Not ready.", shapes.READINESS)}, needs_key=False),
)


def _request_schemas() -> tuple[dict[type, Any], dict[str, Any]]:
    structs = [op.body for op in OPERATIONS if op.body is not None]
    refs, components = msgspec.json.schema_components(
        structs, ref_template="#/components/schemas/{name}"
    )
    return dict(zip(structs, refs, strict=True)), components


def _answers(op: Operation) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for status, (description, schema) in op.answers.items():
        answer: dict[str, Any] = {"description": description}
        if schema is not None:
            answer["content"] = {_JSON: {"schema": schema}}
            if op.streams and status == 200:
                answer["content"][_SSE] = {"schema": shapes.SSE_EVENT}
        answers[str(status)] = answer
    error = "AnthropicError" if op.anthropic_errors else "Error"
    for status in op.errors:
        answers[str(status)] = {
            "description": _ERROR_MEANINGS[status],
            "content": {_JSON: {"schema": {"$ref": f"#/components/schemas/{error}"}}},
        }
    return answers


def _operation(op: Operation, body_refs: Mapping[type, Any]) -> dict[str, Any]:
    document: dict[str, Any] = {
        "summary": op.summary,
        "operationId": f"{op.method}_{op.path.strip('/').replace('/', '_').replace('{', '')}"
        .replace("}", "").replace(".", "_").replace("-", "_"),
        "tags": [op.tag],
        "responses": _answers(op),
    }
    if op.parameters:
        document["parameters"] = [dict(p) for p in op.parameters]
    if op.body is not None:
        media: dict[str, Any] = {"schema": body_refs[op.body]}
        if op.example is not None:
            media["example"] = dict(op.example)
        document["requestBody"] = {"required": not op.body_optional, "content": {_JSON: media}}
    if not op.needs_key:
        document["security"] = []
    return {**document, **op.extra}


def build_openapi(version: str, operations: Sequence[Operation] = OPERATIONS) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the service."""
    body_refs, components = _request_schemas()
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        paths.setdefault(op.path, {})[op.method] = _operation(op, body_refs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "llm-gateway",
            "version": version,
            "description": (
                "One OpenAI-compatible API in front of many LLM providers. Every error is "
                "`{\"error\": {\"message\", \"type\", \"code\", \"param\"}}`. "
                "See docs/API.md for routing, sessions, tools and the controls."
            ),
        },
        "paths": paths,
        "components": {
            "schemas": {**components, "Error": shapes.ERROR,
                        "AnthropicError": shapes.ANTHROPIC_ERROR,
                        "ChatCompletionChunk": shapes.CHAT_COMPLETION_CHUNK},
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer",
                               "description": "A client key, when authentication is on."},
            },
        },
        # Authentication is off in the embedded default: a key is optional then.
        "security": [{"bearerAuth": []}, {}],
    }
