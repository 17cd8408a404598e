"""Ports: the async protocols the core needs from the outside world, one module per port.

Import each from its module (``from gateway_core.ports.providers import ChatProvider``):
``providers``, ``tools``, ``sessions``, ``rate_limits``, ``cache``, ``usage``, ``clock``.
"""
