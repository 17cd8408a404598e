"""What a configured model is: its name, who serves it, how ``/v1/models`` describes it.

A capability the gateway comes to need (tools, streaming) belongs here as a field (data), not
as an optional method on the provider; none is read today, so none is declared.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ModelInfo:
    id: str
    """The name clients send."""
    provider: str
    owned_by: str = ""
    description: str = ""
