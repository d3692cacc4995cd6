-- wrk script: every request carries a random token from a file (one per line; an empty file sends none).
-- Arguments after `--`: TOKENS_FILE PATH [METHOD]
local tokens = {}
local path = "/"
local method = "GET"

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then tokens[#tokens + 1] = line end
  end
  path = args[2] or "/"
  method = args[3] or "GET"
  math.randomseed(os.time() * 1000 + math.floor(os.clock() * 1e6))
end

function request()
  if #tokens == 0 then
    return wrk.format(method, path)
  end
  return wrk.format(method, path, { ["Authorization"] = "Bearer " .. tokens[math.random(#tokens)] })
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT {\"requests\":%d,\"duration_us\":%d,\"status_errors\":%d,\"socket_errors\":%d," ..
    "\"p50_us\":%d,\"p99_us\":%d,\"mean_us\":%.1f,\"max_us\":%d}\n",
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), latency.mean, latency.max))
end
