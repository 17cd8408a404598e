"""Amazon Bedrock's dialect of the fake upstream: Converse, ConverseStream, Titan InvokeModel.

- ``POST /model/{model}/converse``: a Converse answer (JSON);
- ``POST /model/{model}/converse-stream``: the same answer as AWS event-stream frames
  (``application/vnd.amazon.eventstream``), encoded here by ``encode_frame`` from the spec:
  a prelude (total length, headers length, prelude CRC32), string headers, the JSON payload and
  the message CRC32 (zlib.crc32);
- ``POST /model/{model}/invoke``: Titan Text Embeddings, or for Claude (a body with
  ``anthropic_version: bedrock-2023-05-31``) Anthropic's Messages answer;
- ``POST /model/{model}/invoke-with-response-stream``: Claude's Messages events, each as a
  ``chunk`` frame whose payload is ``{"bytes": <base64 of the event's JSON>}``; the last
  (``message_stop``) carries ``amazon-bedrock-invocationMetrics``, as Bedrock adds.

Every request must carry a SigV4 signature that this fake recomputes with botocore for the
known test credentials (``ACCESS_KEY`` / ``SECRET_KEY``, service ``bedrock``, region from the
credential scope) and compares; a wrong or missing one is a 403 ``InvalidSignatureException``,
as AWS answers. Errors name their type in ``x-amzn-ErrorType`` and answer ``{"message"}``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import struct
import uuid
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.support.fake_upstream import anthropic_wire, openai_wire
from tests.support.fake_upstream.server import FakeUpstream, Fault, Turn

ACCESS_KEY = "AKIAFAKEBEDROCK00001"
SECRET_KEY = "fake/bedrock+secret/0123456789abcdefGHIJ"
SESSION_TOKEN = "FwoGZXIvYXdzEFAKESESSIONTOKEN0123456789"
_AUTH = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/"
    r"(?P<service>[^/]+)/aws4_request, SignedHeaders=(?P<signed>[^,]+), "
    r"Signature=(?P<sig>[0-9a-f]{64})"
)
_ERRORS: dict[Fault, tuple[int, str, str]] = {
    Fault.RATE_LIMITED: (429, "ThrottlingException", "Too many requests, please wait."),
    Fault.SERVER_ERROR: (500, "InternalServerException", "The server had an internal error."),
    Fault.OVERLOADED: (503, "ServiceUnavailableException", "Bedrock cannot take it now."),
    Fault.UNAUTHORIZED: (403, "UnrecognizedClientException", "The security token is invalid."),
    Fault.BAD_REQUEST: (400, "ValidationException", "messages: field required"),
    Fault.QUOTES_CREDENTIALS: (
        400, "ValidationException", "credential AKIAIOSFODNN7EXAMPLE is not valid here"
    ),
}


STS_PATH = "/"
WEB_IDENTITY_TOKEN = "eyJhbGciOiJSUzI1NiJ9.eks-service-account-token"
ROLE_ARN = "arn:aws:iam::123456789012:role/llm-gateway"


@dataclass
class WebIdentity:
    """What the fake STS saw: the AssumeRoleWithWebIdentity forms, and how long the session
    credentials it hands out last (seconds)."""

    forms: list[dict[str, str]] = field(default_factory=list)
    lifetime: int = 3600


WEB_IDENTITY = WebIdentity()


async def render_sts(
    upstream: FakeUpstream, request: web.Request, body: Any, turn: Turn
) -> web.StreamResponse:
    """STS ``AssumeRoleWithWebIdentity`` (unsigned, form-encoded; XML answer), as IRSA on EKS
    calls it: the service-account token for session credentials of the role."""
    form = dict(parse_qsl(body if isinstance(body, str) else ""))
    WEB_IDENTITY.forms.append(form)
    if (
        form.get("Action") != "AssumeRoleWithWebIdentity"
        or form.get("WebIdentityToken") != WEB_IDENTITY_TOKEN
        or form.get("RoleArn") != ROLE_ARN
    ):
        error = (
            "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidIdentityToken</Code>"
            "<Message>Token is not valid</Message></Error></ErrorResponse>"
        )
        return web.Response(status=400, text=error, content_type="text/xml")
    expiry = datetime.now(UTC) + timedelta(seconds=WEB_IDENTITY.lifetime)
    token = f"{SESSION_TOKEN}-irsa-{len(WEB_IDENTITY.forms)}"
    answer = f"""<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <Credentials>
      <AccessKeyId>{ACCESS_KEY}</AccessKeyId>
      <SecretAccessKey>{SECRET_KEY}</SecretAccessKey>
      <SessionToken>{token}</SessionToken>
      <Expiration>{expiry.strftime("%Y-%m-%dT%H:%M:%SZ")}</Expiration>
    </Credentials>
    <SubjectFromWebIdentityToken>system:serviceaccount:ai:llm-gateway</SubjectFromWebIdentityToken>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::123456789012:assumed-role/llm-gateway/{form.get("RoleSessionName", "")}</Arn>
      <AssumedRoleId>AROAFAKEROLEID:{form.get("RoleSessionName", "")}</AssumedRoleId>
    </AssumedRoleUser>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>"""
    return web.Response(text=answer, content_type="text/xml")


@dataclass
class Signatures:
    """What the signature check saw: regions, and whether a session token came along."""

    regions: list[str] = field(default_factory=list)
    session_tokens: list[str | None] = field(default_factory=list)


SIGNATURES = Signatures()


def install(upstream: FakeUpstream) -> None:
    upstream.route("/model/{model}/converse", render)
    upstream.route("/model/{model}/converse-stream", render)
    upstream.route("/model/{model}/invoke", render_invoke)
    upstream.route("/model/{model}/invoke-with-response-stream", render_claude)
    upstream.route(STS_PATH, render_sts, recorded=False)


def error_response(status: int, kind: str, message: str) -> web.Response:
    headers = {
        "x-amzn-ErrorType": f"{kind}:http://internal.amazon.com/coral/com.amazon.bedrock/",
        "x-amzn-RequestId": str(uuid.uuid4()),
    }
    return web.json_response({"message": message}, status=status, headers=headers)


async def signature_problem(request: web.Request) -> str | None:
    """Why the request's SigV4 signature is not the one botocore computes, or None."""
    match = _AUTH.fullmatch(request.headers.get("Authorization", ""))
    if match is None or match["key"] != ACCESS_KEY or match["service"] != "bedrock":
        return "missing or foreign credential"
    signed = match["signed"].split(";")
    headers = {name: request.headers.get(name, "") for name in signed}
    url = f"http://{request.headers['host']}{request.raw_path}"
    replay = AWSRequest(method=request.method, url=url, data=await request.read(), headers=headers)
    replay.context["timestamp"] = request.headers.get("x-amz-date", "")
    token = request.headers.get("x-amz-security-token")
    auth = SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY, token), "bedrock", match["region"])
    expected = auth.signature(auth.string_to_sign(replay, auth.canonical_request(replay)), replay)
    if expected != match["sig"]:
        return "signature mismatch"
    SIGNATURES.regions.append(match["region"])
    SIGNATURES.session_tokens.append(token)
    return None


