"""JSON Schemas of what the gateway answers (its requests' schemas come from msgspec).

Responses are encoded by hand on the hot path (no response model to derive them from), so
they are written here once and checked against real answers by the schema-driven fuzzer in CI
(schemathesis, ``response_schema_conformance``) and by tests/integration/test_openapi.py.
"""

from __future__ import annotations

from typing import Any

JsonSchema = dict[str, Any]


def _object(properties: JsonSchema, required: tuple[str, ...] = ()) -> JsonSchema:
    return {"type": "object", "properties": properties, "required": list(required)}


_NULLABLE_STRING: JsonSchema = {"type": ["string", "null"]}
_INTEGER: JsonSchema = {"type": "integer"}
_NUMBER: JsonSchema = {"type": "number"}

ERROR = _object(
    {
        "error": _object(
            {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "code": _NULLABLE_STRING,
                "param": _NULLABLE_STRING,
            },
            ("message", "type", "code", "param"),
        )
    },
    ("error",),
)

_USAGE = _object(
    {"prompt_tokens": _INTEGER, "completion_tokens": _INTEGER, "total_tokens": _INTEGER},
    ("prompt_tokens", "completion_tokens", "total_tokens"),
)

_TOOL_CALL = _object(
    {
        "id": {"type": "string"},
        "type": {"const": "function"},
        "function": _object(
            {"name": {"type": "string"}, "arguments": {"type": "string"}}, ("name", "arguments")
        ),
    },
    ("id", "function"),
)

CHAT_COMPLETION = _object(
    {
        "id": {"type": "string"},
        "object": {"const": "chat.completion"},
        "created": _INTEGER,
        "model": {"type": "string"},
        "choices": {
            "type": "array",
            "items": _object(
                {
                    "index": _INTEGER,
                    "message": _object(
                        {
                            "role": {"const": "assistant"},
                            "content": _NULLABLE_STRING,
                            "tool_calls": {"type": "array", "items": _TOOL_CALL},
                        },
                        ("role",),
                    ),
                    "finish_reason": _NULLABLE_STRING,
                },
                ("index", "message", "finish_reason"),
            ),
        },
        "usage": _USAGE,
    },
    ("id", "object", "created", "model", "choices"),
)

CHAT_COMPLETION_CHUNK = _object(  # documents one event's data (see SSE_EVENT)
    {
        "id": {"type": "string"},
        "object": {"const": "chat.completion.chunk"},
        "created": _INTEGER,
        "model": {"type": "string"},
        "choices": {"type": "array", "items": {"type": "object"}},
        "usage": {"type": ["object", "null"]},
    },
    ("id", "object", "created", "model", "choices"),
)

SSE_EVENT: JsonSchema = {
    "type": "object",
    "description": (
        "One server-sent event. `data` is a `chat.completion.chunk` (JSON), an error "
        "(`{\"error\": {...}}`) when the stream fails after it started, or `[DONE]` last."
    ),
    "properties": {
        "event": {"type": "string"},
        "id": {"type": "string"},
        # A JSON object (a chunk, or an error), or the closing `[DONE]`, which is not JSON:
        # so no contentSchema, which fuzzers would apply to `[DONE]` too.
        "data": {"type": "string", "pattern": "^(\\{.*\\}|\\[DONE\\])$"},
    },
    "required": ["data"],
}

EMBEDDINGS = _object(
    {
        "object": {"const": "list"},
        "data": {
            "type": "array",
            "items": _object(
                {
                    "object": {"const": "embedding"},
                    "index": _INTEGER,
                    "embedding": {
                        "oneOf": [{"type": "array", "items": _NUMBER}, {"type": "string"}]
                    },
                },
                ("object", "index", "embedding"),
            ),
        },
        "model": {"type": "string"},
        "usage": _object(
            {"prompt_tokens": _INTEGER, "total_tokens": _INTEGER},
            ("prompt_tokens", "total_tokens"),
        ),
    },
    ("object", "data", "model", "usage"),
)

RESPONSE = _object(
    {
        "id": {"type": "string"},
        "object": {"const": "response"},
        "created_at": _INTEGER,
        "model": {"type": "string"},
        "status": {"type": "string"},
        "output": {"type": "array", "items": {"type": "object"}},
        "usage": {"type": "object"},
    },
    ("id", "object", "model", "status", "output"),
)

