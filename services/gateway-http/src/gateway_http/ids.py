"""Identifiers for responses and requests, cheap enough for the hot path.

``uuid4`` reads the kernel's random source on every call, which showed up in profiles of the
streaming path. A process-wide random prefix (64 bits, drawn once) and a counter give ids that
are unique across processes and replicas with the same practical certainty, at the cost of an
increment.
"""

from __future__ import annotations

import itertools
import secrets

_PREFIX = secrets.token_hex(8)
_counter = itertools.count(1)


def new_id() -> str:
    """32 hex characters: the process's random prefix and a sequence number."""
    return f"{_PREFIX}{next(_counter):016x}"
