"""gateway-core: the framework-free heart of llm-gateway.

What an application needs is exported here (``__all__``): ``build_gateway`` makes a working
gateway from providers and optional stores in one call (docs/IN_PROCESS.md); the domain values
a chat is made of; the ports to implement; the error tree. The rest lives in the subpackages:
``gateway_core.domain`` (values), ``gateway_core.ports`` (Protocols), ``gateway_core.use_cases``
(the business rules), ``gateway_core.memory`` (in-memory stores), ``gateway_core.errors`` (the
whole tree) and ``gateway_core.testing`` (fakes for your own tests, docs/TESTING.md). Nothing
here does I/O or knows about HTTP.
"""

from gateway_core.domain.cache_keys import CacheUse
from gateway_core.domain.chat import ChatChunk, ChatRequest, ChatResponse, Choice, ToolCallDelta
from gateway_core.domain.messages import ImagePart, Message, TextPart, ToolCall
from gateway_core.domain.money import Money
from gateway_core.domain.pricing import Price, PriceTable
from gateway_core.domain.routing import ModelRoute, PatternRoute, RoutingTable, Target
from gateway_core.domain.stream_accumulator import StreamAccumulator
from gateway_core.domain.tools import ToolSpec
from gateway_core.domain.usage import Usage
from gateway_core.errors import GatewayError, ProviderError
from gateway_core.functions import FunctionTool
from gateway_core.gateway import IN_PROCESS_CALLER, Gateway, build_gateway
from gateway_core.ports.cache import ResponseCache
from gateway_core.ports.providers import ChatProvider
from gateway_core.ports.sessions import SessionStore
from gateway_core.ports.usage import UsageStore
from gateway_core.use_cases.caller import ChatCaller
from gateway_core.use_cases.chat_turn import ChatTurn, TurnOutcome
from gateway_core.use_cases.rate_limit import RateLimits
from gateway_core.use_cases.turn_cache import ChatOptions

__version__ = "0.1.0"

__all__ = [
    "IN_PROCESS_CALLER",
    "CacheUse",
    "ChatCaller",
    "ChatChunk",
    "ChatOptions",
    "ChatProvider",
    "ChatRequest",
    "ChatResponse",
    "ChatTurn",
    "Choice",
    "FunctionTool",
    "Gateway",
    "GatewayError",
    "ImagePart",
    "Message",
    "ModelRoute",
    "Money",
    "PatternRoute",
    "Price",
    "PriceTable",
    "ProviderError",
    "RateLimits",
    "ResponseCache",
    "RoutingTable",
    "SessionStore",
    "StreamAccumulator",
    "Target",
    "TextPart",
    "ToolCall",
    "ToolCallDelta",
    "ToolSpec",
    "TurnOutcome",
    "Usage",
    "UsageStore",
    "__version__",
    "build_gateway",
]
