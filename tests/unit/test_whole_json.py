"""``WholeJson`` sends what Litestar's ``Response`` would, for a route with nothing of its own
to add (and is Litestar's ``Response`` when a layer adds headers, cookies or a task)."""

from __future__ import annotations

from typing import Any

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
