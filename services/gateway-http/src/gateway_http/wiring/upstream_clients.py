"""The lifespan of the pooled upstream HTTP clients (a dependency-injector Resource).

The composition root reads the proxy variables (``HTTPS_PROXY``, ``HTTP_PROXY``, ``NO_PROXY``)
here, once: adapters never read the environment."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator

import httpx

from gateway_adapters.http1 import Http1Client
from gateway_adapters.outbound_proxy import ProxyRoutingTransport, ProxyRules
from gateway_http.settings import Settings
from gateway_http.wiring.provider_factory import UpstreamClients

log = logging.getLogger("gateway_http")


def _clients(rules: ProxyRules, pool_size: int) -> tuple[Http1Client, httpx.AsyncClient]:
    # Adapters set their own timeouts per call; redirects are never followed to an upstream.
    http1 = Http1Client(pool_size=pool_size, idle_timeout=30, proxies=rules)
    limits = httpx.Limits(max_connections=pool_size, keepalive_expiry=30)
    # trust_env off: the proxies are the rules' (the same as Http1Client's), and no .netrc.
    transport = ProxyRoutingTransport(rules, limits=limits)
    client = httpx.AsyncClient(transport=transport, follow_redirects=False, trust_env=False)
    return http1, client


async def open_upstream_clients(settings: Settings) -> AsyncIterator[UpstreamClients]:
    rules = ProxyRules.from_environ(os.environ)
    if rules.active:  # where the proxies are, never their credentials
        log.info(
            "outbound proxies: http %s, https %s, no_proxy %s",
            rules.http, rules.https, ",".join(rules.no_proxy) or "-",
        )  # fmt: skip
    pool_size = settings.upstream_pool_size
    http1, client = _clients(rules, pool_size)
    clients = UpstreamClients(http1, client, lambda own: _clients(own, pool_size))
    try:
        yield clients
    finally:
        await clients.close_own()
        await client.aclose()
        await http1.close()
