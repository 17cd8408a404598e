"""Microsoft Entra ID access tokens by the OAuth2 client-credentials grant, cached.

``POST {authority}/{tenant}/oauth2/v2.0/token`` with the client id and either its secret or a
federated client assertion (AKS workload identity: the Kubernetes service-account token in
``AZURE_FEDERATED_TOKEN_FILE``, read again at every refresh because the kubelet rotates it)
answers ``{"token_type": "Bearer", "expires_in": 3599, "access_token": "..."}``
(https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow).
A token is reused until ``refresh_margin`` seconds before it expires, so no request leaves
with a token that may lapse in flight; one refresh at a time (the others wait for it).
Managed identities (``managed_identity.py``) share that cache. Neither the secret, the
assertion nor a token is ever part of an error message or ``repr``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode

import msgspec

from gateway_adapters.http1 import Http1Client, Target, Timeouts
from gateway_adapters.providers.http_errors import TRANSPORT_FAILURES, transport_error
from gateway_core.errors import UpstreamAuthError

COGNITIVE_SERVICES_SCOPE = "https://cognitiveservices.azure.com/.default"


class _Token(msgspec.Struct):
    access_token: str
    expires_in: int = 3600


JWT_BEARER_ASSERTION = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


class CachedToken:
    """One bearer token, fetched by ``_fetch`` and reused until ``refresh_margin`` seconds
    before it expires; one refresh at a time (the others wait for it)."""

    def __init__(self, *, refresh_margin: float = 300.0,
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self._margin = refresh_margin
        self._clock = clock
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()
        self.refreshes = 0
        """How many tokens were fetched (for tests and metrics; never the tokens)."""

    async def token(self, provider: str) -> str:
        """A token valid for at least ``refresh_margin`` more seconds."""
        if self._token is not None and self._clock() < self._expires_at - self._margin:
            return self._token
        async with self._lock:
            if self._token is None or self._clock() >= self._expires_at - self._margin:
                started = self._clock()
                token, lifetime = await self._fetch(provider)
                self._token, self._expires_at = token, started + lifetime
                self.refreshes += 1
        assert self._token is not None
        return self._token

    async def _fetch(self, provider: str) -> tuple[str, float]:
        """A new token and how many seconds it lives."""
        raise NotImplementedError


class EntraTokenSource(CachedToken):
    """Bearer tokens for one app registration: tenant, client id, and its client secret or a
    file holding a federated assertion (workload identity)."""

    def __init__(
        self,
        *,
        tenant_id: str,
        client_id: str,
        client: Http1Client,
        client_secret: str | None = None,
        assertion_file: str | None = None,
        authority: str = "https://login.microsoftonline.com",
        scope: str = COGNITIVE_SERVICES_SCOPE,
        refresh_margin: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(refresh_margin=refresh_margin, clock=clock)
        if (client_secret is None) == (assertion_file is None):
            raise ValueError("give a client secret or an assertion file, one of them")
        self._target = Target(
            f"{authority.rstrip('/')}/{tenant_id}/oauth2/v2.0/token",
            {"Content-Type": "application/x-www-form-urlencoded"},
        )
        self._form = {"grant_type": "client_credentials", "client_id": client_id, "scope": scope}
        self._secret = client_secret
        self._assertion_file = assertion_file
        self._client = client

    def __repr__(self) -> str:
        return f"EntraTokenSource(origin={self._target.origin!r})"

    def _credential(self, provider: str) -> dict[str, str]:
        if self._secret is not None:
            return {"client_secret": self._secret}
        assert self._assertion_file is not None
        try:
            assertion = Path(self._assertion_file).read_text(encoding="utf-8").strip()
        except OSError:
            raise UpstreamAuthError(
                f"{provider}: the federated token file (AZURE_FEDERATED_TOKEN_FILE) "
                "cannot be read",
                provider=provider,
            ) from None
        return {"client_assertion_type": JWT_BEARER_ASSERTION, "client_assertion": assertion}

    async def _fetch(self, provider: str) -> tuple[str, float]:
        form = urlencode({**self._form, **self._credential(provider)}).encode()
        try:
            async with self._client.post(self._target, form, Timeouts(total=30)) as answer:
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
        return token.access_token, token.expires_in
