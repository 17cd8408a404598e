"""The caps on natively forwarded answers, over real sockets: the real gateway in front of the
fake upstream's Anthropic Messages and OpenAI Responses dialects, answering as an upstream
that ignores ``max_tokens`` would (``Turn(floods=True)``: text deltas until the gateway hangs
up), driven by the vendors' own SDKs.

A stream past the model's output cap, or past the byte cap, ends with the door's own error
event, its upstream connection closed; a JSON answer past either is the door's 502. Either
way the call is accounted once, for what was generated.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import anthropic
import httpx
import openai
import pytest

from tests.e2e.conftest import (
    ANTHROPIC_KEY,
    NATIVE_RESPONSES_MODEL,
    OPENAI_KEY,
    VENDOR_MODELS,
    providers_config,
)
from tests.support.fake_upstream import FakeUpstream, Turn
from tests.support.fake_upstream.server import FLOOD_CHARS, FLOOD_PIECE
from tests.support.gateway import GatewayProcess

SMALL_OUTPUT = 1000
"""The capped models' max output tokens: cut past 2 (the margin) x 1000 x 4 characters."""
CAP_CHARS = 2 * SMALL_OUTPUT * 4
CUT_TOKENS = (CAP_CHARS + len(FLOOD_PIECE)) // 4
"""A flood is cut by the delta that passes the cap: billed at about 4 characters a token."""
BYTE_CAP = 256 * 1024
CLAUDE = VENDOR_MODELS["anthropic"]
HELLO = [{"role": "user", "content": "hello"}]


@pytest.fixture(scope="module")
def gateway(
    fake_upstream_server: FakeUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    folder = Path(tmp_path_factory.mktemp("native-caps"))
    providers = providers_config(fake_upstream_server.url)
    providers["models"]["claude-capped"] = {"provider": "fake-anthropic", "model": CLAUDE}
    providers["models"]["gpt-5-capped"] = {"provider": "fake-openai-responses", "model": "gpt-5"}
    (folder / "providers.json").write_text(json.dumps(providers))
    small = {"context_window": 8192, "max_output_tokens": SMALL_OUTPUT}
    catalogue = {
        # The others' output cap (2 x 65536 x 4 characters) is past the byte cap.
        "default": {"context_window": 131072, "max_output_tokens": 65536},
        "models": {"claude-capped": small, "gpt-5-capped": small},
    }
    (folder / "models.json").write_text(json.dumps(catalogue))
    env = {
        "LLM_GATEWAY_PROVIDERS_CONFIG": str(folder / "providers.json"),
        "LLM_GATEWAY_MODELS_CONFIG": str(folder / "models.json"),
        "LLM_GATEWAY_MAX_RESPONSE_BYTES": str(BYTE_CAP),
        "LLM_GATEWAY_FAKE_OPENAI_API_KEY": OPENAI_KEY,
        "LLM_GATEWAY_FAKE_ANTHROPIC_API_KEY": ANTHROPIC_KEY,
        "LLM_GATEWAY_FAKE_OPENAI_RESPONSES_API_KEY": OPENAI_KEY,
        "LLM_GATEWAY_CACHE_ENABLED": "false",
    }
    with GatewayProcess(env) as process:
        yield process


@pytest.fixture
def claude(gateway: GatewayProcess, fake_upstream: FakeUpstream) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway.url, api_key="k", max_retries=0, timeout=30)


@pytest.fixture
def gpt(gateway: GatewayProcess, fake_upstream: FakeUpstream) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="k", max_retries=0, timeout=30)


def _totals(gateway: GatewayProcess) -> dict:
    return httpx.get(f"{gateway.url}/v1/usage").json()["totals"]


