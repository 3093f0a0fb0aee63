-- GET PREFIX .. <random id from IDS_FILE> .. SUFFIX per request: pages of many different
-- sessions (with more sessions than storage.max_open_shards, most are cold shard opens).
--
--   wrk -t2 -c32 -d10s -s get_ids.lua http://127.0.0.1:PORT -- IDS_FILE /api/v1/sessions/ /messages?limit=50

local common = require "common"
setup = common.setup
done = common.done

local ids, prefix, suffix

function init(args)
  ids = common.read_ids(args[1])
  prefix, suffix = args[2] or "/", args[3] or ""
  math.randomseed(os.time() * 1000 + (tid or 0))
end

function request()
  return wrk.format("GET", prefix .. ids[math.random(#ids)] .. suffix)
end
