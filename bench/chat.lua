-- wrk script for the benchmark: POST one chat request (body and headers from the harness)
-- over every connection, and print a machine-readable summary line at the end.
--   BENCH_BODY           the request body (JSON), built by bench/payloads.py
--   BENCH_AUTHORIZATION  optional Authorization header value
--   BENCH_ANTHROPIC      "1" to add the headers Anthropic's API expects
--   BENCH_HEADERS        optional further headers, one "name: value" per line (the anchors')
wrk.method = "POST"
wrk.body = os.getenv("BENCH_BODY") or error("BENCH_BODY is not set")
wrk.headers["Content-Type"] = "application/json"
local authorization = os.getenv("BENCH_AUTHORIZATION")
if authorization and authorization ~= "" then
  wrk.headers["Authorization"] = authorization
end
if os.getenv("BENCH_ANTHROPIC") == "1" then
  wrk.headers["x-api-key"] = "bench-upstream-key"
  wrk.headers["anthropic-version"] = "2023-06-01"
end

local extra = os.getenv("BENCH_HEADERS") or ""
for line in extra:gmatch("[^\n]+") do
  local name, value = line:match("^([^:]+):%s*(.*)$")
  if name then
    wrk.headers[name] = value
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9), latency.max))
end
