"""``OPTIONS`` on every route: ``204`` with an ``Allow`` naming every method of the path.

Litestar 2 answers ``OPTIONS`` by itself, but on a path served by several handlers (``GET`` and
``DELETE /v1/sessions/{id}``, the admin keys) it names only the first handler's methods
(litestar-org/litestar#4169, fixed in Litestar 3). An ``OPTIONS`` handler registered before
the path's other handlers takes the place of Litestar's, with the whole list. A raw ASGI
route (a front door's ``POST``, ``routes/raw_post.py``) answers its own ``OPTIONS``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from litestar import Response, route
from litestar.enums import HttpMethod
from litestar.handlers import BaseRouteHandler, HTTPRouteHandler


def with_options(handlers: Sequence[BaseRouteHandler]) -> list[BaseRouteHandler]:
    """``handlers``, after an ``OPTIONS`` handler for each HTTP path that has none of its own."""
    methods: dict[str, set[str]] = defaultdict(set)
    for handler in handlers:
        if not isinstance(handler, HTTPRouteHandler):
            continue
        for path in handler.paths:
            methods[path] |= handler.http_methods
    options = [_options(path, allowed) for path, allowed in methods.items()
               if HttpMethod.OPTIONS not in allowed]  # fmt: skip
    return [*options, *handlers]


def _options(path: str, methods: set[str]) -> HTTPRouteHandler:
    allow = ", ".join(sorted({*methods, HttpMethod.OPTIONS}))

    async def options() -> Response[None]:
        return Response(None, status_code=204, headers={"Allow": allow})

    return route(path, http_method=[HttpMethod.OPTIONS], include_in_schema=False)(options)
