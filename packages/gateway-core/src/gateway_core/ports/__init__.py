"""Ports: the async protocols the core needs from the outside world, one module per port."""

from gateway_core.ports.cache import ResponseCache
from gateway_core.ports.clock import Clock
from gateway_core.ports.providers import ChatProvider
from gateway_core.ports.rate_limits import RateLimitDecision, RateLimitStore
from gateway_core.ports.sessions import SessionStore
from gateway_core.ports.tools import ArgumentsValidator, ToolBackend
from gateway_core.ports.usage import UsageQuery, UsageSink, UsageStore, UsageTotal

__all__ = [
    "ArgumentsValidator",
    "ChatProvider",
    "Clock",
    "RateLimitDecision",
    "RateLimitStore",
    "ResponseCache",
    "SessionStore",
    "ToolBackend",
    "UsageQuery",
    "UsageSink",
    "UsageStore",
    "UsageTotal",
]
