"""``header_values`` and ``read_body``: what Litestar's ``request.headers`` and
``request.body()`` answer, read straight from ASGI (driven here through a real Litestar app)."""

from __future__ import annotations

from typing import Any

from litestar import Litestar, Request, Response, asgi, post
from litestar.types import Receive, Scope, Send

from gateway_http.raw_request import header_values, read_body


@post("/echo", request_max_body_size=10, status_code=200)
async def _echo(request: Request[Any, Any, Any]) -> Response[bytes]:
    body = await read_body(request)
    again = await request.body()  # a later read answers the same, without waiting for more
    return Response(content=body + b"|" + again)


@post("/headers", status_code=200)
async def _headers(request: Request[Any, Any, Any]) -> dict[str, str | None]:
    ours = header_values(request.scope)
    return {name: ours.get(name) for name in ("x-tenant-id", "accept", "x-absent")}


@asgi("/raw-echo", copy_scope=False)
async def _raw_echo(scope: Scope, receive: Receive, send: Send) -> None:
    """A raw ASGI route (as the chat route is): it has no cap of its own, the app's holds."""
    request: Request[Any, Any, Any] = Request(scope, receive, send)
    response = Response(content=await read_body(request))
    await response.to_asgi_response(None, request)(scope, receive, send)


_app = Litestar(route_handlers=[_echo, _headers], logging_config=None)
_capped_app = Litestar(route_handlers=[_raw_echo], request_max_body_size=10, logging_config=None)


async def _call(
    path: str,
    headers: list[tuple[bytes, bytes]],
    messages: list[dict[str, Any]],
    app: Litestar = _app,
) -> tuple[int, bytes]:
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
        "query_string": b"", "headers": headers, "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80), "state": {},
    }  # fmt: skip
    pending = list(messages)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)  # type: ignore[arg-type]
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, body


def _part(body: bytes, more: bool) -> dict[str, Any]:
    return {"type": "http.request", "body": body, "more_body": more}


async def test_the_first_of_repeated_headers_is_kept_by_lower_case_name() -> None:
    headers = [(b"X-Tenant-ID", b"first"), (b"x-tenant-id", b"second"), (b"accept", b"caf\xe9")]
    status, body = await _call("/headers", headers, [_part(b"", False)])
    assert status == 200
    assert body == '{"x-tenant-id":"first","accept":"café","x-absent":null}'.encode()


async def test_a_body_in_several_messages_is_joined_and_kept_for_request_body() -> None:
    status, body = await _call(
        "/echo", [], [_part(b"ab", True), _part(b"", True), _part(b"c", False)]
    )
    assert (status, body) == (200, b"abc|abc")


async def test_a_body_past_the_cap_is_413_whether_announced_or_received() -> None:
    announced = [(b"content-length", b"11")]
    assert (await _call("/echo", announced, [_part(b"x" * 11, False)]))[0] == 413
    received = [_part(b"x" * 6, True), _part(b"x" * 5, False)]
    assert (await _call("/echo", [], received))[0] == 413
    assert (await _call("/echo", [], [_part(b"x" * 10, False)]))[0] == 200


async def test_a_raw_asgi_route_reads_within_the_apps_cap() -> None:
    announced = [(b"content-length", b"11")]
    assert (await _call("/raw-echo", announced, [_part(b"x" * 11, False)], _capped_app))[0] == 413
    received = [_part(b"x" * 6, True), _part(b"x" * 5, False)]
    assert (await _call("/raw-echo", [], received, _capped_app))[0] == 413
    assert await _call("/raw-echo", [], [_part(b"x" * 10, False)], _capped_app) == (200, b"x" * 10)


async def test_a_malformed_content_length_is_400() -> None:
    status, _ = await _call("/echo", [(b"content-length", b"ten")], [_part(b"x", False)])
    assert status == 400


async def test_a_client_that_leaves_mid_body_ends_the_request() -> None:
    status, _ = await _call("/echo", [], [_part(b"ab", True)])  # then http.disconnect
    assert status == 500  # Litestar's answer to request.body() there too (uvicorn drops it)
