"""OAuth2 access tokens for Vertex AI from google-auth credentials, cached and refreshed early.

Any ``google.auth.credentials.Credentials`` works: a service-account key file, workload
identity (GKE metadata server, external account / workload identity federation), or
``google.auth.default()``'s chain. google-auth decides when a token needs refreshing: its
``expired`` turns true some minutes *before* the real expiry
(``google.auth._helpers.REFRESH_THRESHOLD``), so no request leaves with a token that may lapse
in flight. google-auth's refresh is blocking I/O: it runs in a thread, one at a time.
A token is never part of an error message or ``repr``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from gateway_core.errors import UpstreamAuthError, UpstreamConnectionError

CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"


class GoogleTokenSource:
    def __init__(self, credentials: Any, *, transport: Any | None = None) -> None:
        self._credentials = credentials
        self._transport = transport
        self._lock = asyncio.Lock()
        self.refreshes = 0
        """How many tokens were fetched (for tests and metrics; never the tokens)."""

    def __repr__(self) -> str:
        return f"GoogleTokenSource({type(self._credentials).__name__})"

    async def token(self, provider: str) -> str:
        if not self._credentials.valid:
            async with self._lock:
                if not self._credentials.valid:
                    await asyncio.to_thread(self._refresh, provider)
        return str(self._credentials.token)

    def _refresh(self, provider: str) -> None:
        from google.auth import exceptions
        from google.auth.transport.urllib3 import Request

        try:
            self._credentials.refresh(Request(self._http()))  # type: ignore[no-untyped-call]
        except exceptions.TransportError:
            raise UpstreamConnectionError(
                f"{provider}: Google's token endpoint could not be reached", provider=provider
            ) from None
        except exceptions.GoogleAuthError as error:
            # google-auth's message may quote the token endpoint's answer: say only the class.
            raise UpstreamAuthError(
                f"{provider}: Google refused to issue an access token ({type(error).__name__})",
                provider=provider,
            ) from None
        self.refreshes += 1

    def _http(self) -> Any:
        if self._transport is None:
            import urllib3

            self._transport = urllib3.PoolManager(timeout=urllib3.Timeout(total=30))
        return self._transport