RESPONSE_DELETED = _object(
    {"id": {"type": "string"}, "object": {"const": "response"}, "deleted": {"const": True}},
    ("id", "object", "deleted"),
)

INPUT_ITEMS = _object(
    {
        "object": {"const": "list"},
        "data": {"type": "array", "items": {"type": "object"}},
        "first_id": _NULLABLE_STRING,
        "last_id": _NULLABLE_STRING,
        "has_more": {"type": "boolean"},
    },
    ("object", "data"),
)

ANTHROPIC_MESSAGE = _object(
    {
        "id": {"type": "string"},
        "type": {"const": "message"},
        "role": {"const": "assistant"},
        "model": {"type": "string"},
        "content": {"type": "array", "items": {"type": "object"}},
        "stop_reason": _NULLABLE_STRING,
        "usage": {"type": "object"},
    },
    ("id", "type", "role", "content"),
)

ANTHROPIC_ERROR = _object(
    {
        "type": {"const": "error"},
        "error": _object(
            {"type": {"type": "string"}, "message": {"type": "string"}}, ("type", "message")
        ),
    },
    ("type", "error"),
)

API_KEY = _object(
    {
        "id": {"type": "string"},
        "object": {"const": "api_key"},
        "name": {"type": "string"},
        "source": {"enum": ["store", "configuration"]},
        "disabled": {"type": "boolean"},
        "admin": {"type": "boolean"},
        "secret": {"type": "string", "description": "Only in the answer that made it."},
    },
    ("id", "object", "name"),
)

API_KEY_DELETED = _object(
    {"id": {"type": "string"}, "object": {"const": "api_key"}, "deleted": {"const": True}},
    ("id", "object", "deleted"),
)

API_KEYS = _object(
    {"object": {"const": "list"}, "data": {"type": "array", "items": API_KEY}},
    ("object", "data"),
)

TOKEN_COUNT = _object({"input_tokens": _INTEGER}, ("input_tokens",))

MODEL = _object(
    {
        "id": {"type": "string"},
        "object": {"const": "model"},
        "created": _INTEGER,
        "owned_by": {"type": "string"},
    },
    ("id", "object", "owned_by"),
)

MODELS = _object(
    {"object": {"const": "list"}, "data": {"type": "array", "items": MODEL}}, ("object", "data")
)

_MESSAGE = _object({"role": {"type": "string"}}, ("role",))

SESSION = _object(
    {
        "id": {"type": "string"},
        "session_id": {"type": "string"},
        "object": {"const": "session"},
        "messages": {"type": "array", "items": _MESSAGE},
        "context": {"type": "object"},
        "metadata": {"type": "object"},
        "created_at": {"type": "string", "format": "date-time"},
        "expires_at": {"type": "string", "format": "date-time"},
        "ttl_seconds": _INTEGER,
        "usage": {"type": "object"},
    },
    ("id", "session_id", "messages", "context", "created_at", "expires_at"),
)

TOOLS = {
    "type": "array",
    "items": _object(
        {
            "name": {"type": "string"},
            "description": {"type": "string"},
            "parameters": {"type": "object"},
        },
        ("name", "description", "parameters"),
    ),
}

TOOL_RESULT = _object(
    {
        "name": {"type": "string"},
        "result": {},
        "success": {"type": "boolean"},
        "error": _NULLABLE_STRING,
        "tool_call_id": {"type": "string"},
    },
    ("name", "result", "success", "error"),
)

_USAGE_ROW = _object(
    {
        "requests": _INTEGER,
        "prompt_tokens": _INTEGER,
        "completion_tokens": _INTEGER,
        "total_tokens": _INTEGER,
        "cost_usd": _NUMBER,
    },
    ("requests", "cost_usd"),
)

USAGE_REPORT = _object(
    {
        "object": {"const": "list"},
        "start": {"type": "string", "format": "date"},
        "end": {"type": "string", "format": "date"},
        "data": {"type": "array", "items": _USAGE_ROW},
        "totals": _USAGE_ROW,
    },
    ("object", "start", "end", "data", "totals"),
)

HEALTH = _object(
    {"status": {"const": "ok"}, "version": {"type": "string"}}, ("status", "version")
)

READINESS = _object(
    {
        "status": {"enum": ["ready", "degraded", "not_ready"]},
        "checks": {"type": "object"},
        "version": {"type": "string"},
    },
    ("status", "checks", "version"),
)
