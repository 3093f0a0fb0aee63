-- Seeding, not measuring: POST about QUOTA appends to ONE session (or session creates), then
-- stop. Each thread stops its event loop after QUOTA/THREADS answered requests and creates
-- the file MARKER.<thread>; wrk itself only exits after -d, so bench/run waits for all the
-- markers and then sends wrk SIGINT. A few requests in flight at that moment may still land,
-- so bench/run reads the real count back afterwards.
--
--   wrk -t2 -c32 -d3600s -s seed.lua http://127.0.0.1:PORT -- MODE QUOTA THREADS MARKER [ARG]
--
-- MODE
--   append  ARG = session id: POST /api/v1/sessions/<ARG>/messages (unique UIMessages)
--   create  ARG = output file prefix: POST /api/v1/sessions {} and write each new id to
--           ARG.<thread> (one id per line); bench/run concatenates them.
-- Non-2xx answers are counted and printed by done() like every other script.

local common = require "common"
setup = common.setup
done = common.done

local mode, quota, marker, arg, out
local answered, counter = 0, 0

function init(args)
  mode = args[1]
  quota = math.ceil(tonumber(args[2]) / tonumber(args[3]))
  marker = args[4]
  arg = args[5]
  wrk.headers["Content-Type"] = "application/json"
  if mode == "create" then
    out = assert(io.open(arg .. "." .. tid, "w"))
  end
end

function request()
  counter = counter + 1
  if mode == "create" then
    return wrk.format("POST", "/api/v1/sessions", nil, "{}")
  end
  local text = common.json_str(string.format(
    "seed message %d-%d, a short chat line about the weather", tid or 0, counter))
  return wrk.format("POST", "/api/v1/sessions/" .. arg .. "/messages", nil,
    '{"role":"user","parts":[{"type":"text","text":' .. text .. '}]}')
end

function response(status, headers, body)
  answered = answered + 1
  if out and status == 201 then
    local id = body:match('"id"%s*:%s*"([0-9a-fA-F%-]+)"')
    if id then out:write(id, "\n") end
  end
  if answered >= quota then
    if out then out:close(); out = nil end
    assert(io.open(marker .. "." .. tid, "w")):close()
    wrk.thread:stop()
  end
end