async def render(
    upstream: FakeUpstream, request: web.Request, body: Any, turn: Turn
) -> web.StreamResponse:
    if await signature_problem(request) is not None:
        return error_response(
            403, "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided.",
        )  # fmt: skip
    if turn.fault in _ERRORS:
        return error_response(*_ERRORS[turn.fault])  # type: ignore[index]
    if not isinstance(body, dict) or not body.get("messages"):
        return error_response(*_ERRORS[Fault.BAD_REQUEST])
    guardrail = body.get("guardrailConfig")
    if guardrail is not None and not {"guardrailIdentifier", "guardrailVersion"} <= set(guardrail):
        return error_response(400, "ValidationException", "guardrailConfig is incomplete")
    thinking = (body.get("additionalModelRequestFields") or {}).get("thinking") or {}
    answer = converse_answer(turn, thinks=thinking.get("type") == "enabled")
    if request.path.endswith("/converse-stream"):
        return await _stream(request, turn, answer)
    if turn.fault is Fault.MALFORMED_JSON:
        return web.Response(text='{"output": {', content_type="application/json")
    if turn.fault is Fault.DROP_MID_STREAM:
        return await openai_wire._drop(request, json.dumps(answer).encode())
    return web.json_response(answer)


REASONING_SIGNATURE = "EqoBCkgIAxABGAIiQFakeBedrockReasoningSignature=="


