"""Google's Gemini dialect of the fake upstream: the Gemini API and Vertex AI.

- Gemini API: ``POST /v1beta/models/{model}:generateContent``,
  ``:streamGenerateContent?alt=sse`` and ``:batchEmbedContents``; wants ``x-goog-api-key:
  GEMINI_KEY`` (a wrong key is a 400 ``INVALID_ARGUMENT`` with ``ErrorInfo`` reason
  ``API_KEY_INVALID``, as Google answers).
- Vertex AI: the same methods under
  ``/v1/projects/{project}/locations/{location}/publishers/google/models/{model}``; wants a
  bearer token this fake's token endpoint issued and has not revoked (401 ``UNAUTHENTICATED``).
- ``POST /token``: Google's OAuth2 token endpoint for service accounts. It verifies the JWT
  assertion's RS256 signature with google-auth against the service account's public key, its
  issuer and audience, then issues a token (``GoogleTokens``).

Bodies follow https://ai.google.dev/api/generate-content field for field (camelCase,
``modelVersion``, ``responseId``, ``usageMetadata``, safety ratings); errors are
``{"error": {"code", "message", "status", "details"}}``; a 429 carries ``RetryInfo``.
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web
from google.auth import jwt

from tests.support.fake_upstream import anthropic_wire, openai_wire
from tests.support.fake_upstream.server import RETRY_AFTER_SECONDS, FakeUpstream, Fault, Turn

GEMINI_KEY = "AIzaFakeGeminiKey0123456789abcdef"
GEMINI_MODEL = "/v1beta/models/{model}"
VERTEX_MODEL = "/v1/projects/{project}/locations/{location}/publishers/google/models/{model}"
TOKEN_PATH = "/token"
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
"""google-auth signs service-account assertions for Google's endpoint, whatever ``token_uri``."""
_RATINGS = [
    {"category": category, "probability": "NEGLIGIBLE"}
    for category in ("HARM_CATEGORY_HATE_SPEECH", "HARM_CATEGORY_DANGEROUS_CONTENT")
]
_ERRORS: dict[Fault, tuple[int, str, str]] = {
    Fault.RATE_LIMITED: (429, "RESOURCE_EXHAUSTED", "Resource has been exhausted."),
    Fault.SERVER_ERROR: (500, "INTERNAL", "An internal error has occurred."),
    Fault.OVERLOADED: (503, "UNAVAILABLE", "The model is overloaded. Please try again later."),
    Fault.BAD_REQUEST: (
        400,
        "INVALID_ARGUMENT",
        "* GenerateContentRequest.contents: contents is not specified",
    ),
    Fault.QUOTES_CREDENTIALS: (
        400,
        "INVALID_ARGUMENT",
        "API key AIzaSyA1234567890abcdefghijklmnopqrstuv was sent with Bearer ya29.token-value",
    ),
}


@dataclass
class GoogleTokens:
    """The service account the token endpoint trusts, and the tokens it issued."""

    public_key: bytes = b""
    client_email: str = ""
    expires_in: int = 3600
    issued: list[str] = field(default_factory=list)
    revoked: set[str] = field(default_factory=set)
    claims: list[dict[str, Any]] = field(default_factory=list)


TOKENS = GoogleTokens()


@dataclass(frozen=True)
class BlockedPrompt(Turn):
    """Google blocks the prompt: 200, no candidates, ``promptFeedback.blockReason``."""

    reason: str = "SAFETY"


@dataclass(frozen=True)
class Thinking(Turn):
    """The model thinks: the answer reports ``thoughtsTokenCount`` and, when the request asks
    ``generationConfig.thinkingConfig.includeThoughts`` (as Google requires), opens with a
    thought part (``thought: true``)."""

    thought: str = "The user asks about light; recall Rayleigh."
    thought_tokens: int = 5
    signature: str = "CiQB0e2Kb7fake+thought/signature=="
    """Sent as each function call's ``thoughtSignature``, as a thinking model does."""


