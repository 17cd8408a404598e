"""The provider path's resilience: which deployment to call next, how long to wait first,
and what each outcome says about a deployment's health. No I/O: a clock and a random source
are handed in, so every policy is tested without sleeping.

- ``window``: counts over a sliding window, in fixed buckets (no allocation per call)
- ``retry``: which failures are worth another attempt, the backoff, the retry budget
- ``health``: a deployment's circuit breaker, 429 cooldown, calls in flight, latency average
- ``balance``: the routing strategies (weighted, least in flight, lowest latency)
- ``planner``: ties them together for one request: yields attempts, hears their outcomes
"""
