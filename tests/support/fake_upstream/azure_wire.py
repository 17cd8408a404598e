"""Azure OpenAI's dialect of the fake upstream.

- ``POST /openai/deployments/{deployment}/chat/completions?api-version=...`` and
  ``.../embeddings``: the deployment in the path, ``api-version`` required (404 without, as
  Azure answers);
- ``POST /openai/v1/chat/completions`` and ``/openai/v1/embeddings``: the newer surface, the
  deployment named as ``model``;
- ``POST /{tenant}/oauth2/v2.0/token``: Microsoft Entra ID's client-credentials grant.

Requests need ``api-key: AZURE_KEY`` or ``Authorization: Bearer <a token this fake issued and
that has not been revoked>`` (401 in Azure's words otherwise). Bodies are OpenAI's, plus
Azure's ``prompt_filter_results`` / ``content_filter_results``; errors use Azure's shape
(``code`` the status as a string, or ``content_filter`` with ``innererror``).
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from tests.support.fake_upstream import openai_wire
from tests.support.fake_upstream.server import RETRY_AFTER_SECONDS, FakeUpstream, Fault, Turn

AZURE_KEY = "azure-fake-key-0123456789abcdef"
TENANT = "contoso-tenant"
CLIENT_ID = "gateway-app"
CLIENT_SECRET = "entra-secret-~0123456789"
DEPLOYMENT_CHAT = "/openai/deployments/{deployment}/chat/completions"
DEPLOYMENT_EMBEDDINGS = "/openai/deployments/{deployment}/embeddings"
V1_CHAT = "/openai/v1/chat/completions"
V1_EMBEDDINGS = "/openai/v1/embeddings"
TOKEN_PATH = "/{tenant}/oauth2/v2.0/token"
MANAGED_IDENTITY_PATH = "/msi/token"
"""App Service's managed identity endpoint (``IDENTITY_ENDPOINT``), and IMDS's here too."""
IDENTITY_HEADER = "msi-header-secret-0123456789"
FEDERATED_ASSERTIONS = ("eyJhbGciOiJSUzI1NiJ9.k8s-service-account-token-1",
                        "eyJhbGciOiJSUzI1NiJ9.k8s-service-account-token-2")  # fmt: skip
"""Kubernetes service-account tokens Entra accepts as federated assertions (rotated)."""

_NOT_FILTERED = {
    category: {"filtered": False, "severity": "safe"}
    for category in ("hate", "self_harm", "sexual", "violence")
}
_ERRORS: dict[Fault, tuple[int, str]] = {
    Fault.RATE_LIMITED: (
        429,
        (
            "Requests to the ChatCompletions_Create Operation under Azure OpenAI API have "
            "exceeded token rate limit of your current OpenAI S0 pricing tier."
        ),
    ),
    Fault.SERVER_ERROR: (500, "The server had an error while processing your request."),
    Fault.OVERLOADED: (503, "The service is temporarily unable to process your request."),
    Fault.UNAUTHORIZED: (
        401,
        "Access denied due to invalid subscription key or wrong API endpoint.",
    ),
    Fault.BAD_REQUEST: (400, "This model's maximum context length is 128000 tokens."),
    Fault.QUOTES_CREDENTIALS: (400, "Request rejected: api-key: sk-azure-0123456789abcdef"),
}


@dataclass
class EntraTokens:
    """The tokens the fake token endpoint issued; a revoked one gets a 401."""

    expires_in: int = 3599
    issued: list[str] = field(default_factory=list)
    revoked: set[str] = field(default_factory=set)
    forms: list[dict[str, str]] = field(default_factory=list)


TOKENS = EntraTokens()


@dataclass(frozen=True)
class FilteredPrompt(Turn):
    """The prompt trips Azure's content filter: HTTP 400 ``content_filter``."""

    categories: tuple[str, ...] = ("violence",)


def install(upstream: FakeUpstream) -> None:
    upstream.route(DEPLOYMENT_CHAT, render)
    upstream.route(V1_CHAT, render)
    upstream.route(DEPLOYMENT_EMBEDDINGS, render_embeddings)
    upstream.route(V1_EMBEDDINGS, render_embeddings)
    upstream.route(TOKEN_PATH, render_token, recorded=False)
    upstream.route(MANAGED_IDENTITY_PATH, render_managed_identity, recorded=False, method="GET")


async def render_managed_identity(
    upstream: FakeUpstream, request: web.Request, body: Any, turn: Turn
) -> web.StreamResponse:
    """App Service's endpoint (``X-IDENTITY-HEADER``, api-version 2019-08-01: ``expires_on``)
    or IMDS's (``Metadata: true``, 2018-02-01: ``expires_in``, a string as Azure sends it)."""
    query = request.query
    app_service = request.headers.get("X-IDENTITY-HEADER") == IDENTITY_HEADER
    imds = request.headers.get("Metadata") == "true"
    version_ok = query.get("api-version") == ("2019-08-01" if app_service else "2018-02-01")
    if not (app_service or imds) or not version_ok or (
        query.get("resource") != "https://cognitiveservices.azure.com"
    ):
        return web.json_response({"error": "invalid_request"}, status=400)
    token = f"eyJ0eXAi.mi-{uuid.uuid4().hex}.sig"
    TOKENS.issued.append(token)
    TOKENS.forms.append(dict(query))
    answer = {"access_token": token, "resource": query["resource"], "token_type": "Bearer"}
    if app_service:
        answer["expires_on"] = str(int(time.time()) + TOKENS.expires_in)
    else:
        answer["expires_in"] = str(TOKENS.expires_in)
    return web.json_response(answer)