def converse_answer(turn: Turn, *, thinks: bool = False) -> dict[str, Any]:
    """``thinks``: the request enabled Claude's thinking; ``turn.reasoning`` then opens the
    answer as a ``reasoningContent`` block with its signature."""
    content: list[dict[str, Any]] = []
    if thinks and turn.reasoning:
        text = {"text": turn.reasoning, "signature": REASONING_SIGNATURE}
        content.append({"reasoningContent": {"reasoningText": text}})
    if turn.text:
        content.append({"text": turn.text})
    for name, arguments in turn.tool_calls:
        tool_use = {
            "toolUseId": f"tooluse_{uuid.uuid4().hex[:22]}",
            "name": name,
            "input": arguments,
        }
        content.append({"toolUse": tool_use})
    usage = {
        "inputTokens": turn.prompt_tokens - turn.cached_tokens,
        "outputTokens": turn.completion_tokens,
        "totalTokens": turn.prompt_tokens + turn.completion_tokens,
    }
    if turn.cached_tokens:
        usage.update(cacheReadInputTokens=turn.cached_tokens, cacheWriteInputTokens=0)
    return {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": turn.finish or ("tool_use" if turn.tool_calls else "end_turn"),
        "usage": usage,
        "metrics": {"latencyMs": 120},
    }