def install(upstream: FakeUpstream) -> None:
    for base in (GEMINI_MODEL, VERTEX_MODEL):
        upstream.route(f"{base}:generateContent", render)
        upstream.route(f"{base}:streamGenerateContent", render)
        upstream.route(f"{base}:batchEmbedContents", render_embeddings)
    upstream.route(f"{VERTEX_MODEL}:predict", render_predict)
    upstream.route(TOKEN_PATH, render_token, recorded=False)
    install_claude(upstream)


def error_response(
    status: int, code: str, message: str, details: list[Any] | None = None
) -> web.Response:
    error = {"code": status, "message": message, "status": code}
    if details:
        error["details"] = details
    return web.json_response({"error": error}, status=status)


async def render_token(
    upstream: FakeUpstream, request: web.Request, body: Any, turn: Turn
) -> web.StreamResponse:
    form = dict(parse_qsl(body if isinstance(body, str) else ""))
    try:
        claims = jwt.decode(
            form.get("assertion", ""), certs=TOKENS.public_key, audience=GOOGLE_TOKEN_AUDIENCE
        )
    except ValueError:
        return web.json_response(
            {"error": "invalid_grant", "error_description": "Invalid JWT"}, status=400
        )
    if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" or (
        claims.get("iss") != TOKENS.client_email
    ):
        return web.json_response({"error": "invalid_grant"}, status=400)
    TOKENS.claims.append(claims)
    token = f"ya29.fake-{secrets.token_hex(16)}"  # not uuid: tests replay that for response ids
    TOKENS.issued.append(token)
    return web.json_response(
        {"access_token": token, "expires_in": TOKENS.expires_in, "token_type": "Bearer"}
    )


def _rejection(request: web.Request) -> web.Response | None:
    if "project" in request.match_info:
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
        if bearer not in TOKENS.issued or bearer in TOKENS.revoked:
            return error_response(
                401,
                "UNAUTHENTICATED",
                "Request had invalid authentication credentials. Expected OAuth 2 access token.",
            )
    elif request.headers.get("x-goog-api-key") != GEMINI_KEY:
        return _bad_key()
    return None


def _bad_key() -> web.Response:
    info = {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "API_KEY_INVALID",
        "domain": "googleapis.com",
    }
    return error_response(
        400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.", [info]
    )


def _fault_response(request: web.Request, fault: Fault | None) -> web.Response | None:
    if fault is Fault.UNAUTHORIZED:
        if "project" in request.match_info:
            return error_response(401, "UNAUTHENTICATED", "Request had invalid credentials.")
        return _bad_key()
    if fault not in _ERRORS:
        return None
    status, code, message = _ERRORS[fault]  # type: ignore[index]
    details = None
    if status == 429:
        details = [
            {
                "@type": "type.googleapis.com/google.rpc.RetryInfo",
                "retryDelay": f"{RETRY_AFTER_SECONDS}s",
            }
        ]
    return error_response(status, code, message, details)


async def render(
    upstream: FakeUpstream, request: web.Request, body: Any, turn: Turn
) -> web.StreamResponse:
    rejection = _rejection(request) or _fault_response(request, turn.fault)
    if rejection is not None:
        return rejection
    if not isinstance(body, dict) or not body.get("contents"):
        return error_response(*_ERRORS[Fault.BAD_REQUEST])
    model = turn.model or request.match_info["model"]
    if request.path.endswith(":streamGenerateContent"):
        if request.query.get("alt") != "sse":
            return error_response(400, "INVALID_ARGUMENT", "this fake streams SSE only")
        return await _stream(request, turn, model, _includes_thoughts(body))
    if turn.fault is Fault.MALFORMED_JSON:
        return web.Response(text='{"candidates": [', content_type="application/json")
    answer = generate_content(
        turn, model, str(uuid.uuid4().hex[:20]), include_thoughts=_includes_thoughts(body)
    )
    if turn.fault is Fault.DROP_MID_STREAM:
        return await openai_wire._drop(request, json.dumps(answer).encode())
    return web.json_response(answer)


def _includes_thoughts(body: dict[str, Any]) -> bool:
    thinking = (body.get("generationConfig") or {}).get("thinkingConfig") or {}
    return thinking.get("includeThoughts") is True


