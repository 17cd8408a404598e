"""LLM provider adapters, one folder per vendor: adapter.py, wire.py (pure), errors.py (table)."""
