"""Everything the Messages routes need, as one dependency (see ``ChatApi`` for why one)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gateway_core.ports.native import NativeFormatProvider, NativeTokenCounter
from gateway_http.caller import ChatApi


@dataclass(frozen=True, slots=True)
class MessagesDoor:
    chat: ChatApi
    natives: Mapping[str, NativeFormatProvider]
    """Providers (by name) that speak the Messages API: forwarded to natively."""
    token_counters: Mapping[str, NativeTokenCounter]
    formats: Mapping[str, str]
    """Provider name -> its type, for the translated path (``request.to_chat_request``)."""
