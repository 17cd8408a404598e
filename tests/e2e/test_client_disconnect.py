"""A client that hangs up cancels the work done for it, wherever its request is: before the
first byte (streamed or not), during a JSON request, during a gateway tool call, mid-stream.

Real sockets end to end: a raw-socket client sends its request and closes the connection at
the chosen point; the fake upstream (and a slow HTTP tool service) record when the gateway
closed the connection to them, which must follow the hang-up within a second (before, the
call ran on until the upstream's timeout). The turn is accounted as abandoned (a tool loop
bills the model call it completed), and nothing is left running: the in-flight gauge is back
to the one request reading it.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from aiohttp import web

from tests.e2e.conftest import ANTHROPIC_KEY, OPENAI_KEY, VENDOR_MODELS, providers_config
from tests.support.background_loop import BackgroundLoop
from tests.support.fake_upstream import FakeUpstream, Fault, Turn
from tests.support.gateway import GatewayProcess

UPSTREAM_TIMEOUT_SECONDS = 60.0
"""Far longer than the test: only a cancellation can end the calls in time."""
CANCELLED_WITHIN_SECONDS = 1.0
MODEL = VENDOR_MODELS["openai"]
TOOL = "slow_lookup"


class SlowToolService:
    """An HTTP tool that never answers; records the calls and when their connection closed."""

    def __init__(self) -> None:
        self.calls: list[float] = []
        self.hangups: list[float] = []
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/lookup", self._lookup)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False,
                                     handler_cancellation=True)  # fmt: skip
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _lookup(self, request: web.Request) -> web.Response:
        await request.read()
        self.calls.append(time.monotonic())
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            self.hangups.append(time.monotonic())
            raise
        return web.json_response({})


def _tools_document(url: str) -> dict:
    return {
        "backends": {"slow": {"kind": "http", "timeout_seconds": UPSTREAM_TIMEOUT_SECONDS}},
        "tools": [{
            "name": TOOL,
            "description": "Looks something up, slowly.",
            "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
            "backend": "slow",
            "http": {"method": "POST", "url": f"{url}/lookup", "body": {"q": "q"}},
        }],
    }  # fmt: skip


@pytest.fixture(scope="module")
def tool_service(background_loop: BackgroundLoop) -> Iterator[SlowToolService]:
    service = SlowToolService()
    background_loop.run(service.start())
    yield service
    background_loop.run(service.stop())


@pytest.fixture(scope="module")
def gateway(
    fake_upstream_server: FakeUpstream,
    tool_service: SlowToolService,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[GatewayProcess]:
    directory = Path(tmp_path_factory.mktemp("disconnect"))
    config = providers_config(fake_upstream_server.url)
    for provider in config["providers"].values():
        provider["timeout_seconds"] = UPSTREAM_TIMEOUT_SECONDS
    (directory / "providers.json").write_text(json.dumps(config))
    (directory / "tools.json").write_text(json.dumps(_tools_document(tool_service.url)))
    env = {
        "LLM_GATEWAY_PROVIDERS_CONFIG": str(directory / "providers.json"),
        "LLM_GATEWAY_TOOLS_CONFIG": str(directory / "tools.json"),
        "LLM_GATEWAY_CACHE_ENABLED": "false",
        "LLM_GATEWAY_FAKE_OPENAI_API_KEY": OPENAI_KEY,
        "LLM_GATEWAY_FAKE_ANTHROPIC_API_KEY": ANTHROPIC_KEY,
    }
    with GatewayProcess(env) as process:
        yield process


@pytest.fixture
def slow_tool(tool_service: SlowToolService) -> SlowToolService:
    tool_service.calls.clear()
    tool_service.hangups.clear()
    return tool_service


def _hang_up_when(
    gateway: GatewayProcess, body: dict, ready: Callable[[bytes], bool]
) -> float:
    """POST ``body`` to chat completions on a raw socket; close it once ``ready(received)``
    holds. Returns the time of the close."""
    address = urlsplit(gateway.url)
    payload = json.dumps(body).encode()
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nhost: {address.netloc}\r\n"
        f"content-type: application/json\r\ncontent-length: {len(payload)}\r\n\r\n"
    ).encode()
    received = b""
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        sock.sendall(head + payload)
        sock.settimeout(0.05)
        deadline = time.monotonic() + 10
        while not ready(received):
            assert time.monotonic() < deadline, f"never ready; received {received!r}"
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                continue
            assert chunk, f"the gateway closed first: {received!r}"
            received += chunk
        closed_at = time.monotonic()
    return closed_at


def _wait_for(values: list[float], what: str) -> float:
    deadline = time.monotonic() + 5
    while not values:
        assert time.monotonic() < deadline, f"{what} was never closed"
        time.sleep(0.02)
    return values[0]


def _request_line(gateway: GatewayProcess, count_before: int) -> dict:
    deadline = time.monotonic() + 5
    while True:
        lines = [
            entry for entry in map(_json, gateway.logs().splitlines())
            if entry.get("message") == "request" and entry.get("route") == "/v1/chat/completions"
        ]  # fmt: skip
        if len(lines) > count_before:
            return lines[count_before]
        assert time.monotonic() < deadline, "the request was never logged"
        time.sleep(0.05)


def _json(line: str) -> dict:
    try:
        value = json.loads(line)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _chat_lines(gateway: GatewayProcess) -> int:
    return sum(
        1 for entry in map(_json, gateway.logs().splitlines())
        if entry.get("message") == "request" and entry.get("route") == "/v1/chat/completions"
    )  # fmt: skip


def _nothing_left_running(gateway: GatewayProcess) -> None:
    """Only the request reading the gauge is in flight."""
    deadline = time.monotonic() + 5
    while True:
        text = httpx.get(f"{gateway.url}/metrics", timeout=5).text
        [value] = [
            float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
            if line.startswith("llm_gateway_requests_in_flight")
        ]  # fmt: skip
        if value == 1.0:
            return
        assert time.monotonic() < deadline, f"{value - 1} request(s) still running"
        time.sleep(0.05)


def _chat(stream: bool, **extra: object) -> dict:
    body: dict = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], **extra}
    if stream:
        body["stream"] = True
    return body


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_a_hang_up_before_the_first_byte_cancels_the_upstream_call(
    gateway: GatewayProcess, fake_upstream: FakeUpstream, stream: bool
) -> None:
    fake_upstream.script(Turn(fault=Fault.HANG))
    before = _chat_lines(gateway)
    closed_at = _hang_up_when(gateway, _chat(stream), lambda _: bool(fake_upstream.requests))
    cancelled_at = _wait_for(fake_upstream.hangups, "the upstream call")
    assert cancelled_at - closed_at < CANCELLED_WITHIN_SECONDS
    line = _request_line(gateway, before)
    assert line["status"] == 499  # nginx's "client closed request": nothing was sent
    _nothing_left_running(gateway)


def test_a_hang_up_mid_stream_cancels_the_upstream_stream(
    gateway: GatewayProcess, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(Turn(text="one two three four", stalls_mid_stream=True))
    before = _chat_lines(gateway)
    closed_at = _hang_up_when(gateway, _chat(True), lambda received: b"data: " in received)
    cancelled_at = _wait_for(fake_upstream.hangups, "the upstream stream")
    assert cancelled_at - closed_at < CANCELLED_WITHIN_SECONDS
    line = _request_line(gateway, before)
    assert (line["status"], line["aborted"]) == (200, True)
    _nothing_left_running(gateway)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_a_hang_up_during_a_tool_call_cancels_the_tool_call_and_bills_the_model_call(
    gateway: GatewayProcess, fake_upstream: FakeUpstream, slow_tool: SlowToolService,
    stream: bool,
) -> None:  # fmt: skip
    fake_upstream.script(
        Turn(text=None, tool_calls=((TOOL, {"q": "x"}),), prompt_tokens=40, completion_tokens=6)
    )
    before = _chat_lines(gateway)
    body = _chat(stream, tools=[{"type": "function", "function": {"name": TOOL}}])
    closed_at = _hang_up_when(gateway, body, lambda _: bool(slow_tool.calls))
    cancelled_at = _wait_for(slow_tool.hangups, "the tool call")
    assert cancelled_at - closed_at < CANCELLED_WITHIN_SECONDS
    assert len(fake_upstream.requests) == 1, "no second model call after the hang-up"
    line = _request_line(gateway, before)
    assert line["aborted"] is True
    # The model call that asked for the tool was made and paid: it is billed as reported.
    assert (line["prompt_tokens"], line["completion_tokens"]) == (40, 6)
    _nothing_left_running(gateway)