def _accounted_once(gateway: GatewayProcess, before: dict, route: str) -> tuple[dict, dict]:
    """The usage recorded since ``before`` (one request's, or the test fails) and the
    request's log line (the last one for ``route``; it is written once the turn settled)."""
    deadline = time.monotonic() + 10
    while True:
        totals = _totals(gateway)
        lines = [line for line in gateway.request_lines() if line["route"] == route]
        if totals["requests"] > before["requests"] and len(lines) > before["lines"][route]:
            break
        assert time.monotonic() < deadline, "no usage recorded, or no request line written"
        time.sleep(0.1)
    time.sleep(0.3)  # a second record (a bug) would have arrived by now as well
    totals = _totals(gateway)
    assert totals["requests"] - before["requests"] == 1, "the call was accounted exactly once"
    lines = [line for line in gateway.request_lines() if line["route"] == route]
    assert len(lines) == before["lines"][route] + 1
    spent = {name: totals[name] - before[name] for name in ("prompt_tokens", "completion_tokens")}
    return spent, lines[-1]


def _before(gateway: GatewayProcess) -> dict:
    lines = gateway.request_lines()
    counts = {route: sum(line["route"] == route for line in lines)
              for route in ("/v1/messages", "/v1/responses")}  # fmt: skip
    return {**_totals(gateway), "lines": counts}


def _assert_cut(line: dict, fake_upstream: FakeUpstream) -> None:
    assert line["error_code"] == "upstream_response_too_large", line
    assert line["aborted"] is True, line
    assert line["status"] == 200, line
    assert fake_upstream.hung_up(), "the gateway closed the upstream's connection"


# -- streams ---------------------------------------------------------------------------------


