"""Tools proxied to another service over HTTP, with httpx.

Each tool has an ``HttpToolRoute``: method, URL template, which arguments go where (path,
query, JSON body, with renames), headers, timeout and a response size cap. URLs come from
configuration only: the model's and the client's arguments fill path *segments*
(percent-encoded, so they cannot add a segment or change the host), never the URL itself.
Redirects are not followed, and nothing is retried (a call may not be idempotent).

Outcomes, translated by status and by exception class, never by message text:

- 2xx: the JSON body (or the text, when the service does not send JSON);
- 404: ``ToolItemNotFoundError``; another 4xx: ``ToolExecutionError`` (the tool ran and
  failed), except 429: ``ToolUnavailableError``, it is transient;
- 503 and connect errors: ``ToolUnavailableError``; 504 and timeouts: ``ToolTimeoutError``;
  other 5xx, 3xx, dropped connections, a body over the cap or unreadable: ``ToolBadGatewayError``.

Every unavailable error carries ``retry_after``: the service's ``Retry-After`` if it sent one,
else the backend's default. Messages name the backend and the tool, never a URL.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from gateway_adapters.providers.http_errors import retry_after_seconds
from gateway_core.errors import (
    GatewayError,
    ToolArgumentsError,
    ToolBadGatewayError,
    ToolExecutionError,
    ToolItemNotFoundError,
    ToolTimeoutError,
    ToolUnavailableError,
)

PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
"""``{name}`` in a URL template: a setting (filled at start-up) or an argument (per call)."""

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})

# The exception's MRO decides, so the most specific class wins (ConnectTimeout is a timeout).
_TRANSPORT_ERRORS: Mapping[type[BaseException], tuple[type[ToolUnavailableError], str]] = {
    httpx.TimeoutException: (ToolTimeoutError, "did not answer in time"),
    TimeoutError: (ToolTimeoutError, "did not answer in time"),
    httpx.ConnectError: (ToolUnavailableError, "could not be reached"),
    httpx.UnsupportedProtocol: (ToolUnavailableError, "has an unusable URL"),
    httpx.InvalidURL: (ToolUnavailableError, "has an unusable URL"),
    httpx.HTTPError: (ToolBadGatewayError, "broke off the exchange"),
    OSError: (ToolUnavailableError, "could not be reached"),
}


@dataclass(frozen=True, slots=True)
class HttpToolRoute:
    """How one tool is called. ``url`` has settings filled in; ``{argument}`` placeholders
    remain. ``body`` and ``query`` map argument names to field names; a body field may be a
    dotted path (``"source.book"``) to nest it. Arguments mapped nowhere are not sent."""

    method: str
    url: str
    body: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout_seconds: float = 10.0
    max_response_bytes: int = 1_048_576


class HttpToolBackend:
    """A ``ToolBackend`` for the tools of one downstream service, over a shared client."""

    def __init__(
        self,
        name: str,
        client: httpx.AsyncClient,
        routes: Mapping[str, HttpToolRoute],
        *,
        retry_after_seconds: float = 5.0,
    ) -> None:
        self.name = name
        self._client = client
        self._routes = dict(routes)
        self._retry_after = retry_after_seconds

    @property
    def routes(self) -> Mapping[str, HttpToolRoute]:
        return dict(self._routes)

    async def execute(self, tool_name: str, arguments: Mapping[str, Any]) -> Any:
        route = self._routes.get(tool_name)
        if route is None:
            raise ToolExecutionError(f"The tool '{tool_name}' has no route on {self.name}.")
        try:
            async with asyncio.timeout(route.timeout_seconds):
                status, headers, body = await self._exchange(route, arguments)
        except GatewayError:
            raise
        except (httpx.HTTPError, httpx.InvalidURL, TimeoutError, OSError) as error:
            raise self._transport_error(error, tool_name) from error
        if 200 <= status < 300:
            return self._decode(tool_name, headers, body)
        raise self._status_error(tool_name, status, headers)

    async def _exchange(
        self, route: HttpToolRoute, arguments: Mapping[str, Any]
    ) -> tuple[int, httpx.Headers, bytes]:
        query = {param: arguments[arg] for arg, param in route.query.items() if arg in arguments}
        request = self._client.build_request(
            route.method,
            fill_path(route.url, arguments),
            params=query,
            json=build_body(route.body, arguments) if route.method in _BODY_METHODS else None,
            headers={"accept": "application/json", **route.headers},
            timeout=route.timeout_seconds,
        )
        response = await self._client.send(request, stream=True, follow_redirects=False)
        try:
            if not 200 <= response.status_code < 300:
                return response.status_code, response.headers, b""
            body = await self._read_capped(response, route.max_response_bytes)
            return response.status_code, response.headers, body
        finally:
            await response.aclose()

    async def _read_capped(self, response: httpx.Response, limit: int) -> bytes:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise self._too_large(limit)
        buffer = bytearray()
        async for piece in response.aiter_bytes():
            buffer += piece
            if len(buffer) > limit:
                raise self._too_large(limit)
        return bytes(buffer)

    def _too_large(self, limit: int) -> ToolBadGatewayError:
        return ToolBadGatewayError(
            f"The {self.name} service sent a response larger than {limit} bytes.",
            retry_after=self._retry_after,
        )

    def _decode(self, tool_name: str, headers: httpx.Headers, body: bytes) -> Any:
        if not body:
            return None
        try:
            return json.loads(body)
        except ValueError:
            if "json" in headers.get("content-type", ""):
                raise ToolBadGatewayError(
                    f"The {self.name} service sent invalid JSON for '{tool_name}'.",
                    retry_after=self._retry_after,
                ) from None
        return body.decode("utf-8", errors="replace")

    def _status_error(self, tool_name: str, status: int, headers: httpx.Headers) -> GatewayError:
        retry_after = retry_after_seconds(headers)
        retry_after = self._retry_after if retry_after is None else retry_after
        where = f"The {self.name} service"
        if status == 404:
            return ToolItemNotFoundError(f"{where} has no such item (tool '{tool_name}').")
        if status == 429 or status == 503:
            return ToolUnavailableError(
                f"{where} is unavailable (HTTP {status}).", retry_after=retry_after
            )
        if status == 504:
            return ToolTimeoutError(f"{where} timed out (HTTP 504).", retry_after=retry_after)
        if 400 <= status < 500:
            return ToolExecutionError(
                f"{where} rejected the call to '{tool_name}' (HTTP {status})."
            )
        return ToolBadGatewayError(f"{where} failed (HTTP {status}).", retry_after=retry_after)

    def _transport_error(self, error: BaseException, tool_name: str) -> ToolUnavailableError:
        error_class: type[ToolUnavailableError] = ToolBadGatewayError
        what = "failed"
        for cls in type(error).__mro__:
            if cls in _TRANSPORT_ERRORS:
                error_class, what = _TRANSPORT_ERRORS[cls]
                break
        return error_class(
            f"The {self.name} service {what} (tool '{tool_name}', {type(error).__name__}).",
            retry_after=self._retry_after,
        )


def fill_path(template: str, arguments: Mapping[str, Any]) -> str:
    """The URL with each ``{argument}`` replaced by its value as one encoded path segment."""

    def segment(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in arguments:
            raise ToolArgumentsError(f"Missing required argument '{name}'.", param=name)
        return path_segment(arguments[name])

    return PLACEHOLDER.sub(segment, template)


def path_segment(value: Any) -> str:
    text = json.dumps(value) if isinstance(value, bool) else str(value)
    segment = quote(text, safe="")
    # "." and ".." are path navigation, not names: encoded, they stay names.
    return segment.replace(".", "%2E") if segment in {".", ".."} else segment


def build_body(mapping: Mapping[str, str], arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON body: each mapped argument that was given, under its (dotted) field path."""
    body: dict[str, Any] = {}
    for name, field_path in mapping.items():
        if name not in arguments:
            continue
        *parents, leaf = field_path.split(".")
        target = body
        for parent in parents:
            target = target.setdefault(parent, {})
        target[leaf] = arguments[name]
    return body
