"""``direct_body``: a streamed response's chunks written straight to uvicorn's transport, framed
exactly as uvicorn frames them, and only while uvicorn's own ``send`` would just write; run
in process under uvicorn with the gateway's protocol, read by a real client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from gateway_http.direct_body import UVICORN_SEND, body_writer
from tests.support.guarded_server import guarded_server

seen: dict[str, Any] = {}


async def app(scope: Any, receive: Any, send: Any) -> None:
    seen["scope"] = scope
    seen["before_start"] = body_writer(scope)
    chunked = scope["path"] == "/chunked"
    headers = [] if chunked else [(b"content-length", b"9")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"first", "more_body": True})
    write = seen["writer"] = body_writer(scope)
    if write is not None:
        assert write(b"mid-1") and write(b"mid-2")
    await send({"type": "http.response.body", "body": b"last", "more_body": False})


@pytest.fixture
async def server() -> AsyncIterator[str]:
    async with guarded_server(app) as url:
        yield url


async def test_chunks_written_directly_arrive_between_the_sends_in_order(server: str) -> None:
    async with httpx.AsyncClient(base_url=server) as client:
        response = await client.get("/chunked")
    assert response.content == b"firstmid-1mid-2last"
    assert seen["before_start"] is None, "a writer before the head was out"
    assert seen["writer"] is not None
    assert UVICORN_SEND not in seen["scope"], "the scope kept uvicorn's cycle (a reference cycle)"
    assert seen["writer"](b"late") is False, "a writer wrote after the response completed"


async def test_a_response_with_a_length_gets_no_writer(server: str) -> None:
    async with httpx.AsyncClient(base_url=server) as client:
        response = await client.get("/sized")
    assert response.content == b"firstlast"
    assert seen["writer"] is None


def test_another_server_gets_no_writer() -> None:
    async def send(message: Any) -> None:
        pass

    assert body_writer({UVICORN_SEND: send}) is None
    assert body_writer({}) is None
