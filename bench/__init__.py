"""The gateway's benchmark harness (issue 7): ``uv run python -m bench run [--quick]``.

See docs/PERFORMANCE.md for the method and the latest figures.
"""