def generate_content(
    turn: Turn, model: str, response_id: str, *, include_thoughts: bool = False
) -> dict[str, Any]:
    parts = _parts(turn, include_thoughts)
    return _envelope(turn, model, response_id, parts, finished=True)


def _parts(turn: Turn, include_thoughts: bool) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    if isinstance(turn, Thinking) and include_thoughts:
        parts.append({"text": turn.thought, "thought": True})
    if turn.text:
        parts.append({"text": turn.text})
    parts += [_call(turn, name, args) for name, args in turn.tool_calls]
    return parts


def _call(turn: Turn, name: str, args: dict[str, Any]) -> dict[str, Any]:
    part: dict[str, Any] = {"functionCall": {"name": name, "args": args}}
    if isinstance(turn, Thinking):
        part["thoughtSignature"] = turn.signature
    return part


def _envelope(
    turn: Turn, model: str, response_id: str, parts: list[dict[str, Any]], *, finished: bool
) -> dict[str, Any]:
    if isinstance(turn, BlockedPrompt):
        return {
            "promptFeedback": {"blockReason": turn.reason, "safetyRatings": _RATINGS},
            "usageMetadata": _usage(turn, finished=False),
            "modelVersion": model,
            "responseId": response_id,
        }
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    if finished:
        candidate.update(finishReason=turn.finish or "STOP", safetyRatings=_RATINGS)
    return {
        "candidates": [candidate],
        "usageMetadata": _usage(turn, finished=finished),
        "modelVersion": model,
        "responseId": response_id,
    }


def _usage(turn: Turn, *, finished: bool) -> dict[str, Any]:
    thoughts = turn.thought_tokens if isinstance(turn, Thinking) else 0
    output = turn.completion_tokens - thoughts if finished else 0
    usage: dict[str, Any] = {
        "promptTokenCount": turn.prompt_tokens,
        "totalTokenCount": turn.prompt_tokens + output + thoughts,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": turn.prompt_tokens}],
    }
    if finished:
        usage["candidatesTokenCount"] = output
    if thoughts:
        usage["thoughtsTokenCount"] = thoughts
    if turn.cached_tokens:
        usage["cachedContentTokenCount"] = turn.cached_tokens
    return usage


def stream_bodies(
    turn: Turn, model: str, include_thoughts: bool = False
) -> list[dict[str, Any]]:
    """The responses a streamed answer sends: text in pieces, whole function calls, and the
    finish reason and full usage on the last."""
    response_id = uuid.uuid4().hex[:20]
    pieces: list[list[dict[str, Any]]] = []
    if isinstance(turn, Thinking) and include_thoughts:
        pieces.append([{"text": turn.thought, "thought": True}])
    pieces += [[{"text": piece}] for piece in re.findall(r"\s*\S+", turn.text or "")]
    pieces += [[_call(turn, n, a)] for n, a in turn.tool_calls]
    if isinstance(turn, BlockedPrompt):
        return [_envelope(turn, model, response_id, [], finished=True)]
    last = pieces.pop() if pieces else []
    bodies = [_envelope(turn, model, response_id, parts, finished=False) for parts in pieces]
    return [*bodies, _envelope(turn, model, response_id, last, finished=True)]


async def _stream(
    request: web.Request, turn: Turn, model: str, include_thoughts: bool
) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    for position, body in enumerate(stream_bodies(turn, model, include_thoughts)):
        if turn.fault is Fault.DROP_MID_STREAM and position == 2:
            openai_wire._abort(request)
            return response
        if turn.fault is Fault.MALFORMED_JSON and position == 1:
            await response.write(b'data: {"candidates": [\r\n\r\n')
        await response.write(f"data: {json.dumps(body)}\r\n\r\n".encode())
    await response.write_eof()
    return response


async def render_embeddings(
    upstream: FakeUpstream, request: web.Request, body: Any, turn: Turn
) -> web.StreamResponse:
    rejection = _rejection(request) or _fault_response(request, turn.fault)
    if rejection is not None:
        return rejection
    model = f"models/{request.match_info['model']}"
    embeddings = []
    for item in body["requests"]:
        if item.get("model") != model:
            return error_response(400, "INVALID_ARGUMENT", "model of request does not match")
        text = "".join(part["text"] for part in item["content"]["parts"])
        size = item.get("outputDimensionality", openai_wire.EMBEDDING_DIMENSIONS)
        embeddings.append({"values": [float(len(text) + i) for i in range(size)]})
    return web.json_response({"embeddings": embeddings})


