"""Microsoft Entra ID access tokens by the OAuth2 client-credentials grant, cached.

``POST {authority}/{tenant}/oauth2/v2.0/token`` with the client id and secret answers
``{"token_type": "Bearer", "expires_in": 3599, "access_token": "..."}``
(https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow).
A token is reused until ``refresh_margin`` seconds before it expires, so no request leaves
with a token that may lapse in flight; one refresh at a time (the others wait for it).
Neither the secret nor a token is ever part of an error message or ``repr``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from urllib.parse import urlencode

import msgspec

from gateway_adapters.http1 import Http1Client, Target, Timeouts
from gateway_adapters.providers.http_errors import TRANSPORT_FAILURES, transport_error
from gateway_core.errors import UpstreamAuthError

COGNITIVE_SERVICES_SCOPE = "https://cognitiveservices.azure.com/.default"


class _Token(msgspec.Struct):
    access_token: str
    expires_in: int = 3600


class EntraTokenSource:
    """Bearer tokens for one app registration (tenant, client id, client secret)."""

    def __init__(
        self,
        *,
        tenant_id: str,
        client_id: str,
        client_secret: str,
        client: Http1Client,
        authority: str = "https://login.microsoftonline.com",
        scope: str = COGNITIVE_SERVICES_SCOPE,
        refresh_margin: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._target = Target(
            f"{authority.rstrip('/')}/{tenant_id}/oauth2/v2.0/token",
            {"Content-Type": "application/x-www-form-urlencoded"},
        )
        form = {
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": client_secret,
            "scope": scope,
        }
        self._form = urlencode(form).encode()
        self._client = client
        self._margin = refresh_margin
        self._clock = clock
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()
        self.refreshes = 0
        """How many tokens were fetched (for tests and metrics; never the tokens)."""

    def __repr__(self) -> str:
        return f"EntraTokenSource(origin={self._target.origin!r})"

    async def token(self, provider: str) -> str:
        """A token valid for at least ``refresh_margin`` more seconds."""
        if self._token is not None and self._clock() < self._expires_at - self._margin:
            return self._token
        async with self._lock:
            if self._token is None or self._clock() >= self._expires_at - self._margin:
                await self._refresh(provider)
        assert self._token is not None
        return self._token

    async def _refresh(self, provider: str) -> None:
        started = self._clock()
        try:
            async with self._client.post(self._target, self._form, Timeouts(total=30)) as answer:
                raw = await answer.read()
                status = answer.status
        except TRANSPORT_FAILURES as exc:
            raise transport_error(exc, provider) from exc
        if status >= 300:
            # The body may echo the client id; the status says enough.
            raise UpstreamAuthError(
                f"{provider}: Microsoft Entra ID refused the client credentials (HTTP {status})",
                provider=provider,
                status=status,
            )
        try:
            token = msgspec.json.decode(raw, type=_Token)
        except msgspec.DecodeError as error:
            raise UpstreamAuthError(
                f"{provider}: Microsoft Entra ID sent a token answer that cannot be read",
                provider=provider,
            ) from error
        self._token, self._expires_at = token.access_token, started + token.expires_in
        self.refreshes += 1
