"""Anthropic's Messages API as a front door: pure translation to and from the chat turn.

``body`` decodes ``POST /v1/messages``; ``request`` turns it into a ``ChatRequest``;
``output`` turns the turn's answer into the ``message`` object; ``events`` turns its stream
into Anthropic's event sequence; ``errors`` gives every gateway error Anthropic's shape.
"""