@functools.cache
def _key_pair() -> tuple[bytes, bytes]:
    """A fresh RSA key for the session's fake service account (private PEM, public PEM)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public


def service_account_info(token_uri: str) -> dict[str, str]:
    """A service-account key file's contents whose tokens come from this fake's ``/token``."""
    private, public = _key_pair()
    TOKENS.public_key = public
    TOKENS.client_email = "gateway@fake-project.iam.gserviceaccount.com"
    return {
        "type": "service_account",
        "project_id": "fake-project",
        "private_key_id": "fake-key-1",
        "private_key": private.decode(),
        "client_email": TOKENS.client_email,
        "client_id": "1234567890",
        "token_uri": token_uri,
    }


VERTEX_CLAUDE = "/v1/projects/{project}/locations/{location}/publishers/anthropic/models/{model}"


def install_claude(upstream: FakeUpstream) -> None:
    upstream.route(f"{VERTEX_CLAUDE}:rawPredict", render_claude)
    upstream.route(f"{VERTEX_CLAUDE}:streamRawPredict", render_claude)


async def render_claude(
    upstream: FakeUpstream, request: web.Request, body: Any, turn: Turn
) -> web.StreamResponse:
    """Claude on Vertex: the Messages API's answers for a body that names no ``model`` and
    carries ``anthropic_version: vertex-2023-10-16``; the same bearer tokens as Gemini."""
    rejection = _rejection(request)
    if rejection is not None:
        return rejection
    if not isinstance(body, dict) or "model" in body:
        return anthropic_wire.error_response(400, "invalid_request_error", "model: not allowed")
    body = dict(body)  # the recorded request stays as sent
    if body.pop("anthropic_version", None) != "vertex-2023-10-16":
        return anthropic_wire.error_response(400, "invalid_request_error", "anthropic_version")
    body["model"] = request.match_info["model"]
    problem = await asyncio.to_thread(anthropic_wire.request_body_problem, body)
    if problem is not None:
        return anthropic_wire.error_response(400, "invalid_request_error", problem)
    if turn.fault is Fault.QUOTES_CREDENTIALS:
        sent = request.headers.get("authorization", "")
        return anthropic_wire.error_response(400, "invalid_request_error", f"rejected: {sent}")
    if turn.fault in anthropic_wire._ERROR_ANSWERS:
        status, kind, text = anthropic_wire._ERROR_ANSWERS[turn.fault]  # type: ignore[index]
        return anthropic_wire.error_response(status, kind, text)
    message = anthropic_wire.message_body(body, turn)
    if request.path.endswith(":streamRawPredict"):
        events = anthropic_wire.stream_events(message)
        if turn.floods:
            return await anthropic_wire._flood(upstream, request, events)
        return await anthropic_wire._stream(request, events, turn.fault)
    if turn.fault is Fault.MALFORMED_JSON:
        return web.Response(text="<html>proxy error</html>", content_type="application/json")
    if turn.fault is Fault.DROP_MID_STREAM:
        return await anthropic_wire._cut_short(request, json.dumps(message).encode())
    return web.json_response(message)


async def render_predict(
    upstream: FakeUpstream, request: web.Request, body: Any, turn: Turn
) -> web.StreamResponse:
    """Vertex AI's text embeddings: one prediction per instance, with its token count."""
    rejection = _rejection(request) or _fault_response(request, turn.fault)
    if rejection is not None:
        return rejection
    size = (body.get("parameters") or {}).get(
        "outputDimensionality", openai_wire.EMBEDDING_DIMENSIONS
    )
    predictions = [
        {
            "embeddings": {
                "values": [float(len(item["content"]) + i) for i in range(size)],
                "statistics": {"token_count": len(item["content"].split()), "truncated": False},
            }
        }
        for item in body["instances"]
    ]
    return web.json_response({"predictions": predictions})
