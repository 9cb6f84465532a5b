-- Shared by the bench/wrk/*.lua scripts: collect per-thread counters and print one
-- machine-readable line, "BENCH_JSON {...}", from done(). bench/run.py parses it.
-- Latencies are wrk's, in microseconds.

bench = bench or {}
bench.threads = {}
bench.counters = bench.counters or {}   -- names of per-thread counters to sum in done()

local function encode(v)
  local t = type(v)
  if t == "number" then
    if v ~= v or v == math.huge or v == -math.huge then return "null" end
    return string.format("%.17g", v)
  elseif t == "string" then
    return '"' .. v:gsub('[%c"\\]', function(c)
      return string.format("\\u%04x", c:byte())
    end) .. '"'
  elseif t == "boolean" then
    return tostring(v)
  elseif t == "table" then
    local parts = {}
    if #v > 0 then  -- a sequence: a JSON array
      for _, x in ipairs(v) do parts[#parts + 1] = encode(x) end
      return "[" .. table.concat(parts, ",") .. "]"
    end
    for k, x in pairs(v) do
      parts[#parts + 1] = encode(tostring(k)) .. ":" .. encode(x)
    end
    return "{" .. table.concat(parts, ",") .. "}"
  end
  return "null"
end

-- Remember every thread so done() can read its counters.
function bench.register(thread)
  bench.threads[#bench.threads + 1] = thread
end

function setup(thread)
  bench.register(thread)
  if bench.setup then bench.setup(thread, #bench.threads) end
end

function done(summary, latency, requests)
  local sums = {}
  for _, name in ipairs(bench.counters) do
    sums[name] = 0
    for _, thread in ipairs(bench.threads) do
      sums[name] = sums[name] + (tonumber(thread:get(name)) or 0)
    end
  end
  local samples = {}
  for _, thread in ipairs(bench.threads) do
    local s = thread:get("sample")
    if s and s ~= "" and #samples < 3 then samples[#samples + 1] = s end
  end
  local out = {
    duration_us = summary.duration,
    requests = summary.requests,
    bytes = summary.bytes,
    errors = {
      connect = summary.errors.connect,
      read = summary.errors.read,
      write = summary.errors.write,
      status = summary.errors.status,   -- responses with status > 399
      timeout = summary.errors.timeout,
    },
    latency_us = {
      min = latency.min, max = latency.max, mean = latency.mean, stdev = latency.stdev,
      p50 = latency:percentile(50), p75 = latency:percentile(75),
      p90 = latency:percentile(90), p99 = latency:percentile(99),
      p999 = latency:percentile(99.9),
    },
    counters = sums,
    samples = samples,
    threads = #bench.threads,
  }
  io.write("BENCH_JSON " .. encode(out) .. "\n")
end
