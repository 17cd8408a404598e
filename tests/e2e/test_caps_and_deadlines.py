"""Caps and upstream deadlines over real sockets: the real gateway in front of a raw fake
OpenAI-format upstream that misbehaves as its base URL says (``/<mode>/v1``).

Modes: ``flood`` ignores ``max_tokens`` and streams (or sends a JSON body of) 50 MB;
``hang`` accepts and never answers; ``stall`` starts a stream and goes quiet; ``slow`` streams
a chunk every 0.3 s, longer in all than the first-byte deadline. Deadlines and caps are
configured small so that each test takes about a second.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.support.background_loop import BackgroundLoop
from tests.support.gateway import GatewayProcess

FIFTY_MB = 50 * 1024 * 1024
BYTE_CAP = 256 * 1024
SMALL_OUTPUT = 1000
"""``flood-small``'s max output tokens: its stream is cut near 2 x 1000 x 4 characters."""
DEADLINE = 1.0
LONG_TOKENS = 3 * SMALL_OUTPUT
"""``long``'s reported output: past ``long-small``'s cap (2 x 1000 tokens), within the default."""


def _sse(content: str) -> bytes:
    chunk = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
             "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": None}]}  # fmt: skip
    return b"data: " + json.dumps(chunk).encode() + b"\n\n"


def _chunked(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


_STREAM_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
)


