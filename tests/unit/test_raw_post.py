"""``raw_post``: a front door's ``POST`` route as raw ASGI, answering what Litestar's router
and handler machinery answered (driven here through a real Litestar app)."""

from __future__ import annotations

import json
from typing import Any

from litestar import Litestar, MediaType, Request, Response
from litestar.di import Provide
from litestar.exceptions import HTTPException
from litestar.testing import TestClient

from gateway_http.app import ROUTES, create_app, served_methods
from gateway_http.raw_request import read_body
from gateway_http.routes.chat import chat_completions
from gateway_http.routes.embeddings import create_embeddings
from gateway_http.routes.messages import count_tokens, create_message
from gateway_http.routes.raw_post import raw_post
from gateway_http.routes.responses import create_response
from gateway_http.routes.sessions import create_session
from gateway_http.routes.tools import execute_tool_route

RAW_DOORS = (
    chat_completions, create_embeddings, create_response, create_message, count_tokens,
    create_session, execute_tool_route,
)  # fmt: skip


class _Refused(HTTPException):
    status_code = 418


def _as_the_door_says(_: Request[Any, Any, Any], error: Exception) -> Response[dict[str, str]]:
    return Response({"door": type(error).__name__}, status_code=418)


def _as_the_app_says(_: Request[Any, Any, Any], error: HTTPException) -> Response[dict[str, Any]]:
    return Response(
        {"app": error.status_code}, status_code=error.status_code, headers=error.headers
    )


resolved: list[str] = []


async def _door() -> str:
    resolved.append("door")
    return "the door"


def _keeper() -> str:
    resolved.append("keeper")
    return "the keeper"


@raw_post(
    "/v1/door", "door", "keeper", name="door", exception_handlers={_Refused: _as_the_door_says}
)
async def _answer(
    request: Request[Any, Any, Any], door: str, keeper: str
) -> Response[dict[str, str]]:
    body = json.loads(await read_body(request))  # Litestar's request.body() is for its routes
    if body.get("refuse"):
        raise _Refused
    return Response(
        {"door": door, "keeper": keeper, "said": body["say"]}, media_type=MediaType.JSON
    )


def _app() -> Litestar:
    return Litestar(
        route_handlers=[_answer],
        dependencies={
            "door": Provide(_door, use_cache=True),
            "keeper": Provide(_keeper, use_cache=True, sync_to_thread=False),
        },
        exception_handlers={HTTPException: _as_the_app_says},
        logging_config=None,
    )


def test_a_post_gets_the_apps_dependencies_resolved_once() -> None:
    resolved.clear()
    with TestClient(_app()) as client:
        for word in ("one", "two"):
            response = client.post("/v1/door", json={"say": word})
            assert response.status_code == 200
            assert response.json() == {"door": "the door", "keeper": "the keeper", "said": word}
    assert resolved == ["door", "keeper"]  # the app's Provides, cached as Litestar caches them


def test_what_the_answer_raises_meets_the_routes_own_handlers() -> None:
    with TestClient(_app()) as client:
        response = client.post("/v1/door", json={"refuse": True})
    assert (response.status_code, response.json()) == (418, {"door": "_Refused"})


def test_options_and_other_methods_are_answered_as_the_router_would() -> None:
    with TestClient(_app()) as client:
        preflight = client.options("/v1/door")
        assert (preflight.status_code, preflight.headers["allow"], preflight.content) == (
            204, "OPTIONS, POST", b"",
        )  # fmt: skip
        for method in ("GET", "PUT", "DELETE", "PATCH"):
            refused = client.request(method, "/v1/door")
            # The app's handler renders the 405, not the route's: no route matched yet.
            assert (refused.status_code, refused.json()) == (405, {"app": 405}), method
            assert refused.headers["allow"] == "OPTIONS, POST"


def test_the_front_doors_are_raw_and_serve_post() -> None:
    raw = [handler for handler in ROUTES if handler in RAW_DOORS]
    assert len(raw) == len(RAW_DOORS)
    assert {served_methods(handler) for handler in raw} == {frozenset({"POST"})}


def test_nothing_the_raw_routes_skip_is_set_on_the_app() -> None:
    """A raw route skips what Litestar's handler machinery would add: the layers' guards,
    before and after request hooks, response headers and cookies. None are set; a new one
    would reach the other routes only, and this says so."""
    app = create_app()
    assert app.before_request is None and app.after_request is None
    assert not app.guards and not app.response_headers and not app.response_cookies
    for handler in RAW_DOORS:
        assert not handler.resolve_guards() and not handler.middleware
        assert not handler.dependencies  # the app's are resolved: raw_post's one dependency
