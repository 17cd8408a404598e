"""Same-format streams relayed as bytes (issue 16): an OpenAI-format upstream's
``chat.completion.chunk`` events reach an OpenAI-format client exactly as the upstream wrote
them (ids, ``created``, ``model``, unknown fields, whitespace, escapes), the finish event
gaining only the gateway's ``x_gateway`` as its last field, the usage report only when the
client asked for it. Sessions, the cache and cost see the same answer as on the decoded path.

The upstream here writes bytes the test chose, over a real socket, to the real gateway.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from aiohttp import web

from tests.support.background_loop import BackgroundLoop
from tests.support.gateway import GatewayProcess

MODEL = "gpt-4o"
UPSTREAM_MODEL = "gpt-4o-2024-08-06"
PROVIDER = "relay-openai"
# gpt-4o-* in config/pricing.json: 2.50 in, 1.25 cached in, 10.00 out, per million tokens.
PRICES = (Decimal("2.50"), Decimal("1.25"), Decimal("10.00"))


def _event(body: str) -> bytes:
    return b"data: " + body.encode() + b"\n\n"


def answer(text: str, *, usage: bool = True, call: bool = False) -> list[bytes]:
    """A stream's events as an OpenAI-compatible server might write them: fields in its own
    order, fields nobody models, odd spacing and escapes."""
    head = f'"id":"chatcmpl-up{len(text)}","object":"chat.completion.chunk","created":1733300000,"model":"{UPSTREAM_MODEL}"'
    tail = '"service_tier":"default","system_fingerprint":"fp_up","usage":null'
    events = [
        _event('{' + head + ',"x_vendor":{"n":[1,2.50,"\\u00e9"]},"choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],' + tail + '}'),
    ]
    for word in text.split(" "):
        piece = json.dumps(" " + word, ensure_ascii=False)
        events.append(_event('{ ' + head + ', "choices": [ {"index": 0, "delta": {"content": ' + piece + ', "x_delta": true}, "logprobs": {"content": []}, "finish_reason": null} ], ' + tail + ' }'))
    if call:
        events.append(_event('{' + head + ',"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_up1","type":"function","function":{"name":"lookup","arguments":""}}]},"finish_reason":null}],' + tail + '}'))
        for fragment in ('{\\"q\\": ', '\\"caf\\u00e9\\"}'):
            events.append(_event('{' + head + ',"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"' + fragment + '"}}]},"finish_reason":null}],' + tail + '}'))
    finish = "tool_calls" if call else "stop"
    events.append(_event('{' + head + ',"choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"' + finish + '","x_choice":"kept"}],' + tail + '}'))
    if usage:
        events.append(_event('{' + head + ',"choices":[],"service_tier":"default","system_fingerprint":"fp_up","usage":{"prompt_tokens":20,"completion_tokens":8,"total_tokens":28,"prompt_tokens_details":{"cached_tokens":4,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"accepted_prediction_tokens":0}},"x_tail":true}'))
    events.append(b"data: [DONE]\n\n")
    return events


COST = (
    Decimal(20 - 4) * PRICES[0] + Decimal(4) * PRICES[1] + Decimal(8) * PRICES[2]
) / Decimal(1_000_000)


@dataclass
class Script:
    """One answer: the bytes of each write, ``pause`` seconds apart."""

    writes: list[bytes]
    pause: float = 0.0


@dataclass
class BytesUpstream:
    """``POST /v1/chat/completions`` answered with the scripted bytes; requests recorded."""

    url: str = ""
    scripts: list[Script] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    _runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._answer)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/v1"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(body)
        script = self.scripts.pop(0)
        if not body.get("stream"):
            return web.json_response(_completion(script))
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for write in script.writes:
            await response.write(write)
            if script.pause:
                await asyncio.sleep(script.pause)
        await response.write_eof()
        return response


def _completion(script: Script) -> dict[str, Any]:
    """The same answer as a JSON body (for a turn that is not streamed)."""
    text = ""
    for write in script.writes:
        payload = write.removeprefix(b"data: ").strip()
        if payload != b"[DONE]":
            for choice in json.loads(payload)["choices"]:
                text += choice["delta"].get("content") or ""
    return {
        "id": "chatcmpl-json", "object": "chat.completion", "created": 1733300000,
        "model": UPSTREAM_MODEL,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 20, "completion_tokens": 8, "total_tokens": 28,
                  "prompt_tokens_details": {"cached_tokens": 4}},
    }  # fmt: skip


@pytest.fixture(scope="module")
def upstream(background_loop: BackgroundLoop) -> Iterator[BytesUpstream]:
    server = BytesUpstream()
    background_loop.run(server.start())
    yield server
    background_loop.run(server.stop())


@pytest.fixture(scope="module")
def gateway(upstream: BytesUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    config = Path(tmp_path_factory.mktemp("relay")) / "providers.json"
    provider = {"type": "openai", "base_url": upstream.url, "timeout_seconds": 5.0}
    config.write_text(json.dumps({"providers": {PROVIDER: provider}, "models": {MODEL: {"provider": PROVIDER}}}))
    with GatewayProcess({"LLM_GATEWAY_PROVIDERS_CONFIG": str(config)}) as process:
        yield process


@pytest.fixture
def http(gateway: GatewayProcess, upstream: BytesUpstream) -> Iterator[httpx.Client]:
    upstream.scripts.clear()
    upstream.requests.clear()
    with httpx.Client(base_url=gateway.url, timeout=10) as client:
        yield client


def _stream(http: httpx.Client, text: str, **extra: Any) -> httpx.Response:
    body = {"model": MODEL, "messages": [{"role": "user", "content": text}], "stream": True, **extra}
    response = http.post("/v1/chat/completions", json=body)
    assert response.status_code == 200, response.text
    return response


def _split_finish(received: bytes, sent: list[bytes], finish_at: int) -> dict[str, Any]:
    """Checks that ``received`` is ``sent`` with ``x_gateway`` added to the finish event as
    its last field, and nothing else changed; returns that ``x_gateway``."""
    finish = sent[finish_at]
    before = b"".join(sent[:finish_at])
    assert received.startswith(before), "the events before the finish changed"
    rest = received[len(before) :]
    head = finish[: -len(b"}\n\n")] + b',"x_gateway":'
    assert rest.startswith(head), rest[:300]
    extended, _, after = rest.partition(b"\n\n")
    assert after == b"".join(sent[finish_at + 1 :]), "the events after the finish changed"
    body = json.loads(extended.removeprefix(b"data: "))
    assert {k: v for k, v in body.items() if k != "x_gateway"} == json.loads(finish[6:])
    return body["x_gateway"]


def test_the_client_gets_the_upstreams_bytes_and_the_gateways_cost(
    http: httpx.Client, upstream: BytesUpstream
) -> None:
    sent = answer("Hello wörld, \"quoted\" \\ and more", usage=True)
    upstream.scripts.append(Script([b"".join(sent)]))
    received = _stream(http, "hi", stream_options={"include_usage": True}).content
    extension = _split_finish(received, sent, len(sent) - 3)
    assert Decimal(str(extension["cost_usd"])) == COST
    assert extension["provider"] == PROVIDER
    assert extension["native_finish_reason"] == "stop"
    # The gateway asked for usage, as always; the client's other fields went as sent.
    assert upstream.requests[0]["stream_options"] == {"include_usage": True}


def test_without_include_usage_the_usage_report_is_left_out(
    http: httpx.Client, upstream: BytesUpstream
) -> None:
    sent = answer("no usage asked")
    upstream.scripts.append(Script([b"".join(sent)]))
    received = _stream(http, "hi").content
    without_usage = [*sent[:-2], sent[-1]]
    extension = _split_finish(received, without_usage, len(without_usage) - 2)
    assert Decimal(str(extension["cost_usd"])) == COST, "usage still counted"


def test_events_written_one_by_one_and_split_mid_line_arrive_unchanged(
    http: httpx.Client, upstream: BytesUpstream
) -> None:
    sent = answer("one word at a time", usage=True)
    whole = b"".join(sent)
    writes = [whole[i : i + 37] for i in range(0, len(whole), 37)]  # cuts lines and UTF-8
    upstream.scripts.append(Script(writes, pause=0.002))
    received = _stream(http, "hi", stream_options={"include_usage": True}).content
    _split_finish(received, sent, len(sent) - 3)


def test_crlf_framing_is_read_and_the_payloads_pass_unchanged(
    http: httpx.Client, upstream: BytesUpstream
) -> None:
    sent = answer("carriage returns", usage=True)
    crlf = [event.replace(b"\n", b"\r\n") for event in sent]
    upstream.scripts.append(Script([b": keep-alive\r\n\r\n", *crlf], pause=0.001))
    received = _stream(http, "hi", stream_options={"include_usage": True}).content
    _split_finish(received, sent, len(sent) - 3)  # framed again with LF, as OpenAI frames


def test_the_sdk_reads_a_relayed_tool_call(gateway: GatewayProcess, upstream: BytesUpstream) -> None:
    upstream.scripts.clear()
    upstream.scripts.append(Script(answer("let me look", call=True), pause=0.001))
    client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="k", max_retries=0)
    tool = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}
    chunks = list(client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "find"}], tools=[tool],  # type: ignore[list-item]
        stream=True, stream_options={"include_usage": True},
    ))  # fmt: skip
    assert {chunk.id for chunk in chunks} == {"chatcmpl-up11"}
    assert {chunk.model for chunk in chunks} == {UPSTREAM_MODEL}
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == " let me look"
    calls = [d for c in chunks if c.choices for d in c.choices[0].delta.tool_calls or ()]
    assert calls[0].id == "call_up1" and calls[0].function and calls[0].function.name == "lookup"
    arguments = "".join((d.function and d.function.arguments) or "" for d in calls)
    assert json.loads(arguments) == {"q": "café"}
    finish = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finish[0].choices[0].finish_reason == "tool_calls"
    assert (finish[0].model_extra or {})["x_gateway"]["provider"] == PROVIDER
    assert chunks[-1].usage is not None and chunks[-1].usage.prompt_tokens == 20


def test_a_session_keeps_the_relayed_answer(http: httpx.Client, upstream: BytesUpstream) -> None:
    session = http.post("/v1/sessions", json={})
    assert session.status_code == 201, session.text
    session_id = session.json()["id"]
    upstream.scripts.append(Script(answer("first reply"), pause=0.001))
    _stream(http, "first question", session_id=session_id)
    upstream.scripts.append(Script(answer("second reply")))
    _stream(http, "second question", session_id=session_id)
    second = upstream.requests[1]["messages"]
    assert second == [
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": " first reply"},
        {"role": "user", "content": "second question"},
    ]
    stored = http.get(f"/v1/sessions/{session_id}").json()
    assert [(m["role"], m["content"]) for m in stored["messages"]] == [
        ("user", "first question"), ("assistant", " first reply"),
        ("user", "second question"), ("assistant", " second reply"),
    ]  # fmt: skip


def test_a_relayed_answer_is_cached_and_replayed(http: httpx.Client, upstream: BytesUpstream) -> None:
    sent = answer("worth keeping")
    upstream.scripts.append(Script(sent))
    body = {"temperature": 0, "stream_options": {"include_usage": True}}
    first = _stream(http, "cache me", **body)
    assert first.headers["x-gateway-cache"] == "MISS"
    again = _stream(http, "cache me", **body)
    assert again.headers["x-gateway-cache"] == "HIT"
    assert len(upstream.requests) == 1, "the hit reached the upstream"
    events = [json.loads(line[6:]) for line in again.text.split("\n\n") if line.startswith("data: {")]
    text = "".join(e["choices"][0]["delta"].get("content") or "" for e in events if e["choices"])
    assert text == " worth keeping"
    finish = [e for e in events if e["choices"] and e["choices"][0]["finish_reason"]]
    assert finish[0]["x_gateway"]["cache"] == "HIT" and finish[0]["x_gateway"]["cost_usd"] == 0
    # Not streamed, the same question is a hit too.
    json_hit = http.post("/v1/chat/completions", json={
        "model": MODEL, "messages": [{"role": "user", "content": "cache me"}], "temperature": 0,
    })  # fmt: skip
    assert json_hit.headers["x-gateway-cache"] == "HIT"
    assert json_hit.json()["choices"][0]["message"]["content"] == " worth keeping"


def test_the_stream_costs_what_the_same_answer_costs_unstreamed(
    http: httpx.Client, upstream: BytesUpstream
) -> None:
    upstream.scripts.append(Script(answer("same answer")))
    streamed = _stream(http, "price me")
    expected = [*answer("same answer")[:-2], b"data: [DONE]\n\n"]
    extension = _split_finish(streamed.content, expected, len(expected) - 2)
    upstream.scripts.append(Script(answer("same answer")))
    plain = http.post("/v1/chat/completions", json={
        "model": MODEL, "messages": [{"role": "user", "content": "price me"}],
    })  # fmt: skip
    assert Decimal(plain.headers["x-gateway-cost-usd"]) == Decimal(str(extension["cost_usd"])) == COST


def test_an_upstream_error_event_mid_stream_ends_with_the_gateways_error(
    http: httpx.Client, upstream: BytesUpstream
) -> None:
    sent = answer("cut short")
    error = b'data: {"error":{"message":"overloaded","type":"server_error","code":null}}\n\n'
    upstream.scripts.append(Script([sent[0], sent[1], error], pause=0.005))
    received = _stream(http, "hi").content
    assert received.startswith(sent[0] + sent[1])
    last = received.rstrip(b"\n").rsplit(b"\n\n", 1)[-1]
    assert json.loads(last.removeprefix(b"data: "))["error"]["type"]
    assert b"[DONE]" not in received


def test_a_stream_cut_before_done_ends_with_an_error_event(
    http: httpx.Client, upstream: BytesUpstream
) -> None:
    sent = answer("never finished")
    upstream.scripts.append(Script(sent[:2], pause=0.005))
    received = _stream(http, "hi").content
    assert received.startswith(sent[0] + sent[1])
    last = received.rstrip(b"\n").rsplit(b"\n\n", 1)[-1]
    assert json.loads(last.removeprefix(b"data: "))["error"]["code"] == "upstream_unreachable"


def test_a_client_that_reads_slowly_gets_every_byte_in_order(
    gateway: GatewayProcess, upstream: BytesUpstream
) -> None:
    """The middle events go straight to the client's socket while it takes them; once it
    stops reading and the socket fills, they go the ordinary way (waiting for it to drain),
    and nothing is lost or reordered in between."""
    upstream.scripts.clear()
    sent = answer(" ".join(f"w{i}" for i in range(400)), usage=True)
    pad = "p" * 20_000  # 400 events of 20 KB: far more than the sockets hold
    sent = [sent[0], *(e.replace(b'"x_delta": true', f'"x_pad": "{pad}"'.encode()) for e in sent[1:-4]), *sent[-4:]]
    upstream.scripts.append(Script(sent, pause=0.0005))
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "stream": True,
            "stream_options": {"include_usage": True}}  # fmt: skip
    with (
        httpx.Client(base_url=gateway.url, timeout=30) as client,
        client.stream("POST", "/v1/chat/completions", json=body) as response,
    ):
        assert response.status_code == 200
        time.sleep(1.5)  # the upstream has written most of it by now; we read nothing
        received = b"".join(response.iter_raw())
    assert len(received) > 8_000_000
    _split_finish(received, sent, len(sent) - 3)


def test_the_stream_head_is_litestars_own(http: httpx.Client, upstream: BytesUpstream) -> None:
    """The stream's head, written without Litestar's response object, is what it wrote."""
    upstream.scripts.append(Script(answer("head")))
    response = _stream(http, "hi")
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-accel-buffering"] == "no"
    assert response.headers["transfer-encoding"] == "chunked"
    assert "x-request-id" in response.headers
