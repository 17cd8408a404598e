"""gateway-core: the framework-free heart of llm-gateway.

Domain values (``gateway_core.domain``), ports (``gateway_core.ports``), use cases
(``gateway_core.use_cases``), the error tree (``gateway_core.errors``) and fakes for other
projects' tests (``gateway_core.testing``). Nothing here does I/O or knows about HTTP.
"""

__version__ = "0.1.0"
