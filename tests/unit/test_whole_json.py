"""``WholeJson`` sends what Litestar's ``Response`` would, for a route with nothing of its own
to add (and is Litestar's ``Response`` when a layer adds headers, cookies or a task)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from litestar import Litestar, Response, post
from litestar.testing import TestClient

from gateway_http.whole_json import WholeJson

_BODY = b'{"answer": "caf\xc3\xa9"}'
_HEADERS = {"X-RateLimit-Remaining-Requests": "9", "x-gateway-cost-usd": "0.000012"}


@post("/litestar", status_code=200)
async def _litestar() -> Response[bytes]:
    return Response(content=_BODY, media_type="application/json", headers=dict(_HEADERS))


@post("/whole", status_code=200)
async def _whole() -> Response[bytes]:
    return WholeJson(_BODY, dict(_HEADERS))


@post("/whole-with-layer-header", status_code=200, response_headers={"x-layer": "kept"})
async def _layered() -> Response[bytes]:
    return WholeJson(_BODY, dict(_HEADERS), status_code=201)


def _sent(path: str) -> tuple[int, list[tuple[str, str]], bytes]:
    app = Litestar(route_handlers=[_litestar, _whole, _layered], logging_config=None)
    with TestClient(app) as client:
        answer = client.post(path)
    headers: Any = answer.headers.multi_items()
    return answer.status_code, sorted(headers), answer.content


def test_a_whole_answer_is_sent_as_litestars_response_sends_it() -> None:
    assert _sent("/whole") == _sent("/litestar")
    status, headers, body = _sent("/whole")
    assert (status, body) == (200, _BODY)
    assert ("content-type", "application/json") in headers
    assert ("content-length", str(len(_BODY))) in headers
    assert ("x-ratelimit-remaining-requests", "9") in headers


def test_a_layers_response_headers_are_kept() -> None:
    status, headers, body = _sent("/whole-with-layer-header")
    assert (status, body) == (201, _BODY)
    assert ("x-layer", "kept") in headers
    assert ("x-gateway-cost-usd", "0.000012") in headers


_EVENTS: list[str] = []


async def _book() -> None:
    _EVENTS.append("after")


@post("/whole-then-book", status_code=200)
async def _then_book() -> Response[bytes]:
    return WholeJson(_BODY, dict(_HEADERS), after=_book)


@post("/layered-then-book", status_code=200, response_headers={"x-layer": "kept"})
async def _layered_then_book() -> Response[bytes]:
    return WholeJson(_BODY, dict(_HEADERS), after=_book)


def _sent_and_booked(path: str) -> list[str]:
    """What reached the ASGI server and when ``after`` ran, in order."""
    _EVENTS.clear()
    app = Litestar(route_handlers=[_then_book, _layered_then_book], logging_config=None)

    async def send(message: Any) -> None:
        _EVENTS.append(message["type"])

    async def receive() -> Any:
        return {"type": "http.request", "body": b"", "more_body": False}

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
        "query_string": b"", "headers": [], "client": ("127.0.0.1", 1), "server": None,
        "state": {},
    }  # fmt: skip
    asyncio.run(app(scope, receive, send))  # type: ignore[arg-type]
    return list(_EVENTS)


def test_after_runs_once_the_answer_is_written() -> None:
    written = ["http.response.start", "http.response.body", "after"]
    assert _sent_and_booked("/whole-then-book") == written
    assert _sent_and_booked("/layered-then-book") == written  # Litestar's own response


def test_after_runs_when_the_write_fails() -> None:
    async def broken_send(message: Any) -> None:
        raise OSError("the client is gone")

    answer = WholeJson(_BODY, dict(_HEADERS), after=_book)
    send_answer = answer.to_asgi_response(None, None)  # type: ignore[arg-type]
    _EVENTS.clear()
    with pytest.raises(OSError, match="gone"):
        asyncio.run(send_answer({"type": "http"}, None, broken_send))  # type: ignore[arg-type]
    assert _EVENTS == ["after"]
