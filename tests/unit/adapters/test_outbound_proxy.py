"""Outbound proxies: the rules (``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY``), and both upstream
clients (``Http1Client``, httpx through ``ProxyRoutingTransport``) against a local proxy on a
real socket: a CONNECT tunnel to a TLS server for https, the absolute form for http."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator

import httpx
import pytest

from gateway_adapters.http1 import ConnectError, Http1Client, Target, Timeouts
from gateway_adapters.outbound_proxy import Proxy, ProxyRoutingTransport, ProxyRules
from tests.support.connect_proxy import ConnectProxy
from tests.unit.adapters.test_http1 import SUPPORT, Server

CREDENTIALS = "proxyuser:s3cret-pass"
BASIC = "Basic cHJveHl1c2VyOnMzY3JldC1wYXNz"  # base64 of CREDENTIALS


@pytest.fixture
async def proxy() -> AsyncIterator[ConnectProxy]:
    proxy = ConnectProxy()
    await proxy.start()
    yield proxy
    await proxy.stop()


@pytest.fixture
async def upstream() -> AsyncIterator[Server]:
    server = Server()
    await server.start()
    yield server
    await server.stop()


def _with_credentials(proxy: ConnectProxy) -> str:
    return f"http://{CREDENTIALS}@127.0.0.1:{proxy.port}"


async def _post(client: Http1Client, url: str) -> bytes:
    async with client.post(Target(url, {}), b"{}", Timeouts(connect=5, total=5)) as response:
        assert response.status == 200
        return await response.read()


async def test_https_goes_through_a_connect_tunnel_with_the_proxy_credentials(
    proxy: ConnectProxy,
) -> None:
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    served.load_cert_chain(SUPPORT / "tls-localhost.crt", SUPPORT / "tls-localhost.key")
    server = Server()
    tls_server = await asyncio.start_server(server._serve, "127.0.0.1", 0, ssl=served)
    port = tls_server.sockets[0].getsockname()[1]
    trusting = ssl.create_default_context(cafile=str(SUPPORT / "tls-localhost.crt"))
    rules = ProxyRules.from_environ({"HTTPS_PROXY": _with_credentials(proxy)})
    try:
        async with Http1Client(ssl_context=trusting, proxies=rules) as client:
            for _ in range(2):
                assert await _post(client, f"https://localhost:{port}/v1/chat") == b'{"ok":true}'
    finally:
        tls_server.close()
    [request] = proxy.requests  # one tunnel, reused for the second request
    assert (request.method, request.target) == ("CONNECT", f"localhost:{port}")
    assert request.headers["proxy-authorization"] == BASIC
    head, _ = server.requests[0]
    assert head.startswith(b"POST /v1/chat HTTP/1.1\r\n")  # origin form inside the tunnel
    assert b"proxy-authorization" not in head.lower()  # never sent on to the upstream


async def test_http_goes_to_the_proxy_in_absolute_form(
    proxy: ConnectProxy, upstream: Server
) -> None:
    rules = ProxyRules.from_environ({"http_proxy": _with_credentials(proxy)})
    async with Http1Client(proxies=rules) as client:
        assert await _post(client, f"http://127.0.0.1:{upstream.port}/v1/x?a=1") == b'{"ok":true}'
    [request] = proxy.requests
    assert (request.method, request.target) == ("POST", f"http://127.0.0.1:{upstream.port}/v1/x?a=1")
    assert request.headers["proxy-authorization"] == BASIC


async def test_no_proxy_hosts_are_reached_directly(proxy: ConnectProxy, upstream: Server) -> None:
    rules = ProxyRules.from_environ({"HTTP_PROXY": proxy.url, "NO_PROXY": "example.com,127.0.0.1"})
    async with Http1Client(proxies=rules) as client:
        await _post(client, f"http://127.0.0.1:{upstream.port}/v1")
    assert proxy.requests == []
    assert upstream.requests[0][0].startswith(b"POST /v1 HTTP/1.1")


async def test_a_refused_tunnel_fails_to_connect_without_quoting_the_credentials(
    proxy: ConnectProxy,
) -> None:
    proxy.refuse_with = 407
    rules = ProxyRules.from_environ({"HTTPS_PROXY": _with_credentials(proxy)})
    async with Http1Client(proxies=rules) as client:
        with pytest.raises(ConnectError) as raised:
            await _post(client, "https://localhost:9/v1")
    assert "407" in str(raised.value)
    assert "s3cret" not in repr(raised.value)


async def test_httpx_follows_the_same_rules(proxy: ConnectProxy, upstream: Server) -> None:
    rules = ProxyRules.from_environ({"HTTP_PROXY": _with_credentials(proxy), "NO_PROXY": "localhost"})
    transport = ProxyRoutingTransport(rules)
    async with httpx.AsyncClient(transport=transport, trust_env=False) as client:
        proxied = await client.post(f"http://127.0.0.1:{upstream.port}/tool", json={})
        direct = await client.post(f"http://localhost:{upstream.port}/tool", json={})
    assert (proxied.status_code, direct.status_code) == (200, 200)
    [request] = proxy.requests
    assert request.target == f"http://127.0.0.1:{upstream.port}/tool"
    assert request.headers["proxy-authorization"] == BASIC
    assert len(upstream.requests) == 2


@pytest.mark.parametrize(
    ("host", "port", "bypassed"),
    [
        ("api.example.com", 443, True),
        ("example.com", 443, True),
        ("badexample.com", 443, False),
        ("internal", 8080, True),
        ("internal", 9090, False),
        ("10.0.0.7", 443, True),
        ("api.openai.com", 443, False),
    ],
)
def test_no_proxy_entries(host: str, port: int, bypassed: bool) -> None:
    rules = ProxyRules.from_environ(
        {"HTTPS_PROXY": "http://proxy:3128", "HTTP_PROXY": "http://proxy:3128",
         "NO_PROXY": ".example.com, internal:8080,10.0.0.7"}
    )  # fmt: skip
    assert (rules.for_origin(host, port, tls=True) is None) is bypassed


def test_a_star_bypasses_every_proxy_and_lowercase_variables_win() -> None:
    assert ProxyRules.from_environ({"HTTPS_PROXY": "http://p:1", "NO_PROXY": "*"}).for_origin(
        "api.openai.com", 443, True
    ) is None
    rules = ProxyRules.from_environ({"HTTPS_PROXY": "http://upper:1", "https_proxy": "http://lower:2"})
    assert rules.https == Proxy("lower", 2)


@pytest.mark.parametrize(
    "url", ["https://u:p@proxy:3128", "socks5://u:p@proxy:1080", "http://u:p@proxy:port", "u:p@proxy"]
)
def test_a_bad_proxy_is_refused_without_quoting_it(url: str) -> None:
    with pytest.raises(ValueError) as raised:
        ProxyRules.from_environ({"HTTPS_PROXY": url})
    assert "HTTPS_PROXY" in str(raised.value)
    assert "u:p" not in str(raised.value) and "proxy:" not in str(raised.value)


def test_a_proxys_repr_never_shows_its_credentials() -> None:
    proxy = Proxy.parse(f"http://{CREDENTIALS}@proxy.corp:3128")
    assert proxy.authorization == BASIC
    assert "s3cret" not in repr(proxy) and "s3cret" not in str(ProxyRules.through(proxy))
