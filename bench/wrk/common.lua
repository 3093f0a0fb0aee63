-- Shared helpers for the wrk scripts in bench/wrk/ (loaded with `require "common"`;
-- bench/run puts this directory on LUA_PATH).
--
-- * Every thread gets a number (`tid`) from setup(), so message bodies are unique across
--   threads: "<tid>-<counter>".
-- * done() prints ONE machine-readable line that bench/run greps for:
--     WRK_RESULT {"requests":N,"duration_s":S,"rps":R,"p50_ms":..,"p90_ms":..,"p99_ms":..,
--                 "max_ms":..,"non2xx":E,"socket_errors":K,"bytes":B}
--   non2xx is wrk's own status-error count (responses with status >= 400; none of the
--   servers measured here answer 1xx/3xx); socket_errors adds connect/read/write/timeout.
--   Counting through wrk's summary keeps response() undefined, so wrk never hands response
--   bodies to Lua on the measured paths (that would cost throughput).

local M = {}

local threads = {}
local next_tid = 0

-- Runs in the main Lua state, once per thread, before the thread's init().
function M.setup(thread)
  next_tid = next_tid + 1
  thread:set("tid", next_tid)
  table.insert(threads, thread)
end

-- Reads one id per line (blank lines skipped).
function M.read_ids(path)
  local ids = {}
  for line in io.lines(path) do
    line = line:gsub("%s+", "")
    if #line > 0 then ids[#ids + 1] = line end
  end
  assert(#ids > 0, "no ids in " .. path)
  return ids
end

-- JSON string escaping for the few characters our generated text can contain.
function M.json_str(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    return string.format("\\u%04x", c:byte())
  end) .. '"'
end

function M.done(summary, latency, requests)
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format(
    'WRK_RESULT {"requests":%d,"duration_s":%.3f,"rps":%.1f,"p50_ms":%.3f,"p90_ms":%.3f,' ..
    '"p99_ms":%.3f,"max_ms":%.3f,"non2xx":%d,"socket_errors":%d,"bytes":%d}\n',
    summary.requests, secs, summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    e.status, e.connect + e.read + e.write + e.timeout, summary.bytes))
end

return M
