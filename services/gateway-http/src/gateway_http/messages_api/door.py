"""Everything the Messages routes need, as one dependency (see ``ChatApi`` for why one)."""

from __future__ import annotations

from dataclasses import dataclass

from gateway_http.caller import ChatApi


@dataclass(frozen=True, slots=True)
class MessagesDoor:
    chat: ChatApi
