-- One chat turn per request with Planbase's offline model, to a random session from a file:
-- POST /api/v1/sessions/<id>/chat {"content":"…"} (JSON answer, not the stream).
--
--   wrk -t2 -c64 -d10s -s chat.lua http://127.0.0.1:PORT -- IDS_FILE

local common = require "common"
setup = common.setup
done = common.done

local ids
local counter = 0

function init(args)
  ids = common.read_ids(args[1])
  math.randomseed(os.time() * 1000 + (tid or 0))
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  local sid = ids[math.random(#ids)]
  local body = '{"content":' .. common.json_str(string.format(
    "how are you today? (turn %d-%d)", tid or 0, counter)) .. '}'
  return wrk.format("POST", "/api/v1/sessions/" .. sid .. "/chat", nil, body)
end
