-- wrk script for the benchmark harness (bench/harness.py). Configured by environment:
--   BENCH_LABEL   name written in the result line
--   BENCH_PATHS   file of request paths, one per line, taken in turn (default: the URL's path)
--   BENCH_TOKENS  file of access tokens, one per line: signed-in requests, taken in turn
-- done() prints one JSON line: requests/s, latency percentiles (ms), status counts.

local function lines(path)
  local t = {}
  if path and path ~= "" then
    for l in io.lines(path) do if l ~= "" then t[#t + 1] = l end end
  end
  return t
end

local threads = {}

function setup(thread)
  thread:set("index", #threads)
  threads[#threads + 1] = thread
end

function init(args)
  paths = lines(os.getenv("BENCH_PATHS"))
  if #paths == 0 then paths = { wrk.path } end
  tokens = lines(os.getenv("BENCH_TOKENS"))
  -- Threads start at different places in the lists.
  next_path, next_token = index * 7, index * 13
  statuses = {}
end

function request()
  next_path = next_path % #paths + 1
  local headers = {}
  if #tokens > 0 then
    next_token = next_token % #tokens + 1
    headers["Authorization"] = "Bearer " .. tokens[next_token]
  end
  return wrk.format("GET", paths[next_path], headers)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local merged = {}
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("statuses") or {}) do merged[k] = (merged[k] or 0) + v end
  end
  local parts = {}
  for k, v in pairs(merged) do parts[#parts + 1] = string.format('"%d": %d', k, v) end
  local secs = summary.duration / 1e6
  io.write(string.format(
    '{"label": "%s", "requests": %d, "seconds": %.3f, "rps": %.1f, "p50_ms": %.2f, "p90_ms": %.2f, ' ..
    '"p99_ms": %.2f, "max_ms": %.2f, "statuses": {%s}, "socket_errors": %d}\n',
    os.getenv("BENCH_LABEL") or "wrk", summary.requests, secs, summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, table.concat(parts, ", "),
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