def test_a_messages_stream_past_the_output_cap_ends_with_an_error_event_and_is_billed_once(
    gateway: GatewayProcess, claude: anthropic.Anthropic, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(Turn(text="flood", floods=True, prompt_tokens=11))
    before = _before(gateway)
    seen: list[str] = []
    with (
        pytest.raises(anthropic.APIStatusError) as caught,
        claude.messages.stream(model="claude-capped", max_tokens=100, messages=HELLO) as stream,
    ):
        for event in stream:
            seen.append(event.type)
    assert fake_upstream.requests[-1].path == "/v1/messages", "forwarded natively"
    assert caught.value.body["error"]["type"] == "api_error"  # type: ignore[index]
    assert "upstream kept generating" in caught.value.message
    assert "text" in seen, "the vendor's text was relayed up to the cap"
    spent, line = _accounted_once(gateway, before, "/v1/messages")
    _assert_cut(line, fake_upstream)
    # What message_start reported for the prompt; the output counted from the text relayed
    # (Anthropic reports it only in its last message_delta).
    assert spent == {"prompt_tokens": 11, "completion_tokens": CUT_TOKENS}
    assert line["provider"] == "fake-anthropic"


def test_a_responses_stream_past_the_output_cap_ends_with_response_failed_and_is_billed_once(
    gateway: GatewayProcess, gpt: openai.OpenAI, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(Turn(text="flood", floods=True))
    before = _before(gateway)
    events = list(gpt.responses.create(model="gpt-5-capped", input="hello", stream=True))
    assert fake_upstream.requests[-1].path == "/v1/responses", "forwarded natively"
    kinds = [event.type for event in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-2:] == ["error", "response.failed"], kinds[-5:]
    error, failed = events[-2], events[-1]
    assert error.code == "upstream_response_too_large"  # type: ignore[union-attr]
    assert failed.response.status == "failed"  # type: ignore[union-attr]
    assert failed.response.id == events[0].response.id, "the vendor's own response, failed"  # type: ignore[union-attr]
    assert [event.sequence_number for event in events] == list(range(len(events)))
    relayed = sum(len(e.delta) for e in events if e.type == "response.output_text.delta")  # type: ignore[union-attr]
    assert CAP_CHARS - len(FLOOD_PIECE) < relayed <= CAP_CHARS, "cut at the cap, cleanly"
    spent, line = _accounted_once(gateway, before, "/v1/responses")
    _assert_cut(line, fake_upstream)
    # OpenAI reports usage only in its last event: the output is counted from the deltas,
    # the prompt estimated from the request.
    assert spent["completion_tokens"] == CUT_TOKENS
    assert spent["prompt_tokens"] > 0


def test_a_native_stream_past_the_byte_cap_ends_with_an_error_event_and_is_billed(
    gateway: GatewayProcess, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(Turn(text="flood", floods=True))
    before = _before(gateway)
    body = {"model": CLAUDE, "max_tokens": 100, "messages": HELLO, "stream": True}
    headers = {"anthropic-version": "2023-06-01"}
    with httpx.stream("POST", f"{gateway.url}/v1/messages", json=body, headers=headers,
                      timeout=30) as response:  # fmt: skip
        assert response.status_code == 200
        assert response.headers["x-gateway-route"] == "native"
        received = b"".join(response.iter_bytes())
    assert len(received) < 2 * BYTE_CAP, "nothing past the byte cap was relayed"
    last = received.strip().split(b"\n\n")[-1]
    assert last.startswith(b"event: error\n")
    error = json.loads(last.split(b"data: ", 1)[1])["error"]
    assert error["type"] == "api_error" and "larger than the cap" in error["message"]
    spent, line = _accounted_once(gateway, before, "/v1/messages")
    _assert_cut(line, fake_upstream)
    assert len(received) // 4 // 2 < spent["completion_tokens"] < FLOOD_CHARS // 4 // 8


# -- JSON answers ----------------------------------------------------------------------------


def test_a_messages_answer_past_the_output_cap_is_a_502_and_billed_once(
    gateway: GatewayProcess, claude: anthropic.Anthropic, fake_upstream: FakeUpstream
) -> None:
    # The upstream ignored max_tokens, and says so in its usage.
    fake_upstream.script(Turn(text="long", prompt_tokens=11, completion_tokens=3 * SMALL_OUTPUT))
    before = _before(gateway)
    with pytest.raises(anthropic.InternalServerError) as caught:
        claude.messages.create(model="claude-capped", max_tokens=100, messages=HELLO)
    assert caught.value.status_code == 502
    assert caught.value.body["error"]["type"] == "api_error"  # type: ignore[index]
    assert "upstream kept generating" in caught.value.message
    spent, line = _accounted_once(gateway, before, "/v1/messages")
    assert line["error_code"] == "upstream_response_too_large" and line["status"] == 502
    assert spent == {"prompt_tokens": 11, "completion_tokens": 3 * SMALL_OUTPUT}


def test_a_responses_answer_past_the_byte_cap_is_a_502_and_billed_once(
    gateway: GatewayProcess, gpt: openai.OpenAI, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(Turn(text="x" * (2 * BYTE_CAP)))
    before = _before(gateway)
    with pytest.raises(openai.APIStatusError) as caught:
        gpt.responses.create(model=NATIVE_RESPONSES_MODEL, input="hello")
    assert caught.value.status_code == 502
    assert caught.value.body["code"] == "upstream_response_too_large"  # type: ignore[index]
    spent, line = _accounted_once(gateway, before, "/v1/responses")
    assert line["error_code"] == "upstream_response_too_large" and line["status"] == 502
    # Billed as the chat turn bills an answer cut there: the bytes read, as text.
    assert BYTE_CAP // 4 <= spent["completion_tokens"] <= (2 * BYTE_CAP + 4096) // 4


def test_an_answer_within_the_caps_is_relayed_whole(
    gateway: GatewayProcess, claude: anthropic.Anthropic, gpt: openai.OpenAI,
    fake_upstream: FakeUpstream,
) -> None:  # fmt: skip
    text = "y" * (CAP_CHARS - 100)
    fake_upstream.script(Turn(text=text, completion_tokens=SMALL_OUTPUT),
                         Turn(text=text, completion_tokens=SMALL_OUTPUT))  # fmt: skip
    with claude.messages.stream(model="claude-capped", max_tokens=100, messages=HELLO) as stream:
        assert stream.get_final_message().content[0].text == text  # type: ignore[union-attr]
    with gpt.responses.stream(model="gpt-5-capped", input="hello") as streamed:
        assert streamed.get_final_response().output_text == text
