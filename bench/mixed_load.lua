-- wrk script: a mix of the public's requests (bench/mixed_load.py writes the list and runs wrk).
--   wrk ... -s bench/mixed_load.lua URL -- REQUEST_FILE
-- REQUEST_FILE: a first line "mix <intake> <tracking> <public> <open311>" (weights, any unit),
-- then one "<class> <path>" a line for the GET classes and one "intake <JSON body>" a line for
-- the POSTs, where "{n}" in a body becomes a random number (no two descriptions alike). The
-- bodies come from the bench, not from bench/intake_post.lua: their positions must lie inside
-- the city's areas (intake refuses the harbour and the sea, which central Marseille's square
-- of intake_post.lua has).
-- wrk does not tell which request an answer belongs to: status codes are counted all together
-- and printed by done() as "statuses 200=...,201=...".
local classes = { "intake", "tracking", "public", "open311" }
local paths = { intake = {}, tracking = {}, public = {}, open311 = {} }
local cumulative = {}
local json_headers = { ["Content-Type"] = "application/json" }

function init(args)
  local file = assert(io.open(args[1]), "no request file")
  for line in file:lines() do
    local kind, rest = line:match("^(%S+)%s+(.+)$")
    if kind == "mix" then
      local total, i = 0, 0
      for weight in rest:gmatch("%S+") do
        i = i + 1
        total = total + tonumber(weight)
        cumulative[i] = total
      end
      for j = 1, #cumulative do cumulative[j] = cumulative[j] / total end
    elseif paths[kind] then
      table.insert(paths[kind], rest)
    end
  end
  file:close()
  math.randomseed(os.time())
  statuses = {}
end

-- Defined at the top level: wrk calls request() for every request only if the script has one.
function request()
  local roll = math.random()
  local kind = classes[#classes]
  for i = 1, #cumulative do
    if roll <= cumulative[i] then kind = classes[i]; break end
  end
  local list = paths[kind]
  local line = list[math.random(#list)]
  if kind == "intake" then
    local body = line:gsub("{n}", tostring(math.random(1000000)))
    return wrk.format("POST", "/api/v1/reports", json_headers, body)
  end
  return wrk.format("GET", line, {})
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses") or {}) do
      total[status] = (total[status] or 0) + count
    end
  end
  local parts = {}
  for status, count in pairs(total) do
    table.insert(parts, string.format("%d=%d", status, count))
  end
  table.sort(parts)
  io.write("statuses " .. table.concat(parts, ",") .. "\n")
end
