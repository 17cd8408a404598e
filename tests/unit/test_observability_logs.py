"""The request log line: its fields, prompts only on demand, secrets scrubbed, JSON lines out."""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Iterator

import pytest

from gateway_core.domain.money import Money
from gateway_http.observability.logs import (
    FIELDS_ATTRIBUTE,
    REQUEST_LOGGER,
    JsonLinesHandler,
    logging_config,
    redact,
)
from gateway_http.observability.middleware import request_fields
from gateway_http.observability.outcome import RequestOutcome
from gateway_http.request_record import RequestRecord

CANARY_KEY = "sk-gw-Zx81canaryCANARYcanary00000000000000000"

SERVED = RequestOutcome("POST", "/v1/chat/completions", 200, latency_seconds=0.25, aborted=False)


def _record(**changes: object) -> RequestRecord:
    record = RequestRecord(
        route="/v1/chat/completions", key_id="team-a", model="gpt-4o", provider="openai",
        stream=True, prompt_tokens=12, completion_tokens=30, cached_tokens=4, cost_usd=Money.usd("0.0021"),
        cache="MISS", tool_rounds=2, upstream_seconds=0.2, upstream_attempts=3,
        upstream_retries=1, prompt=[{"role": "user"}],
        completion="the answer",
    )  # fmt: skip
    for name, value in changes.items():
        setattr(record, name, value)
    return record


def test_a_request_line_has_every_field() -> None:
    fields = request_fields("req-1", SERVED, _record(), log_prompts=False)
    assert fields == {
        "message": "request", "request_id": "req-1", "method": "POST",
        "route": "/v1/chat/completions", "status": 200, "latency_ms": 250.0, "upstream_ms": 200.0,
        "gateway_overhead_ms": 50.0, "key_id": "team-a", "model": "gpt-4o", "provider": "openai",
        "stream": True, "prompt_tokens": 12, "completion_tokens": 30, "cached_tokens": 4,
        "cost_usd": 0.0021, "cache": "MISS", "tool_rounds": 2, "error_code": None,
        "rate_limited": False, "aborted": False, "upstream_attempts": 3, "upstream_retries": 1,
    }  # fmt: skip


def test_prompts_and_completions_only_when_switched_on() -> None:
    assert "prompt" not in request_fields("r", SERVED, _record(), log_prompts=False)
    assert "completion" not in request_fields("r", SERVED, _record(), log_prompts=False)
    fields = request_fields("r", SERVED, _record(), log_prompts=True)
    assert fields["prompt"] == [{"role": "user"}]
    assert fields["completion"] == "the answer"


def test_without_upstream_time_there_is_no_overhead_figure() -> None:
    fields = request_fields("r", SERVED, _record(upstream_seconds=None), log_prompts=False)
    assert fields["upstream_ms"] is None
    assert fields["gateway_overhead_ms"] is None


def test_unmatched_routes_log_their_path_and_aborts_from_either_side_count() -> None:
    outcome = RequestOutcome("GET", "unmatched", 404, 0.001, aborted=False, path="/nope")
    assert request_fields("r", outcome, RequestRecord(), log_prompts=False)["path"] == "/nope"
    assert "path" not in request_fields("r", SERVED, _record(), log_prompts=False)
    aborted_by_route = request_fields("r", SERVED, _record(aborted=True), log_prompts=False)
    assert aborted_by_route["aborted"] is True


def test_tool_runs_are_logged_when_there_were_some() -> None:
    run = {"name": "search", "success": True, "duration_ms": 3.0, "round": 1}
    fields = request_fields("r", SERVED, _record(tool_runs=[run]), log_prompts=False)
    assert fields["tool_runs"] == [run]


@pytest.mark.parametrize(
    "line",
    [
        '{"headers": {"authorization": "Bearer %s"}}',
        '{"headers": {"Authorization": "Token %s"}}',
        '{"x-api-key": "%s"}',
        '{"cookie": "session=%s; theme=dark"}',
        "{\"message\": \"headers [(b'x-api-key', b'%s')]\"}",
        '{"message": "sent Authorization: Basic %s"}',
    ],
)
def test_redaction_removes_header_values(line: str) -> None:
    secret = "opaque-Secret-value-123"
    scrubbed = redact((line % secret).encode())
    assert secret.encode() not in scrubbed
    assert b"[redacted]" in scrubbed
    json.loads(scrubbed)


@pytest.mark.parametrize(
    "text", ["the client used %s for this", "key=%s", "x_%s", "(%s)", "sk-ant-api03-%s"]
)
def test_redaction_removes_key_shaped_strings_anywhere(text: str) -> None:
    scrubbed = redact(json.dumps({"message": text % CANARY_KEY}).encode())
    assert CANARY_KEY[3:].encode() not in scrubbed
    json.loads(scrubbed)


