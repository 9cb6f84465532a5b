-- GET with an optional bearer token (env BENCH_TOKEN); static request, so wrk
-- builds it once. Used for GET /lightify/v4/devices and for the hello-world.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "common.lua")

local token = os.getenv("BENCH_TOKEN") or ""
if token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end
