-- wrk script for bench/serve.sh: GET /users/{id}/recommendations?n=10 for users drawn at
-- random (a fixed seed per thread) from the file named by MOVIEREC_BENCH_USERS, one id per
-- line; prints a JSON summary at the end.

local ids = {}
for line in io.lines(os.getenv("MOVIEREC_BENCH_USERS")) do
  ids[#ids + 1] = line
end

local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("seed", counter)
end

function init(args)
  math.randomseed(42 + (seed or 0))
end

function request()
  return wrk.format("GET", "/users/" .. ids[math.random(#ids)] .. "/recommendations?n=10")
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "seconds": %.3f, "rps": %.1f, "p50_ms": %.4f, "p90_ms": %.4f, "p99_ms": %.4f, "max_ms": %.3f, ' ..
    '"non_2xx": %d, "socket_errors": %d}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    e.status, e.connect + e.read + e.write + e.timeout))
end
