-- PATCH /lightify/v4/devices/<id> with a JSON body and a bearer token (env
-- BENCH_TOKEN; body from env BENCH_BODY). Static request: wrk builds it once.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "common.lua")

wrk.method = "PATCH"
wrk.body = os.getenv("BENCH_BODY") or '{"onOff":"on","brightness":42}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_TOKEN") or "")
