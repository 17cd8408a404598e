"""AWS Signature Version 4 for Bedrock requests, by botocore's signer (no hand-written crypto).

Credentials come from botocore's standard chain, resolved by whoever builds the adapter
(``botocore.session.Session().get_credentials()``: environment, shared config and credentials
files / profile, web identity (IRSA on EKS), container and instance metadata). Refreshable
credentials (web identity, SSO, instance roles) are refreshed by botocore before they expire;
that refresh is blocking I/O, so it runs in a thread.

botocore's signer logs the canonical request at DEBUG, which holds the session token: its
logger is kept at INFO from the first signer on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import RefreshableCredentials
from botocore.exceptions import BotoCoreError, ClientError

from gateway_core.errors import UpstreamAuthError

SERVICE = "bedrock"


class SigV4Signer:
    def __init__(self, credentials: Any, region: str) -> None:
        self._credentials = credentials
        self.region = region
        logging.getLogger("botocore.auth").setLevel(logging.INFO)

    def __repr__(self) -> str:
        return f"SigV4Signer(region={self.region!r})"

    async def headers(
        self, url: str, body: bytes, headers: Mapping[str, str], provider: str
    ) -> dict[str, str]:
        """``headers`` plus ``Authorization``, ``X-Amz-Date`` (and the session token)."""
        frozen = await self._frozen(provider)
        request = AWSRequest(method="POST", url=url, data=body, headers=dict(headers))
        SigV4Auth(frozen, SERVICE, self.region).add_auth(request)
        return dict(request.headers.items())

    async def _frozen(self, provider: str) -> Any:
        credentials = self._credentials
        if credentials is None:
            raise UpstreamAuthError(f"{provider}: no AWS credentials found", provider=provider)
        try:
            if isinstance(credentials, RefreshableCredentials) and credentials.refresh_needed():
                return await asyncio.to_thread(credentials.get_frozen_credentials)
            return credentials.get_frozen_credentials()
        except (BotoCoreError, ClientError) as error:  # STS, SSO, metadata failures
            raise UpstreamAuthError(
                f"{provider}: AWS credentials could not be refreshed ({type(error).__name__})",
                provider=provider,
            ) from None
