-- wrk script of benches/ledger.sh: ledger transfers, each request with an
-- Idempotency-Key of its own (a key sent twice would be a replay, not a
-- transfer). Settings from the environment (benches/ledger_bench.py sets them):
--
--   L_MODE        pairs: a random pair of distinct accounts of the list
--                 hot:   the list's first two accounts, back and forth
--   L_ACCOUNTS    file of account ids, one a line
--   L_TOKEN       the access token of the tenant's owner (who may move any account)
--   L_PATH        /v1/tenants/<slug>/ledger/transfers
--   L_KEY_PREFIX  makes this run's keys unique in the tenant (keys are the tenant's)
--   L_OUT         where done() writes its JSON summary
--
-- Amounts are 0.01 to 0.99 from accounts funded with far more: no transfer
-- may be refused for lack of funds, so every answer but 201 is an error.

local MODE = os.getenv("L_MODE") or "pairs"
local ACCOUNTS = os.getenv("L_ACCOUNTS")
local TOKEN = os.getenv("L_TOKEN")
local PATH = os.getenv("L_PATH")
local KEY_PREFIX = os.getenv("L_KEY_PREFIX") or "ledger"
local OUT = os.getenv("L_OUT")

local threads = {}

function setup(thread)
   table.insert(threads, thread)
   thread:set("thread_no", #threads)
end

local accounts = {}
local headers = {}
statuses = {}
sent = 0

function init(args)
   math.randomseed(os.time() * 1000 + (thread_no or 0) * 7919)
   for line in io.lines(ACCOUNTS) do
      if #line > 0 then
         accounts[#accounts + 1] = line
      end
   end
   assert(#accounts >= 2, "fewer than two accounts in " .. tostring(ACCOUNTS))
   headers["Authorization"] = "Bearer " .. TOKEN
   headers["Content-Type"] = "application/json"
end

function request()
   sent = sent + 1
   local from, to
   if MODE == "hot" then
      if sent % 2 == 0 then
         from, to = accounts[1], accounts[2]
      else
         from, to = accounts[2], accounts[1]
      end
   elseif MODE == "pairs" then
      local i = math.random(#accounts)
      local j = math.random(#accounts - 1)
      if j >= i then
         j = j + 1
      end
      from, to = accounts[i], accounts[j]
   else
      error("unknown L_MODE " .. tostring(MODE))
   end
   headers["Idempotency-Key"] = string.format("%s-%d-%d", KEY_PREFIX, thread_no or 0, sent)
   local body = string.format('{"from":"%s","to":"%s","amount":"0.%02d"}', from, to, math.random(1, 99))
   return wrk.format("POST", PATH, headers, body)
end

function response(status, headers, body)
   local k = tostring(status)
   statuses[k] = (statuses[k] or 0) + 1
end

local function json_obj(t)
   local parts = {}
   for k, v in pairs(t) do
      parts[#parts + 1] = string.format("%q:%s", tostring(k), tostring(v))
   end
   return "{" .. table.concat(parts, ",") .. "}"
end

function done(summary, latency, requests)
   local agg = {}
   local nsent = 0
   for _, t in ipairs(threads) do
      nsent = nsent + (t:get("sent") or 0)
      for k, v in pairs(t:get("statuses") or {}) do
         agg[k] = (agg[k] or 0) + v
      end
   end
   local e = summary.errors
   local s = string.format(
      '{"mode":%q,"duration_us":%d,"requests":%d,"sent":%d,' ..
      '"socket_errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d},' ..
      '"latency":{"p50_us":%d,"p99_us":%d,"max_us":%d},"statuses":%s}',
      MODE, summary.duration, summary.requests, nsent,
      e.connect, e.read, e.write, e.timeout,
      latency:percentile(50), latency:percentile(99), latency.max, json_obj(agg))
   local f = assert(io.open(OUT, "w"))
   f:write(s, "\n")
   f:close()
end
