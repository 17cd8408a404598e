"""Outbound HTTP proxies: which proxy (if any) a request to an origin goes through.

Rules come from the usual variables (``HTTPS_PROXY``, ``HTTP_PROXY``, ``NO_PROXY``, lowercase
spellings first as curl reads them), handed in as a mapping by the composition root, or from
a provider's own ``proxy`` setting. Both clients apply the same rules: ``Http1Client`` (a
CONNECT tunnel for https, the absolute form for http) and httpx, through
``ProxyRoutingTransport``.

Proxies are ``http://[user:password@]host[:port]`` (TLS to the proxy itself is not
supported). Credentials become a ``Proxy-Authorization`` header and never appear in a
``repr``, an error message or a log line.

``NO_PROXY``: comma-separated; ``*`` bypasses every proxy; ``example.com`` and ``.example.com``
match that host and its subdomains; an entry with ``:port`` only that port; IP addresses
match exactly (no CIDR ranges).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx

DIRECT = "direct"
"""A provider's ``proxy`` setting that bypasses every proxy, the environment's included."""


@dataclass(frozen=True, slots=True)
class Proxy:
    host: str
    port: int
    authorization: str | None = field(default=None, repr=False)
    """The ``Proxy-Authorization`` value (Basic), when the URL carried credentials."""
    url: str = field(default="", repr=False, compare=False)
    """As configured (credentials included): only handed to httpx."""

    @classmethod
    def parse(cls, url: str) -> Proxy:
        """Raises ``ValueError`` with a message that never quotes the URL (it may hold a
        password)."""
        parts = urlsplit(url.strip())
        if parts.scheme != "http":
            raise ValueError("a proxy URL must be http://[user:password@]host[:port]")
        try:
            port = parts.port or 80
        except ValueError:
            raise ValueError("a proxy URL's port must be a number") from None
        if not parts.hostname or parts.path not in ("", "/") or parts.query:
            raise ValueError("a proxy URL must be http://[user:password@]host[:port]")
        authorization = None
        if parts.username is not None:
            pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            authorization = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
        return cls(parts.hostname, port, authorization, url.strip())

    def __str__(self) -> str:
        """Where the proxy is, for a log line: never its credentials."""
        return f"{self.host}:{self.port}"

    def header_line(self) -> bytes:
        """``Proxy-Authorization: ...\\r\\n``, or nothing."""
        if self.authorization is None:
            return b""
        return f"Proxy-Authorization: {self.authorization}\r\n".encode("latin-1")


@dataclass(frozen=True, slots=True)
class ProxyRules:
    """Which proxy each origin goes through; no rules: every origin is reached directly."""

    http: Proxy | None = None
    https: Proxy | None = None
    no_proxy: tuple[str, ...] = ()

    @property
    def active(self) -> bool:
        return self.http is not None or self.https is not None

    @classmethod
    def through(cls, proxy: Proxy | None) -> ProxyRules:
        """One proxy for everything (a provider's own setting: ``NO_PROXY`` does not apply)."""
        return cls(http=proxy, https=proxy)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> ProxyRules:
        """From ``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY`` (raises ``ValueError`` naming the
        variable, never its value)."""

        def read(name: str) -> str:
            return (environ.get(name.lower()) or environ.get(name) or "").strip()

        proxies: dict[str, Proxy | None] = {}
        for name in ("HTTP_PROXY", "HTTPS_PROXY"):
            value = read(name)
            try:
                proxies[name] = Proxy.parse(value) if value else None
            except ValueError as error:
                raise ValueError(f"{name}: {error}") from None
        entries = tuple(e.strip().lower() for e in read("NO_PROXY").split(",") if e.strip())
        return cls(http=proxies["HTTP_PROXY"], https=proxies["HTTPS_PROXY"], no_proxy=entries)

    def for_origin(self, host: str, port: int, tls: bool) -> Proxy | None:
        proxy = self.https if tls else self.http
        if proxy is None or self._bypassed(host.lower().strip("[]"), port):
            return None
        return proxy

    def _bypassed(self, host: str, port: int) -> bool:
        for entry in self.no_proxy:
            if entry == "*":
                return True
            name, _, wanted_port = entry.rpartition(":") if _has_port(entry) else (entry, "", "")
            if wanted_port and wanted_port != str(port):
                continue
            name = name.strip("[]").lstrip(".")
            if host == name or host.endswith("." + name):
                return True
        return False


def _has_port(entry: str) -> bool:
    """``host:port`` or ``[v6]:port``; a bare IPv6 address has colons but no port."""
    if entry.startswith("["):
        return "]:" in entry
    return entry.count(":") == 1


class ProxyRoutingTransport(httpx.AsyncBaseTransport):
    """httpx transport that applies ``ProxyRules`` per request (one pool per proxy), so the
    httpx client and ``Http1Client`` agree on every origin."""

    def __init__(self, rules: ProxyRules, **transport_options: Any) -> None:
        self._rules = rules
        self._options = transport_options
        self._direct = httpx.AsyncHTTPTransport(**transport_options)
        self._proxied: dict[Proxy, httpx.AsyncHTTPTransport] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        tls = url.scheme == "https"
        proxy = self._rules.for_origin(url.host, url.port or (443 if tls else 80), tls)
        transport = self._direct
        if proxy is not None:
            transport = self._proxied.get(proxy) or self._proxied.setdefault(
                proxy, httpx.AsyncHTTPTransport(proxy=httpx.Proxy(proxy.url), **self._options)
            )
        return await transport.handle_async_request(request)

    async def aclose(self) -> None:
        await self._direct.aclose()
        for transport in self._proxied.values():
            await transport.aclose()
