-- POST <token endpoint> grant_type=refresh_token, following rotation.
--
-- Refresh tokens rotate: each refresh kills the token it used and returns a new
-- one, so every chain must be strictly sequential. Each wrk thread gets its own
-- tokens from the file named by BENCH_TOKENS_FILE (one refresh token per line, all
-- obtained up front through the real OAuth flow; BENCH_TOKENS_PER_THREAD each):
-- one per connection it drives plus one spare, because wrk calls request() once on
-- the first thread to check the script and never sends that request. A thread
-- keeps its tokens in a queue: request() takes the oldest, response() parses the
-- rotated refresh token out of the body and appends it. A connection has one
-- request in flight and a token re-enters the queue only once its refresh has
-- answered, so a token is never used twice and no chain is ever forked.
-- A response without a new token ends its chain: it is counted ("broken") and the
-- next request with no token left is sent with an invalid one ("starved") so the
-- failure shows in wrk's non-2xx count too.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "common.lua")

bench.counters = {"ok", "broken", "starved"}

local client_id = os.getenv("BENCH_CLIENT_ID") or ""
local client_secret = os.getenv("BENCH_CLIENT_SECRET") or ""
local per_thread = tonumber(os.getenv("BENCH_TOKENS_PER_THREAD") or "1")

-- main state: hand each thread its slice of the token file
local all_tokens
function bench.setup(thread, index)
  if not all_tokens then
    all_tokens = {}
    for line in io.lines(os.getenv("BENCH_TOKENS_FILE")) do
      if line ~= "" then all_tokens[#all_tokens + 1] = line end
    end
  end
  local first = (index - 1) * per_thread
  local mine = {}
  for i = 1, per_thread do
    local tok = all_tokens[first + i]
    assert(tok, "BENCH_TOKENS_FILE has too few tokens for this many threads/connections")
    mine[#mine + 1] = tok
  end
  thread:set("initial", table.concat(mine, " "))
end

-- thread state
local queue, head, tail = {}, 1, 0
ok, broken, starved, sample = 0, 0, 0, ""

function init(args)
  for tok in string.gmatch(initial or "", "%S+") do
    tail = tail + 1
    queue[tail] = tok
  end
end

local headers = {["Content-Type"] = "application/x-www-form-urlencoded"}

function request()
  local tok
  if head <= tail then
    tok = queue[head]
    queue[head] = nil
    head = head + 1
  else
    starved = starved + 1
    tok = "chain-broken"
  end
  local body = "grant_type=refresh_token&client_id=" .. client_id ..
      "&client_secret=" .. client_secret .. "&refresh_token=" .. tok
  return wrk.format("POST", nil, headers, body)
end

function response(status, hdrs, body)
  local tok = status == 200 and body:match('"refresh_token"%s*:%s*"([^"]+)"')
  if tok then
    ok = ok + 1
    tail = tail + 1
    queue[tail] = tok
  else
    broken = broken + 1
    if sample == "" then sample = status .. " " .. body:sub(1, 200) end
  end
end
