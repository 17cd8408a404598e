"""An ASGI app served in process by uvicorn with the gateway's own protocol, on a free port."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn

from gateway_http.server_limits import GuardedHttpToolsProtocol, ServerLimits


@asynccontextmanager
async def guarded_server(
    app: Any, protocol: type[GuardedHttpToolsProtocol] = GuardedHttpToolsProtocol
) -> AsyncIterator[str]:
    """Yields the server's base URL; default limits while it runs."""
    GuardedHttpToolsProtocol.configure(ServerLimits())
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, http=protocol, log_level="warning", lifespan="off")
    running = uvicorn.Server(config)
    task = asyncio.create_task(running.serve(sockets=[sock]))
    try:
        while not running.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        running.should_exit = True
        await task
        GuardedHttpToolsProtocol.configure(None)