async def render_token(
    upstream: FakeUpstream, request: web.Request, body: Any, turn: Turn
) -> web.StreamResponse:
    form = _form(body if isinstance(body, str) else "")
    TOKENS.forms.append(form)
    credential_ok = form.get("client_secret") == CLIENT_SECRET or (
        form.get("client_assertion_type") == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        and form.get("client_assertion") in FEDERATED_ASSERTIONS
    )
    valid = (
        request.match_info["tenant"] == TENANT
        and form.get("grant_type") == "client_credentials"
        and form.get("client_id") == CLIENT_ID
        and credential_ok
        and form.get("scope") == "https://cognitiveservices.azure.com/.default"
    )
    if not valid:
        error = {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client"}
        return web.json_response(error, status=401)
    token = f"eyJ0eXAi.{uuid.uuid4().hex}.sig"
    TOKENS.issued.append(token)
    return web.json_response(
        {"token_type": "Bearer", "expires_in": TOKENS.expires_in, "access_token": token}
    )


def _form(body: str) -> dict[str, str]:
    return dict(parse_qsl(body))


def _rejection(request: web.Request) -> web.Response | None:
    bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
    key_ok = request.headers.get("api-key") == AZURE_KEY
    token_ok = bearer in TOKENS.issued and bearer not in TOKENS.revoked
    if not key_ok and not token_ok:
        return error_response(401, "401", _ERRORS[Fault.UNAUTHORIZED][1])
    if "deployment" in request.match_info and not request.query.get("api-version"):
        return error_response(404, "404", "Resource not found")
    return None


def error_response(
    status: int, code: str, message: str, extra: dict[str, Any] | None = None
) -> web.Response:
    headers = {"apim-request-id": str(uuid.uuid4())}
    if status == 429:
        headers["retry-after"] = str(RETRY_AFTER_SECONDS)
    error = {"code": code, "message": message, "param": None, "type": None, **(extra or {})}
    return web.json_response({"error": error}, status=status, headers=headers)


async def render(
    upstream: FakeUpstream, request: web.Request, body: Any, turn: Turn
) -> web.StreamResponse:
    rejection = _rejection(request)
    if rejection is not None:
        return rejection
    if isinstance(turn, FilteredPrompt):
        return _filtered_prompt(turn)
    if turn.fault in _ERRORS:
        status, message = _ERRORS[turn.fault]  # type: ignore[index]
        return error_response(status, str(status), message)
    model = turn.model or request.match_info.get("deployment") or body["model"]
    if body.get("stream"):
        return await _stream(request, body, turn, model)
    if turn.fault is Fault.MALFORMED_JSON:
        return web.Response(text='{"id": "chatcmpl-', content_type="application/json")
    answer = _with_filter_results(openai_wire.completion(turn, model))
    if turn.fault is Fault.DROP_MID_STREAM:
        return await openai_wire._drop(request, json.dumps(answer).encode())
    return web.json_response(answer)


def _filtered_prompt(turn: FilteredPrompt) -> web.Response:
    results = {
        **_NOT_FILTERED,
        **{name: {"filtered": True, "severity": "high"} for name in turn.categories},
    }
    return error_response(
        400,
        "content_filter",
        "The response was filtered due to the prompt triggering Azure OpenAI's content "
        "management policy.",
        {
            "status": 400,
            "innererror": {
                "code": "ResponsibleAIPolicyViolation",
                "content_filter_result": results,
            },
        },
    )


def _with_filter_results(answer: dict[str, Any]) -> dict[str, Any]:
    for choice in answer["choices"]:
        choice["content_filter_results"] = _NOT_FILTERED
    prompt = [{"prompt_index": 0, "content_filter_results": _NOT_FILTERED}]
    return {**answer, "prompt_filter_results": prompt}


async def _stream(request: web.Request, body: Any, turn: Turn, model: str) -> web.StreamResponse:
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    # Azure opens with a chunk that has no choices, only the prompt's filter results.
    opening = {
        "id": "",
        "object": "",
        "created": 0,
        "model": "",
        "choices": [],
        "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": _NOT_FILTERED}],
    }
    events = [opening, *openai_wire.chunk_events(turn, model, include_usage)]
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    for position, event in enumerate(events):
        if turn.fault is Fault.DROP_MID_STREAM and position == 3:
            openai_wire._abort(request)
            return response
        if turn.fault is Fault.MALFORMED_JSON and position == 3:
            await response.write(b'data: {"id": "chatcmpl-broken", "choices": [\n\n')
        await response.write(f"data: {json.dumps(event)}\n\n".encode())
    await response.write(b"data: [DONE]\n\n")
    await response.write_eof()
    return response


async def render_embeddings(
    upstream: FakeUpstream, request: web.Request, body: Any, turn: Turn
) -> web.StreamResponse:
    rejection = _rejection(request)
    if rejection is not None:
        return rejection
    model = request.match_info.get("deployment") or body["model"]
    return await openai_wire.render_embeddings(upstream, request, {**body, "model": model}, turn)
