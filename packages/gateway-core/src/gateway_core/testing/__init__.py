"""Fakes for tests, here and in other projects: ``from gateway_core.testing import ...``.

- ``ScriptedProvider``: a ``ChatProvider`` that answers from a script of replies (text, tool
  calls, or errors to raise), records every request it got, and streams replies word by word.
- ``FakeClock``: a ``Clock`` that only moves when told to.
"""

from gateway_core.testing.clock import FakeClock
from gateway_core.testing.provider import Reply, ScriptedProvider

__all__ = ["FakeClock", "Reply", "ScriptedProvider"]