@pytest.mark.parametrize(
    "secret",
    [
        "AKIAIOSFODNN7EXAMPLE",  # an AWS access key id (AWS's documentation example)
        "ASIAY34FZKBOKMUTVV7A",
        "AIzaSyA-1234567890abcdefghijklmnopqrstu",  # a Google API key's shape
        "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJnYXRld2F5In0.c2lnbmF0dXJlLXZhbHVl",  # a JWT
    ],
)
def test_redaction_removes_cloud_credentials(secret: str) -> None:
    scrubbed = redact(json.dumps({"message": f"refresh failed for {secret} (403)"}).encode())
    assert secret.encode() not in scrubbed and b"[redacted]" in scrubbed
    json.loads(scrubbed)


def test_redaction_leaves_ordinary_lines_alone() -> None:
    line = b'{"message": "request", "route": "/v1/chat/completions", "key_id": "team-a"}'
    assert redact(line) == line


@pytest.fixture
def lines() -> Iterator[tuple[logging.Logger, JsonLinesHandler, io.StringIO]]:
    stream = io.StringIO()
    handler = JsonLinesHandler(stream)
    logger = logging.getLogger("tests.observability.logs")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, handler, stream
    logger.removeHandler(handler)
    handler.close()


def _written(handler: JsonLinesHandler, stream: io.StringIO) -> list[dict]:
    handler.flush()
    text = stream.getvalue()
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def test_the_handler_writes_one_json_object_per_line(lines) -> None:
    logger, handler, stream = lines
    logger.warning("upstream %s answered %d", "openai", 503)
    logger.info("request", extra={FIELDS_ATTRIBUTE: {"message": "request", "status": 200}})
    first, second = _written(handler, stream)
    assert first["message"] == "upstream openai answered 503"
    assert first["level"] == "warning"
    assert first["logger"] == "tests.observability.logs"
    assert first["ts"].endswith("Z") and first["pid"] == os.getpid()
    assert second["status"] == 200 and second["message"] == "request"
    assert second["pid"] == os.getpid()


def test_records_need_not_look_up_their_thread_or_process(lines) -> None:
    # The lines carry neither; the writer names the pid. A record that looked them up cost a
    # getpid system call and two lookups on every request's line.
    logger, handler, stream = lines
    assert not (logging.logThreads or logging.logProcesses or logging.logMultiprocessing)
    logger.info("request", extra={FIELDS_ATTRIBUTE: {"message": "request"}})
    (line,) = _written(handler, stream)
    assert line["pid"] == os.getpid() and "thread" not in line


def test_the_handler_keeps_tracebacks_and_scrubs_keys(lines) -> None:
    logger, handler, stream = lines
    try:
        raise ValueError(f"bad key {CANARY_KEY}")
    except ValueError:
        logger.exception("failed for Authorization: Bearer %s", CANARY_KEY)
    (line,) = _written(handler, stream)
    assert "ValueError" in line["exception"]
    assert CANARY_KEY not in stream.getvalue()


def test_unencodable_fields_still_give_a_line(lines) -> None:
    logger, handler, stream = lines
    logger.info("request", extra={FIELDS_ATTRIBUTE: {"message": "request", "odd": object()}})
    (line,) = _written(handler, stream)
    assert line["odd"].startswith("<object object")


@pytest.fixture
def restored_logging() -> Iterator[None]:
    uvicorn = ("uvicorn", "uvicorn.error", "uvicorn.asgi", "uvicorn.access")
    names = ("", *uvicorn, "litestar", REQUEST_LOGGER)
    saved = {
        name: (logger.handlers[:], logger.level, logger.propagate)
        for name in names
        for logger in [logging.getLogger(name)]
    }
    yield
    for name, (handlers, level, propagate) in saved.items():
        logger = logging.getLogger(name)
        for handler in logger.handlers:
            if handler not in handlers:
                handler.close()
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate


def test_the_logging_config_sends_uvicorn_and_request_lines_through_json(
    restored_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    logging.config.dictConfig(logging_config("warning"))
    logging.getLogger("uvicorn.error").warning("Started server process")
    logging.getLogger("gateway_http.chat").info("below the level")
    logging.getLogger(REQUEST_LOGGER).info("request", extra={FIELDS_ATTRIBUTE: {"status": 404}})
    logging.getLogger("uvicorn.access").warning("access lines are off")
    (handler,) = logging.getLogger().handlers
    handler.flush()
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line.get("message", line.get("status")) for line in lines] == [
        "Started server process",
        404,
    ]
