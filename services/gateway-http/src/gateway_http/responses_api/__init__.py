"""OpenAI's Responses API as a front door: pure translation to and from the chat turn.

``request`` turns a ``POST /v1/responses`` body into a ``ChatRequest``; ``output`` turns the
turn's ``ChatResponse`` into the ``response`` object; ``events`` turns its stream into the
typed Responses events. The route (``routes/responses.py``) only drives them.
"""
