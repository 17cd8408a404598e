"""A whole JSON answer, already encoded, handed to the server with its headers as they are.

Litestar's ``Response`` copies the headers into a case-insensitive multi-dict one at a time,
sets the content type and length into it, and encodes every header again on the way out:
some 8 us for a chat answer's half-dozen headers, about 2% of a JSON request. ``WholeJson``
encodes them once into the ASGI header list. What Litestar's path would add is kept: the
response headers and cookies of the app's layers (this app sets none) and a background task
send the answer through Litestar's own ``Response`` instead.

``after`` is work the answer does not wait for (a chat turn's booking, ``ChatTurn.book``): it
runs once the answer is written, in the request's own task, whether or not the write went
well, so the request's log line (written when the app returns) follows it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from litestar import Request, Response
from litestar.background_tasks import BackgroundTask, BackgroundTasks
from litestar.datastructures import Cookie
from litestar.types import ASGIApp, Receive, Scope, Send

from gateway_http.direct_body import hold_writes, release_writes

JSON = "application/json"


class WholeJson(Response[bytes]):
    """``Response(content, media_type="application/json", headers=headers)``, cheaper.

    ``headers`` are the answer's own (never ``content-type`` or ``content-length``);
    ``after``: awaited once the answer is out (see the module docstring)."""

    __slots__ = ("after",)

    def __init__(
        self,
        content: bytes,
        headers: dict[str, str],
        status_code: int = 200,
        after: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        # Response's own __init__ (cookies, a copy of the headers, merged type encoders) costs
        # more than the rest of this path: its slots are set directly.
        self.content, self.headers, self.status_code = content, headers, status_code
        self.media_type, self.encoding, self.background = JSON, "utf-8", None
        self.cookies, self.response_type_encoders = [], {}
        self.after = after

    def to_asgi_response(  # type: ignore[override,unused-ignore]
        self,
        app: Any,
        request: Request[Any, Any, Any],
        *,
        headers: dict[str, str] | None = None,
        cookies: Iterable[Cookie] | None = None,
        background: Any = None,
        **kwargs: Any,
    ) -> ASGIApp:
        if headers or cookies or background or self.cookies or self.background:
            if self.after is not None:  # Litestar's response runs it once the body is out
                background = _then(background, self.after)
            return super().to_asgi_response(
                app, request, headers=headers, cookies=cookies, background=background, **kwargs
            )
        content = self.content
        encoded = encode_headers(self.headers)
        encoded.append((b"content-type", JSON.encode()))
        encoded.append((b"content-length", str(len(content)).encode()))
        return _Send(self.status_code or 200, encoded, content, self.after)


def _then(
    background: BackgroundTask | BackgroundTasks | None, after: Callable[[], Awaitable[None]]
) -> BackgroundTasks:
    """A layer's background work, then ``after``."""
    if background is None:
        tasks = []
    elif isinstance(background, BackgroundTasks):
        tasks = list(background.tasks)
    else:
        tasks = [background]
    return BackgroundTasks([*tasks, BackgroundTask(after)])


def encode_headers(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    """An answer's own headers as the ASGI list (lowercase names, as Litestar encodes them)."""
    return [
        (name.lower().encode("latin-1"), value.encode("latin-1"))
        for name, value in headers.items()
    ]


class _Send:
    """The two ASGI messages of a whole answer."""

    __slots__ = ("_after", "_body", "_headers", "_status")

    def __init__(
        self,
        status: int,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        after: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._status, self._headers, self._body, self._after = status, headers, body, after

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        cycle = hold_writes(scope)  # the head and the body in one write
        try:
            await send(
                {"type": "http.response.start", "status": self._status, "headers": self._headers}
            )
            await send({"type": "http.response.body", "body": self._body, "more_body": False})
        finally:
            if cycle is not None:
                release_writes(cycle)
            if self._after is not None:
                await self._after()
