-- POST one new chat message per request, each to a random session id from a file.
--
--   wrk -t2 -c64 -d10s -s append.lua http://127.0.0.1:PORT -- IDS_FILE [FLAVOR]
--
-- FLAVOR
--   planbase (default): POST /api/v1/sessions/<id>/messages with an AI SDK UIMessage
--       {"role":"user","parts":[{"type":"text","text":"…"}]}. Also used for the axum JSON
--       echo and the axum + tokio-postgres peer, which serve the same route and body.
--   pocketbase: POST /api/collections/messages/records with the same message as a record
--       {"session":"<id>","role":"user","content":"…","parts":[{"type":"text","text":"…"}]}.
-- Every body is unique ("<thread>-<counter>"), so no server can deduplicate or cache it.

local common = require "common"
setup = common.setup
done = common.done

local ids, flavor
local counter = 0

function init(args)
  ids = common.read_ids(args[1])
  flavor = args[2] or "planbase"
  math.randomseed(os.time() * 1000 + (tid or 0))
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  local sid = ids[math.random(#ids)]
  local text = common.json_str(string.format(
    "benchmark message %d-%d, a short chat line about the weather", tid or 0, counter))
  local parts = '[{"type":"text","text":' .. text .. '}]'
  if flavor == "pocketbase" then
    return wrk.format("POST", "/api/collections/messages/records", nil,
      '{"session":"' .. sid .. '","role":"user","content":' .. text .. ',"parts":' .. parts .. '}')
  end
  return wrk.format("POST", "/api/v1/sessions/" .. sid .. "/messages", nil,
    '{"role":"user","parts":' .. parts .. '}')
end
