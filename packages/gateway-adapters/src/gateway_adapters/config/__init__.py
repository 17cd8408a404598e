"""The config inputs' models (keys, pricing, tools; providers.json lives in the service) and
the one formatter of their mistakes, ``validation``."""
