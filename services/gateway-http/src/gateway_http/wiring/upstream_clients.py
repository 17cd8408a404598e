"""The lifespan of the pooled upstream HTTP clients (a dependency-injector Resource)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx

from gateway_adapters.http1 import Http1Client
from gateway_http.settings import Settings
from gateway_http.wiring.provider_factory import UpstreamClients


async def open_upstream_clients(settings: Settings) -> AsyncIterator[UpstreamClients]:
    # Adapters set their own timeouts per call; redirects are never followed to an upstream.
    http1 = Http1Client(pool_size=settings.upstream_pool_size, idle_timeout=30)
    limits = httpx.Limits(max_connections=settings.upstream_pool_size, keepalive_expiry=30)
    client = httpx.AsyncClient(limits=limits, follow_redirects=False, trust_env=False)
    try:
        yield UpstreamClients(http1, client)
    finally:
        await client.aclose()
        await http1.close()
