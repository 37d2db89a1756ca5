-- Test harness: drives slurm/omnipilot_zmtp.lua from one Lua process, so that a cached
-- connection lives across the requests of one run, exactly as in slurmctld's Lua state.
-- Usage: lua5.1 zmtp_client.lua SLURM_DIR < spec.json
-- spec: {"endpoint": E, "requests": [{"body": S, "timeout_ms": N, "max_reply_bytes": N,
--        "sleep_ms": N (before sending), "close_first": bool}]}
-- Prints one JSON line per request: {"reply", "err", "ms", "cached_before"}.
local slurm_dir = assert(arg[1], "usage: lua5.1 zmtp_client.lua SLURM_DIR < spec.json")
local socket = require("socket")
local cjson = require("cjson")
local zmtp = dofile(slurm_dir .. "/omnipilot_zmtp.lua")

local spec = cjson.decode(io.read("*a"))
for _, r in ipairs(spec.requests) do
  if r.sleep_ms then socket.sleep(r.sleep_ms / 1000) end
  if r.close_first then zmtp.close() end
  local cached_before = zmtp.connected()
  local t0 = socket.gettime()
  local reply, err = zmtp.request(spec.endpoint, r.body, r.timeout_ms,
    { max_reply_bytes = r.max_reply_bytes })
  local ms = (socket.gettime() - t0) * 1000
  io.write(cjson.encode({ reply = reply, err = err, ms = ms, cached_before = cached_before }), "\n")
  io.flush()
end