class MisbehavingUpstream:
    """Counts the bytes it managed to send per mode (``sent``) and the requests it saw."""

    def __init__(self) -> None:
        self.sent: dict[str, int] = {}
        self.requests: list[dict] = []
        self._serving: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Ends the connections still hanging or stalling, then the server: left to the loop's
        close, they were closed on a closed loop (an 'Event loop is closed' warning each)."""
        for task in self._serving:
            task.cancel()
        await asyncio.gather(*self._serving, return_exceptions=True)
        self._server.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._serving.add(task)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            mode = lines[0].split(" ")[1].split("/")[1]
            length = next(int(v) for k, _, v in (line.partition(":") for line in lines[1:])
                          if k.lower() == "content-length")  # fmt: skip
            body = json.loads(await reader.readexactly(length))
            self.requests.append(body)
            await getattr(self, f"_{mode}")(mode, body, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the gateway cut us off: what these tests want
        finally:
            writer.close()
            self._serving.discard(task)

    async def _write(self, mode: str, writer: asyncio.StreamWriter, data: bytes) -> None:
        writer.write(data)
        await writer.drain()
        self.sent[mode] = self.sent.get(mode, 0) + len(data)

    async def _flood(self, mode: str, body: dict, writer: asyncio.StreamWriter) -> None:
        piece = "x" * 1000
        if body.get("stream"):
            await self._write(mode, writer, _STREAM_HEAD)
            while self.sent[mode] < FIFTY_MB:
                await self._write(mode, writer, _chunked(_sse(piece) * 16))
            return
        head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n"
        await self._write(mode, writer, head % FIFTY_MB)
        await self._write(mode, writer, b'{"id": "c", "choices": [{"message": {"content": "')
        while self.sent[mode] < FIFTY_MB:
            await self._write(mode, writer, b"x" * 65536)

    async def _long(self, mode: str, body: dict, writer: asyncio.StreamWriter) -> None:
        """A JSON answer small in bytes that ignored ``max_tokens``, and says so in its usage."""
        answer = {"id": "c", "object": "chat.completion", "created": 1, "model": "m",
                  "choices": [{"index": 0, "finish_reason": "stop",
                               "message": {"role": "assistant", "content": "y" * 12_000}}],
                  "usage": {"prompt_tokens": 5, "completion_tokens": LONG_TOKENS,
                            "total_tokens": 5 + LONG_TOKENS}}  # fmt: skip
        data = json.dumps(answer).encode()
        head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n"
        await self._write(mode, writer, head % len(data) + data)

    async def _hang(self, mode: str, body: dict, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(60)

    async def _stall(self, mode: str, body: dict, writer: asyncio.StreamWriter) -> None:
        await self._write(mode, writer, _STREAM_HEAD + _chunked(_sse("started")))
        await asyncio.sleep(60)

    async def _slow(self, mode: str, body: dict, writer: asyncio.StreamWriter) -> None:
        await self._write(mode, writer, _STREAM_HEAD)
        for index in range(8):  # 2.4 s in all: past the 1 s first-byte and idle deadlines
            await self._write(mode, writer, _chunked(_sse(f"w{index} ")))
            await asyncio.sleep(0.3)
        done = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
                "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}  # fmt: skip
        await self._write(mode, writer, _chunked(b"data: " + json.dumps(done).encode() + b"\n\n"))
        await self._write(mode, writer, _chunked(b"data: [DONE]\n\n") + b"0\r\n\r\n")


@pytest.fixture(scope="module")
def upstream() -> Iterator[tuple[MisbehavingUpstream, int]]:
    loop = BackgroundLoop()
    server = MisbehavingUpstream()
    try:
        yield server, loop.run(server.start())
    finally:
        loop.run(server.stop())
        loop.close()


@pytest.fixture(scope="module")
def gateway(
    upstream: tuple[MisbehavingUpstream, int], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    _, port = upstream
    folder = Path(tmp_path_factory.mktemp("caps"))
    deadlines = {"connect_timeout_seconds": DEADLINE, "first_byte_timeout_seconds": DEADLINE,
                 "idle_timeout_seconds": DEADLINE, "total_timeout_seconds": 10}  # fmt: skip
    providers = {
        mode: {"type": "openai", "base_url": f"http://127.0.0.1:{port}/{mode}/v1", **deadlines}
        for mode in ("flood", "hang", "stall", "slow", "long")
    }
    models = {name: {"provider": name} for name in providers}
    models["flood-small"] = {"provider": "flood"}
    models["long-small"] = {"provider": "long"}
    models["gpt-capped"] = {"provider": "slow"}
    (folder / "providers.json").write_text(json.dumps({"providers": providers, "models": models}))
    catalogue = {
        "default": {"context_window": 131072, "max_output_tokens": 65536},
        "models": {"flood-small": {"context_window": 8192, "max_output_tokens": SMALL_OUTPUT},
                   "long-small": {"context_window": 8192, "max_output_tokens": SMALL_OUTPUT},
                   "gpt-capped": {"context_window": 128000, "max_output_tokens": 16384}},
    }  # fmt: skip
    (folder / "models.json").write_text(json.dumps(catalogue))
    env = {
        "LLM_GATEWAY_PROVIDERS_CONFIG": str(folder / "providers.json"),
        "LLM_GATEWAY_MODELS_CONFIG": str(folder / "models.json"),
        "LLM_GATEWAY_MAX_RESPONSE_BYTES": str(BYTE_CAP),
        "LLM_GATEWAY_MAX_MESSAGES": "50",
        "LLM_GATEWAY_MAX_TOOLS": "5",
        "LLM_GATEWAY_MAX_MODEL_NAME_CHARS": "64",
        "LLM_GATEWAY_CACHE_ENABLED": "false",
    }
    with GatewayProcess(env) as process:
        yield process


@pytest.fixture
def http(gateway: GatewayProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url, timeout=30) as client:
        yield client


def _client(gateway: GatewayProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="k", max_retries=0, timeout=30)


HELLO = [{"role": "user", "content": "hello"}]


def _completion_tokens(http: httpx.Client, model: str) -> int:
    """All models': a stream is billed under the model its chunks name (the fake's "m")."""
    return http.get("/v1/usage").json()["totals"]["completion_tokens"]


def _eventually_billed(http: httpx.Client, model: str, before: int) -> int:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        now = _completion_tokens(http, model)
        if now > before:
            return now - before
        time.sleep(0.1)
    raise AssertionError(f"no usage recorded for {model}")


# -- request caps, on every route ------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "param", "code"),
    [
        ("/v1/chat/completions", {"model": "gpt-capped", "messages": HELLO, "max_tokens": 10**15},
         "max_tokens", "max_tokens_exceeded"),
        ("/v1/chat/completions", {"model": "gpt-capped", "messages": HELLO,
                                  "max_completion_tokens": 16385},
         "max_completion_tokens", "max_tokens_exceeded"),
        ("/v1/chat/completions", {"model": "slow", "messages": HELLO * 51},
         "messages", "too_many_messages"),
        ("/v1/chat/completions", {"model": "slow", "messages": HELLO, "tools": [
            {"type": "function", "function": {"name": f"f{i}", "parameters": {}}}
            for i in range(6)]}, "tools", "too_many_tools"),
        ("/v1/chat/completions", {"model": "m" * 10_000, "messages": HELLO},
         "model", "model_name_too_long"),
        ("/v1/responses", {"model": "gpt-capped", "input": "hi", "max_output_tokens": 10**15},
         "max_output_tokens", "max_tokens_exceeded"),
        ("/v1/responses", {"model": "slow", "input": [
            {"role": "user", "content": "hi"}] * 51}, "input", "too_many_messages"),
        ("/v1/responses", {"model": "m" * 10_000, "input": "hi"}, "model", "model_name_too_long"),
        ("/v1/embeddings", {"model": "slow", "input": ["a"] * 51}, "input", "too_many_messages"),
        ("/v1/embeddings", {"model": "m" * 10_000, "input": "a"}, "model", "model_name_too_long"),
    ],
    ids=lambda value: value if isinstance(value, str) and len(value) < 40 else None,
)  # fmt: skip
def test_a_request_over_a_cap_is_a_400_naming_its_parameter(
    http: httpx.Client, upstream: tuple[MisbehavingUpstream, int],
    path: str, body: dict, param: str, code: str,
) -> None:  # fmt: skip
    server, _ = upstream
    seen = len(server.requests)
    response = http.post(path, json=body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["type"], error["code"], error["param"]) == ("invalid_request_error", code, param)
    assert "m" * 100 not in response.text, "an over-long name is never echoed"
    assert len(server.requests) == seen, "nothing over a cap reaches the upstream"


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        ({"max_tokens": 10**15}, "max_tokens", "max_tokens_exceeded"),
        ({"max_tokens": 10, "messages": HELLO * 51}, "messages", "too_many_messages"),
        ({"max_tokens": 10, "model": "m" * 10_000}, "model", "model_name_too_long"),
    ],
)
def test_the_messages_door_refuses_over_a_cap_in_anthropic_shape(
    http: httpx.Client, body: dict, param: str, code: str
) -> None:
    request = {"model": "gpt-capped", "messages": HELLO, **body}
    response = http.post("/v1/messages", json=request)
    assert response.status_code == 400, response.text
    assert response.json()["type"] == "error"
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert param in response.json()["error"]["message"]


def test_a_limit_within_the_models_max_output_is_served(http: httpx.Client) -> None:
    response = http.post("/v1/chat/completions",
                         json={"model": "slow", "messages": HELLO, "max_tokens": 65536, "stream": True})  # fmt: skip
    assert response.status_code == 200
    assert "data: [DONE]" in response.text or "w7" in response.text


# -- output caps -----------------------------------------------------------------------------


def test_a_stream_past_the_models_output_cap_is_cut_with_an_error_event_and_billed(
    gateway: GatewayProcess, http: httpx.Client, upstream: tuple[MisbehavingUpstream, int]
) -> None:
    server, _ = upstream
    before = _completion_tokens(http, "flood-small")
    started = time.monotonic()
    with pytest.raises(openai.APIError) as caught:
        for _ in _client(gateway).chat.completions.create(
            model="flood-small", messages=HELLO, stream=True
        ):
            pass
    assert time.monotonic() - started < 5
    assert "upstream kept generating" in str(caught.value)
    billed = _eventually_billed(http, "flood-small", before)
    cap_tokens = 2 * SMALL_OUTPUT
    assert cap_tokens <= billed <= cap_tokens + 16 * 1000 // 4 + 1
    assert server.sent["flood"] < FIFTY_MB // 4, "the upstream was not read to its end"


def test_a_stream_past_the_byte_cap_is_cut_with_an_error_event_and_billed(
    http: httpx.Client, upstream: tuple[MisbehavingUpstream, int]
) -> None:
    before = _completion_tokens(http, "flood")
    body = {"model": "flood", "messages": HELLO, "stream": True}
    with http.stream("POST", "/v1/chat/completions", json=body) as response:
        assert response.status_code == 200
        received = b"".join(response.iter_bytes())
    last = received.strip().split(b"\n\n")[-1]
    assert last.startswith(b"data: ")
    error = json.loads(last.removeprefix(b"data: "))["error"]
    assert error["code"] == "upstream_response_too_large"
    assert len(received) < 4 * BYTE_CAP
    assert _eventually_billed(http, "flood", before) > 0


def test_a_json_answer_past_the_byte_cap_is_a_502_and_billed(
    http: httpx.Client, upstream: tuple[MisbehavingUpstream, int]
) -> None:
    before = _completion_tokens(http, "flood")
    started = time.monotonic()
    response = http.post("/v1/chat/completions", json={"model": "flood", "messages": HELLO})
    assert time.monotonic() - started < 5
    assert response.status_code == 502, response.text
    assert response.json()["error"]["code"] == "upstream_response_too_large"
    assert _eventually_billed(http, "flood", before) >= BYTE_CAP // 4


def test_a_json_answer_past_the_models_output_cap_is_a_502_and_billed_as_reported(
    gateway: GatewayProcess, http: httpx.Client
) -> None:
    # The same answer within a model's cap is served: the cap, not the answer, refuses it.
    served = _client(gateway).chat.completions.create(model="long", messages=HELLO)
    assert served.usage is not None and served.usage.completion_tokens == LONG_TOKENS
    before = _completion_tokens(http, "long-small")
    with pytest.raises(openai.APIStatusError) as caught:
        _client(gateway).chat.completions.create(
            model="long-small", messages=HELLO, max_tokens=100
        )
    assert caught.value.status_code == 502
    assert caught.value.body["code"] == "upstream_response_too_large"  # type: ignore[index]
    assert "upstream kept generating" in caught.value.message
    assert _eventually_billed(http, "long-small", before) == LONG_TOKENS


# -- deadlines -------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_an_upstream_that_accepts_and_never_answers_is_a_504_within_the_deadline(
    http: httpx.Client, stream: bool
) -> None:
    started = time.monotonic()
    response = http.post(
        "/v1/chat/completions", json={"model": "hang", "messages": HELLO, "stream": stream}
    )
    elapsed = time.monotonic() - started
    assert response.status_code == 504, response.text
    assert response.json()["error"]["code"] == "upstream_timeout"
    # JSON: the total (10 s) is its only bound... unless the retry policy tries again; a
    # stream: the first-byte deadline (1 s), per attempt.
    assert elapsed < (25 if not stream else 5)


def test_a_stream_that_stalls_ends_with_an_error_event_after_the_idle_deadline(
    http: httpx.Client,
) -> None:
    body = {"model": "stall", "messages": HELLO, "stream": True}
    started = time.monotonic()
    with http.stream("POST", "/v1/chat/completions", json=body) as response:
        assert response.status_code == 200
        received = b"".join(response.iter_bytes())
    elapsed = time.monotonic() - started
    assert DEADLINE * 0.9 <= elapsed < DEADLINE + 3
    assert b"started" in received
    error = json.loads(received.strip().split(b"\n\n")[-1].removeprefix(b"data: "))["error"]
    assert error["code"] == "upstream_timeout"


def test_a_slow_steady_stream_outlives_the_first_byte_and_idle_deadlines(
    gateway: GatewayProcess,
) -> None:
    started = time.monotonic()
    text = "".join(
        chunk.choices[0].delta.content or ""
        for chunk in _client(gateway).chat.completions.create(
            model="slow", messages=HELLO, stream=True
        )
        if chunk.choices
    )
    assert time.monotonic() - started > 2 * DEADLINE
    assert text == "".join(f"w{index} " for index in range(8))
