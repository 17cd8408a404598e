"""The gateway's ``POST`` routes as raw ASGI handlers (Litestar's ``@asgi``).

A ``@post`` handler runs Litestar's handler machinery for every request: the kwargs model,
the signature model validating ``request`` and the dependencies, an exit stack,
``to_response``, and a task group when there are several dependencies: 20-50 us of a front
door's request under load, about 150 us of one with two dependencies (docs/PERFORMANCE.md).
``raw_post`` serves a route's answer without it, doing what that machinery did for these
routes:

- ``POST``: the route's dependencies, the app's own (each resolved by its ``Provide``, cached
  as before), handed to the answer after the ``Request``; the body cap is the app's (read the
  body with ``raw_request.read_body``: Litestar's ``request.body()`` is for its own routes);
  the answer's ``to_asgi_response`` sends it.
- ``OPTIONS``: ``204`` with ``Allow: OPTIONS, POST`` (``routes/options.py`` skips raw routes).
- Any other method: ``405`` with ``Allow``, as the router answers it for every other route:
  rendered by the app's exception handlers (a door's own, the Messages door's Anthropic-shaped
  ones, apply to what its answer raises, as before), logged and counted as ``unmatched``.
- A websocket: the router's ``404`` for an HTTP path (a refused upgrade).

The router, the exception handlers, ``before_send`` and the wrappers around the app are
Litestar's as for every route. The app has no route-level response headers, cookies,
guards or after-request hooks for these routes to skip (``test_raw_post`` keeps it so).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from litestar import Request, asgi
from litestar.enums import ScopeType
from litestar.exceptions import MethodNotAllowedException, NotFoundException
from litestar.handlers import ASGIRouteHandler, BaseRouteHandler
from litestar.types import Receive, Scope, Send
from litestar.utils.scope.state import ScopeState

SERVED_METHODS = "served_methods"
"""The ``opt`` key naming what a raw route serves besides ``OPTIONS`` (the OpenAPI document,
the README's endpoint table and ``Allow`` say so)."""

_METHODS = frozenset({"POST"})
_ALLOW = ", ".join(sorted({*_METHODS, "OPTIONS"}))
_OPTIONS_HEAD = [(b"allow", _ALLOW.encode())]


class Answer(Protocol):
    """What a door's answer returns: a Litestar ``Response`` or one of the gateway's own
    (``WholeJson``, ``EventStream``)."""

    def to_asgi_response(
        self, app: Any, request: Request[Any, Any, Any]
    ) -> Callable[[Scope, Receive, Send], Awaitable[None]]: ...


Door = Callable[..., Awaitable[Answer]]
"""``answer(request, *dependencies)``."""


def raw_post(
    path: str,
    *dependencies: str,
    name: str,
    exception_handlers: Mapping[Any, Any] | None = None,
) -> Callable[[Door], ASGIRouteHandler]:
    """``answer(request, *dependencies)`` served as ``POST path``, each dependency the app's
    of that name; see the module docstring."""

    def route(answer: Door) -> ASGIRouteHandler:
        async def serve(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != ScopeType.HTTP:
                raise NotFoundException  # a websocket here: the router's answer on an HTTP path
            method = scope["method"]
            if method != "POST":
                if method == "OPTIONS":
                    await send({"type": "http.response.start", "status": 204,
                                "headers": _OPTIONS_HEAD})  # fmt: skip
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                    return
                # The router's 405, as it answers for any other route: no route matched (the
                # log line and the metrics say "unmatched"), so the app's exception handlers
                # render it, not the route's.
                scope.pop("path_template", None)  # type: ignore[misc]
                app_handlers = scope["litestar_app"].exception_handlers
                ScopeState.from_scope(scope).exception_handlers = app_handlers
                raise MethodNotAllowedException(headers={"allow": _ALLOW})
            request: Request[Any, Any, Any] = Request(scope, receive, send)
            values = []
            for dependency in dependencies:  # an async comprehension is a function call
                values.append(await app_dependency(request, dependency))
            response = await answer(request, *values)
            await response.to_asgi_response(None, request)(scope, receive, send)

        serve.__name__ = serve.__qualname__ = answer.__name__
        serve.__doc__ = answer.__doc__
        return asgi(
            path,
            name=name,
            copy_scope=False,
            exception_handlers=dict(exception_handlers) if exception_handlers else None,
            opt={SERVED_METHODS: _METHODS},
        )(serve)

    return route


def served_methods(handler: BaseRouteHandler) -> frozenset[str] | None:
    """What a raw route of ``raw_post`` serves (``OPTIONS`` aside); ``None`` for any other."""
    if isinstance(handler, ASGIRouteHandler):
        return handler.opt.get(SERVED_METHODS)
    return None


async def app_dependency(request: Request[Any, Any, Any], name: str) -> Any:
    """The app's dependency ``name``, resolved by its own ``Provide`` (cached or not, as it is
    declared): for the raw routes, and for a route that takes only ``caller`` through
    Litestar (given two or more dependencies, Litestar resolves them in a task group of their
    own, about 150 us of a request, half of a ``GET /v1/models``)."""
    return await request.app.dependencies[name]()
