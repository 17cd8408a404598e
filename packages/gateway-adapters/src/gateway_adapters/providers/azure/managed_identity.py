"""Azure managed identity tokens, from the platform's local token endpoint, cached like Entra's.

Two endpoints, as Azure documents them:

- the Instance Metadata Service on VMs, scale sets and AKS nodes
  (https://learn.microsoft.com/entra/identity/managed-identities-azure-resources/how-to-use-vm-token):
  ``GET http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01
  &resource=...`` with ``Metadata: true``;
- App Service, Functions and Container Apps
  (https://learn.microsoft.com/azure/app-service/overview-managed-identity#rest-endpoint-reference):
  ``GET $IDENTITY_ENDPOINT?api-version=2019-08-01&resource=...`` with the
  ``X-IDENTITY-HEADER: $IDENTITY_HEADER`` secret.

A user-assigned identity is picked by its ``client_id``. Both answer
``{"access_token", "expires_in" or "expires_on" (seconds, as strings), ...}``. Neither the
identity header nor a token is ever part of an error message or ``repr``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import httpx
import msgspec

from gateway_adapters.providers.azure.entra import CachedToken
from gateway_core.errors import UpstreamAuthError, UpstreamConnectionError

COGNITIVE_SERVICES_RESOURCE = "https://cognitiveservices.azure.com"
IMDS_ENDPOINT = "http://169.254.169.254/metadata/identity/oauth2/token"


class _Answer(msgspec.Struct):
    access_token: str
    expires_in: int | str | None = None
    expires_on: int | str | None = None


class ManagedIdentityTokenSource(CachedToken):
    def __init__(
        self,
        *,
        client: httpx.AsyncClient,
        endpoint: str = IMDS_ENDPOINT,
        identity_header: str | None = None,
        client_id: str | None = None,
        resource: str = COGNITIVE_SERVICES_RESOURCE,
        refresh_margin: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        """``identity_header`` set: App Service's endpoint; else the metadata service's."""
        super().__init__(refresh_margin=refresh_margin, clock=clock)
        self._client = client
        self._endpoint = endpoint
        self._headers: Mapping[str, str] = (
            {"X-IDENTITY-HEADER": identity_header} if identity_header else {"Metadata": "true"}
        )
        params = {"api-version": "2019-08-01" if identity_header else "2018-02-01",
                  "resource": resource}  # fmt: skip
        if client_id:
            params["client_id"] = client_id
        self._params = params
        self._wall_clock = wall_clock

    def __repr__(self) -> str:
        return f"ManagedIdentityTokenSource(endpoint={self._endpoint!r})"

    async def _fetch(self, provider: str) -> tuple[str, float]:
        try:
            answer = await self._client.get(
                self._endpoint, params=self._params, headers=self._headers, timeout=30.0
            )
        except httpx.HTTPError:
            raise UpstreamConnectionError(
                f"{provider}: the managed identity endpoint could not be reached",
                provider=provider,
            ) from None
        if answer.status_code >= 300:
            raise UpstreamAuthError(
                f"{provider}: the managed identity endpoint refused a token "
                f"(HTTP {answer.status_code})",
                provider=provider,
                status=answer.status_code,
            )
        try:
            token = msgspec.json.decode(answer.content, type=_Answer)
            return token.access_token, self._lifetime(token)
        except (msgspec.DecodeError, ValueError):
            raise UpstreamAuthError(
                f"{provider}: the managed identity endpoint sent an answer that cannot be read",
                provider=provider,
            ) from None

    def _lifetime(self, token: _Answer) -> float:
        if token.expires_in is not None:
            return float(token.expires_in)
        if token.expires_on is not None:
            return float(token.expires_on) - self._wall_clock()
        raise ValueError("no expiry")
