"""The lifespan of the pooled upstream HTTP clients (a dependency-injector Resource)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import httpx

from gateway_http.provider_factory import UpstreamClients
from gateway_http.settings import Settings


async def open_upstream_clients(settings: Settings) -> AsyncIterator[UpstreamClients]:
    connector = aiohttp.TCPConnector(
        limit=settings.upstream_pool_size, ttl_dns_cache=300, keepalive_timeout=30
    )
    # Adapters set their own timeouts per call; redirects are never followed to an upstream.
    session = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=None))
    limits = httpx.Limits(max_connections=settings.upstream_pool_size, keepalive_expiry=30)
    client = httpx.AsyncClient(limits=limits, follow_redirects=False, trust_env=False)
    try:
        yield UpstreamClients(session, client)
    finally:
        await client.aclose()
        await session.close()
