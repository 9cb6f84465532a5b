-- A request with a body and a bearer token: method from env BENCH_METHOD (default
-- POST), body from BENCH_BODY, Content-Type from BENCH_CONTENT_TYPE (default a form,
-- as pyatmo posts Netatmo's /api/* methods), token from BENCH_TOKEN. Static request:
-- wrk builds it once.
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
