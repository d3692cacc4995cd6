-- wrk script for a fixed request count (bench/syscalls.py): random_token.lua, and wrk exits after N responses
-- (thread:stop() would only stop sending until -d runs out). At most -c requests are still in flight then.
-- Arguments after `--`: TOKENS_FILE PATH N
local tokens = {}
local path = "/"
local limit = 0
local seen = 0

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then tokens[#tokens + 1] = line end
  end
  path = args[2] or "/"
  limit = tonumber(args[3]) or 0
  math.randomseed(os.time() * 1000 + math.floor(os.clock() * 1e6))
end

function request()
  if #tokens == 0 then
    return wrk.format("GET", path)
  end
  return wrk.format("GET", path, { ["Authorization"] = "Bearer " .. tokens[math.random(#tokens)] })
end

function response(status, headers, body)
  seen = seen + 1
  if limit > 0 and seen >= limit then
    io.write(string.format("RESULT {\"requests\":%d}\n", seen))
    io.flush()
    os.exit(0)
  end
end

function done(summary, latency, requests)
  io.write(string.format("RESULT {\"requests\":%d}\n", summary.requests))
end
