-- GET the URL given to wrk, every request the same (the newest-50 page of one session, an
-- export, …). No request() function is defined, so wrk keeps its static fast path.
--
--   wrk -t2 -c32 -d10s -s get.lua 'http://127.0.0.1:PORT/api/v1/sessions/ID/messages?limit=50'

local common = require "common"
setup = common.setup
done = common.done