def stream_events(answer: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The ConverseStream events of ``answer``, in order, as (event type, payload)."""
    events: list[tuple[str, dict[str, Any]]] = [("messageStart", {"role": "assistant"})]
    for index, block in enumerate(answer["output"]["message"]["content"]):
        if "reasoningContent" in block:
            reasoning = block["reasoningContent"]["reasoningText"]
            pieces = re.findall(r"\s*\S+", reasoning["text"])
            deltas = [{"reasoningContent": {"text": piece}} for piece in pieces]
            deltas.append({"reasoningContent": {"signature": reasoning["signature"]}})
        elif "text" in block:
            deltas = [{"text": piece} for piece in re.findall(r"\s*\S+", block["text"])]
        else:
            tool_use = block["toolUse"]
            start = {"toolUse": {"toolUseId": tool_use["toolUseId"], "name": tool_use["name"]}}
            events.append(("contentBlockStart", {"contentBlockIndex": index, "start": start}))
            text = json.dumps(tool_use["input"])
            deltas = [{"toolUse": {"input": text[i : i + 5]}} for i in range(0, len(text), 5)]
        events += [("contentBlockDelta", {"contentBlockIndex": index, "delta": d}) for d in deltas]
        events.append(("contentBlockStop", {"contentBlockIndex": index}))
    events.append(("messageStop", {"stopReason": answer["stopReason"]}))
    events.append(("metadata", {"usage": answer["usage"], "metrics": answer["metrics"]}))
    return events


def encode_frame(headers: dict[str, str], payload: bytes) -> bytes:
    """One event-stream message: headers are all strings (value type 7)."""
    encoded = b"".join(
        struct.pack("!B", len(name))
        + name.encode()
        + struct.pack("!BH", 7, len(value))
        + value.encode()
        for name, value in headers.items()
    )
    total = 12 + len(encoded) + len(payload) + 4
    prelude = struct.pack("!II", total, len(encoded))
    prelude += struct.pack("!I", zlib.crc32(prelude))
    message = prelude + encoded + payload
    return message + struct.pack("!I", zlib.crc32(message))


def event_frame(event_type: str, payload: dict[str, Any]) -> bytes:
    headers = {
        ":event-type": event_type,
        ":content-type": "application/json",
        ":message-type": "event",
    }
    return encode_frame(headers, json.dumps(payload).encode())


def exception_frame(kind: str, message: str) -> bytes:
    headers = {
        ":exception-type": kind,
        ":content-type": "application/json",
        ":message-type": "exception",
    }
    return encode_frame(headers, json.dumps({"message": message}).encode())


@dataclass(frozen=True)
class ThrottledMidStream(Turn):
    """A stream that starts, then gets a ``throttlingException`` frame."""


async def _stream(request: web.Request, turn: Turn, answer: dict[str, Any]) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "application/vnd.amazon.eventstream"})
    await response.prepare(request)
    for position, (kind, payload) in enumerate(stream_events(answer)):
        if turn.fault is Fault.DROP_MID_STREAM and position == 2:
            openai_wire._abort(request)
            return response
        if isinstance(turn, ThrottledMidStream) and position == 2:
            await response.write(exception_frame("throttlingException", "Too many tokens"))
            break
        frame = event_frame(kind, payload)
        if turn.fault is Fault.MALFORMED_JSON and position == 1:
            frame = frame[:-1] + bytes([frame[-1] ^ 0xFF])  # a broken message CRC
        await response.write(frame)
    await response.write_eof()
    return response


async def render_invoke(
    upstream: FakeUpstream, request: web.Request, body: Any, turn: Turn
) -> web.StreamResponse:
    if await signature_problem(request) is not None:
        return error_response(403, "InvalidSignatureException", "signature mismatch")
    if isinstance(body, dict) and "anthropic_version" in body:
        return await render_claude(upstream, request, body, turn)
    if turn.fault in _ERRORS:
        return error_response(*_ERRORS[turn.fault])  # type: ignore[index]
    text = body["inputText"]
    size = body.get("dimensions", openai_wire.EMBEDDING_DIMENSIONS)
    vector = [float(len(text) + i) for i in range(size)]
    return web.json_response({"embedding": vector, "inputTextTokenCount": len(text.split())})


@dataclass
class ClaudeBodies:
    """The InvokeModel bodies Claude got, as sent (``anthropic_version``, ``anthropic_beta``)."""

    seen: list[dict[str, Any]] = field(default_factory=list)


CLAUDE_BODIES = ClaudeBodies()


def _chunk_frame(name: str, payload: dict[str, Any]) -> bytes:
    """One Messages event as InvokeModelWithResponseStream frames it."""
    encoded = base64.b64encode(json.dumps(payload).encode()).decode()
    return event_frame("chunk", {"bytes": encoded})


async def render_claude(
    upstream: FakeUpstream, request: web.Request, body: Any, turn: Turn
) -> web.StreamResponse:
    """Claude through InvokeModel: the body is the Messages API's without ``model`` and
    ``stream`` (the path says both), with ``anthropic_version: bedrock-2023-05-31``."""
    if await signature_problem(request) is not None:
        return error_response(403, "InvalidSignatureException", "signature mismatch")
    if turn.fault in _ERRORS:
        return error_response(*_ERRORS[turn.fault])  # type: ignore[index]
    if not isinstance(body, dict) or "model" in body or "stream" in body:
        return error_response(400, "ValidationException", "extraneous key [model] is not permitted")
    CLAUDE_BODIES.seen.append(dict(body))
    checked = dict(body)
    if checked.pop("anthropic_version", None) != "bedrock-2023-05-31":
        return error_response(400, "ValidationException", "invalid anthropic_version")
    beta = checked.pop("anthropic_beta", [])
    if not isinstance(beta, list):
        return error_response(400, "ValidationException", "anthropic_beta must be a list")
    checked["model"] = request.match_info["model"]
    problem = await asyncio.to_thread(anthropic_wire.request_body_problem, checked)
    if problem is not None:
        return error_response(400, "ValidationException", problem)
    message = anthropic_wire.message_body(checked, turn)
    if not request.path.endswith("/invoke-with-response-stream"):
        return web.json_response(message)
    events = anthropic_wire.stream_events(message)
    metrics = {
        "inputTokenCount": message["usage"]["input_tokens"],
        "outputTokenCount": message["usage"]["output_tokens"],
        "invocationLatency": 512,
        "firstByteLatency": 128,
    }
    events[-1][1]["amazon-bedrock-invocationMetrics"] = metrics
    response = web.StreamResponse(headers={"Content-Type": "application/vnd.amazon.eventstream"})
    await response.prepare(request)
    if turn.floods:
        await anthropic_wire.flood_message(upstream, response, events, _chunk_frame)
        return response
    for position, (_, payload) in enumerate(events):
        if isinstance(turn, ThrottledMidStream) and position == 3:
            await response.write(exception_frame("throttlingException", "Too many tokens"))
            break
        encoded = base64.b64encode(json.dumps(payload).encode()).decode()
        frame = event_frame("chunk", {"bytes": encoded, "p": "abcdefgh"[: position % 8]})
        await response.write(frame)
    await response.write_eof()
    return response
