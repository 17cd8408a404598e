"""Everything the Responses routes need, as one dependency (see ``ChatApi`` for why one)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gateway_core.ports.native import NativeFormatProvider
from gateway_core.ports.responses import ResponseStore
from gateway_http.caller import ChatApi


@dataclass(frozen=True, slots=True)
class ResponsesDoor:
    chat: ChatApi
    store: ResponseStore
    ttl_seconds: float
    natives: Mapping[str, NativeFormatProvider]
    """Providers (by name) that speak the Responses API: forwarded to natively."""
    formats: Mapping[str, str]
    """Provider name -> its type, for the translated path (``request.to_chat_request``)."""
