-- A request with a body and a bearer token: method from env BENCH_METHOD (default
-- POST), body from BENCH_BODY, Content-Type from BENCH_CONTENT_TYPE (default a form,
-- as pyatmo posts Netatmo's /api/* methods), token from BENCH_TOKEN. Static request:
-- wrk builds it once; with BENCH_BODY_ALT the requests alternate between the two
-- bodies (a write that really changes something at every request).
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "common.lua")

wrk.method = os.getenv("BENCH_METHOD") or "POST"
wrk.body = os.getenv("BENCH_BODY") or ""
wrk.headers["Content-Type"] = os.getenv("BENCH_CONTENT_TYPE")
  or "application/x-www-form-urlencoded"
local token = os.getenv("BENCH_TOKEN") or ""
if token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end
local alt = os.getenv("BENCH_BODY_ALT")
if alt and alt ~= "" then
  local bodies, n = {wrk.body, alt}, 0
  request = function()
    n = n + 1
    return wrk.format(nil, nil, nil, bodies[n % 2 + 1])
  end
end
