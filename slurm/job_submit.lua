-- job_submit.lua: OmniPilot's thin Slurm hook. Recognises candidate vLLM jobs with a cheap text
-- check, asks the OmniPilot daemon (one bounded ZMTP round trip) and applies its answer. All
-- policy, parsing and state live in the daemon (Python); this file only moves bytes and fails
-- open. Wire format, settings and failure behaviour: docs/wire-protocol.md.

local HERE = (debug.getinfo(1, "S").source or ""):match("^@(.*)/[^/]*$") or "."

local DEFAULTS = {
  socket = "ipc:///run/omnipilot/omnipilot.sock", timeout_ms = 50, fail_closed = false,
  kill_switch = "/etc/slurm/omnipilot.disabled", breaker_failures = 3, breaker_cooloff_s = 30,
  max_script_bytes = 65536, max_reply_bytes = 1048576, reject_code = 2072,
  max_request_bytes = 262144, -- the daemon's daemon.max_message_bytes: libzmq drops a larger peer unanswered
}
-- The only fields a reply may set. Clears ("") go first: on 22.05 gres and tres_per_node are one
-- field, so clearing a typeless --gres after writing gres would undo the rewrite.
local SETTABLE = { "tres_per_job", "tres_per_task", "tres_per_node", "gres", "partition",
  "cpus_per_tres", "mem_per_tres", "min_cpus", "pn_min_cpus" }
local FIELDS = { "comment", "partition", "tres_per_node", "tres_per_job", "tres_per_task", "gres",
  "num_nodes", "min_nodes", "max_nodes", "num_tasks", "time_limit", "account", "qos", "name",
  "work_dir", "cpus_per_task", "min_mem_per_node", "min_mem_per_cpu", "features", "req_nodes",
  "exc_nodes", "array_inx", "user_id", "group_id", "cpus_per_tres", "mem_per_tres", "min_cpus",
  "pn_min_cpus" }
-- The variables sbatch exported for steps that carry the GPU request (enforce gives them the new
-- request's values). Only these names are read: the rest of the environment may hold secrets.
local GPU_ENV = { "SLURM_GPUS", "SLURM_GPUS_PER_NODE", "SLURM_GPUS_PER_TASK", "SLURM_GPUS_PER_SOCKET",
  "SLURM_TRES_PER_TASK", "SLURM_CPUS_PER_GPU", "SLURM_MEM_PER_GPU", "SLURM_GRES" }

-- Settings: omnipilot_settings.lua beside this file returns a table; a missing file or a key of
-- the wrong type falls back to the default, with a log line, so a bad render never breaks sbatch.
local function load_settings()
  local cfg, ok, loaded = {}, pcall(dofile, HERE .. "/omnipilot_settings.lua")
  if not ok or type(loaded) ~= "table" then
    slurm.log_info("%s", "omnipilot: settings not loaded (" .. tostring(loaded) .. "), using defaults")
    loaded = {}
  end
  for key, default in pairs(DEFAULTS) do
    local v = loaded[key]
    if v ~= nil and type(v) ~= type(default) then
      slurm.log_info("%s", "omnipilot: setting " .. key .. " has the wrong type, using default")
      v = nil
    end
    if v == nil then v = default end
    cfg[key] = v
  end
  return cfg
end

local CFG = load_settings()
local zok, zmtp = pcall(dofile, HERE .. "/omnipilot_zmtp.lua")
local jok, cjson = pcall(require, "cjson")
local json = jok and (cjson.new and cjson.new() or cjson) or nil
local socket = zok and require("socket") or nil
local breaker = { failures = 0, open_until = 0 }
-- Jobs failed open since the last answered request: sent with the next one, so `omnipilot status`
-- can count what the daemon itself never saw.
local unreported = 0
local counter = 0
math.randomseed(math.floor((socket and socket.gettime() or os.time()) * 1000) % 2147483647)
-- This Lua state (a new one after each reload), its running count of jobs the daemon never
-- answered (the daemon keeps the largest per hook: a count re-sent after a lost reply counts once),
-- and the ids of requests whose reply it gave up on (the decision log records those answers as unused).
local hook_id = string.format("%x-%x", os.time(), math.random(1, 1e9))
local fail_open_total = 0
local given_up = {}

local function now() return socket and socket.gettime() or os.time() end
local function field(t, k) local ok, v = pcall(function() return t[k] end); if ok then return v end end
local function str(v) if type(v) == "string" then return v end end

-- The cheap check: no round trip for jobs that are neither tagged nor vLLM.
local function is_candidate(script, comment)
  local s = string.lower(script or "")
  if (s .. "\n"):find("#omnipilot[ \t]+off[ \t\r]*\n") then return false end -- the user opted out
  return s:find("vllm", 1, true) ~= nil or s:find("#omnipilot", 1, true) ~= nil
    or string.lower(comment or ""):find("omnipilot:", 1, true) ~= nil
end

-- Cut at max bytes without splitting a UTF-8 sequence (the daemon decodes the JSON as UTF-8).
local function truncate(s, max)
  if #s <= max then return s, false end
  local cut = max
  while cut > 0 and s:byte(cut + 1) >= 0x80 and s:byte(cut + 1) < 0xC0 do cut = cut - 1 end
  return s:sub(1, cut), true
end

local function list(t) -- Slurm hands argv 0-indexed; accept 1-indexed too.
  local out, i = {}, (type(t) == "table" and t[0] ~= nil) and 0 or 1
  while type(t) == "table" and t[i] ~= nil and #out < 1000 do out[#out + 1] = tostring(t[i]); i = i + 1 end
  return out
end

local function partition_names(part_list) -- keyed by name in slurmctld; records with .name too
  local names = {}
  for k, v in pairs(type(part_list) == "table" and part_list or {}) do
    local n = type(k) == "string" and k or str(field(v, "name"))
    if n then names[#names + 1] = n end
  end
  table.sort(names)
  return names
end

-- cjson writes a control byte as \u00XX (6 bytes): a field of them would grow 6x past the daemon's
-- size limit. Parsing never needs them, so in JSON fields they travel as "?". The script does not
-- travel in the JSON at all (build_request).
local CONTROL = "[%z\1-\8\11\12\14-\31\127]"
local function plain(s)
  local out, n = s:gsub(CONTROL, "?")
  return out, n > 0
end

-- The request: a JSON frame without the script, then the script as a raw second frame, byte for
-- byte (no escaping: its size is its length, and control bytes survive a rewrite). Returns the id
-- and the frames, or the id, nil and the size when even the bounded form is too large.
local function build_request(job_desc, part_list, submit_uid)
  counter = counter + 1
  local id = string.format("%d-%d-%d", math.floor(now() * 1e6), counter, math.random(1, 1e9))
  local script, truncated = str(field(job_desc, "script")), false -- nil for salloc/srun
  if script then script, truncated = truncate(script, CFG.max_script_bytes) end
  -- Never the job's environment: it may hold tokens and keys.
  local req = { v = 1, type = "advise", id = id, submit_uid = tonumber(submit_uid),
    fail_open_since_last = unreported, hook_id = hook_id, fail_open_total = fail_open_total }
  if #given_up > 0 then req.given_up = given_up end
  for _, k in ipairs(FIELDS) do -- sent as they are (NO_VAL sentinels too): the daemon normalises
    local v = field(job_desc, k)
    if type(v) == "string" then
      req[k] = (plain(v))
    elseif type(v) == "number" and v == v and math.abs(v) ~= math.huge then
      req[k] = v
    end
  end
  local parts, argv = partition_names(part_list), list(field(job_desc, "argv"))
  if #parts > 0 then req.part_list = parts end
  for i, a in ipairs(argv) do argv[i] = (plain((truncate(a, 1024)))) end
  if #argv > 0 then req.argv = argv end
  local env, gpu_env = field(job_desc, "environment"), nil
  for _, k in ipairs(type(env) == "table" and GPU_ENV or {}) do
    local v = str(field(env, k))
    if v then gpu_env = gpu_env or {}; gpu_env[k] = v end
  end
  req.gpu_env = gpu_env
  -- Measure before sending: the JSON frame, then the script within what is left (the daemon's limit
  -- is on both frames together). Over a quarter of it, the job's arguments and comment go first.
  local limit = CFG.max_request_bytes - 1024
  if #json.encode(req) > limit / 4 then
    req.argv, req.comment = nil, req.comment and (truncate(req.comment, 4096)) or nil
    req.argv_dropped = true
  end
  req.script_truncated = truncated
  -- cjson writes every "/" as "\/"; a "/" can only appear inside that escape, so undoing it is safe
  local body = (json.encode(req):gsub("\\/", "/"))
  if script and #body + #script > limit then
    script = truncate(script, math.max(limit - #body, 0)) -- "true" is shorter than "false"
    req.script_truncated = true
    body = (json.encode(req):gsub("\\/", "/"))
  end
  if #body + #(script or "") > CFG.max_request_bytes then return id, nil, #body + #(script or "") end
  return id, script and { body, script } or body
end

local function append_comment(job_desc, text)
  local old = str(field(job_desc, "comment")) or ""
  job_desc.comment = (old ~= "" and (old .. "; ") or "") .. text
end

-- Apply an accepted reply. Rewrites (set/env/script) only in enforce; messages for any action.
local function apply(job_desc, reply)
  local function val(x) if x ~= json.null then return x end end
  if str(val(reply.comment)) and reply.comment ~= "" then append_comment(job_desc, reply.comment) end
  if str(val(reply.user_message)) and reply.user_message ~= "" then
    slurm.log_user("%s", reply.user_message)
  end
  if reply.action ~= "enforce" then return slurm.SUCCESS end
  local set = type(val(reply.set)) == "table" and reply.set or {}
  for _, clearing in ipairs({ true, false }) do
    for _, k in ipairs(SETTABLE) do -- nil is never assigned (slurmctld raises on it); "" clears
      if type(set[k]) == "string" and (set[k] == "") == clearing then job_desc[k] = set[k] end
    end
  end
  local env = field(job_desc, "environment")
  for k, v in pairs(type(val(reply.env)) == "table" and reply.env or {}) do
    if type(env) == "table" and type(k) == "string" and k:match("^[%a_][%w_]*$")
      and (type(v) == "string" or type(v) == "number") then env[k] = tostring(v) end
  end
  if str(val(reply.script)) and reply.script ~= "" and str(field(job_desc, "script")) then
    job_desc.script = reply.script
  end
  return slurm.SUCCESS
end

-- One round trip; returns the decoded reply, or nil, a short reason for the comment and whose
-- failure it is: "daemon" (timeouts, connection and protocol errors: they count for the breaker)
-- or "job" (this job's own request was refused or too large: only this job goes unadvised).
local function ask(job_desc, part_list, submit_uid)
  if not (zok and json) then return nil, "hook cannot load luasocket/cjson", "daemon" end
  local id, body, size = build_request(job_desc, part_list, submit_uid)
  if not body then return nil, string.format("job too large to send: %d bytes", size), "job" end
  local function gave_up(reason)
    if #given_up < 64 then given_up[#given_up + 1] = id end
    return nil, reason, "daemon"
  end
  local raw, err = zmtp.request(CFG.socket, body, CFG.timeout_ms, { max_reply_bytes = CFG.max_reply_bytes })
  if not raw then return gave_up(err) end
  local ok, reply = pcall(json.decode, raw)
  if not ok or type(reply) ~= "table" then return gave_up("bad reply") end
  if reply.id ~= id then zmtp.close(); return gave_up("reply id mismatch") end
  given_up = {} -- the daemon read this request, and with it the ids it carried
  if reply.status ~= "ok" then
    return nil, "daemon error: " .. tostring(str(reply.error) or reply.status), "job"
  end
  local known = { none = 1, observe = 1, suggest = 1, enforce = 1, reject = 1 }
  if not known[reply.action] then return nil, "bad reply action " .. tostring(reply.action), "daemon" end
  return reply
end

-- Circuit breaker: after breaker_failures failures in a row, skip the daemon for the cool-off;
-- the first job after it is the one trial request (a failure reopens it, a success resets it).
local function failed()
  breaker.failures = breaker.failures + 1
  if breaker.failures >= CFG.breaker_failures then breaker.open_until = now() + CFG.breaker_cooloff_s end
end

local function fail(job_desc, reason, answered)
  if not answered then -- a job the daemon answered (with an error) is counted by the daemon itself
    unreported, fail_open_total = unreported + 1, fail_open_total + 1
  end
  slurm.log_info("%s", "omnipilot: daemon unavailable (" .. reason .. ")")
  local short, cut = truncate(reason, 60) -- the comment stays readable; the log has it all
  reason = cut and (short .. "...") or short
  if CFG.fail_closed then
    slurm.log_user("%s", "OmniPilot could not check this vLLM job (" .. reason .. ") and this site"
      .. " requires it (fail_closed). Resubmit in a minute, or ask your Slurm admin.")
    return CFG.reject_code
  end
  pcall(append_comment, job_desc, "omnipilot: unavailable (" .. reason .. ")")
  return slurm.SUCCESS
end

local function submit(job_desc, part_list, submit_uid)
  if not is_candidate(str(field(job_desc, "script")), str(field(job_desc, "comment"))) then
    return slurm.SUCCESS
  end
  local off = io.open(CFG.kill_switch, "r")
  if off then off:close(); return slurm.SUCCESS end -- the admin's off switch: no daemon at all
  if now() < breaker.open_until then return fail(job_desc, "breaker open") end
  local reply, reason, whose = ask(job_desc, part_list, submit_uid)
  if not reply then
    if whose == "daemon" then
      failed()
      return fail(job_desc, reason)
    end
    -- one job's own request: never the breaker (one user must not switch advice off for everyone)
    local answered = reason:find("^daemon error") ~= nil
    if answered then breaker.failures, breaker.open_until, unreported = 0, 0, 0 end
    return fail(job_desc, reason, answered)
  end
  breaker.failures, breaker.open_until, unreported = 0, 0, 0
  if reply.action == "reject" then
    slurm.log_user("%s", str(reply.user_message) or "OmniPilot rejected this job")
    return tonumber(reply.code) or CFG.reject_code
  end
  return apply(job_desc, reply)
end

function slurm_job_submit(job_desc, part_list, submit_uid)
  local ok, rc = pcall(submit, job_desc, part_list, submit_uid)
  if ok then return rc end
  -- not the breaker: a hook error follows from this job's own fields, not from the daemon
  local fok, frc = pcall(fail, job_desc, "hook error")
  slurm.log_info("%s", "omnipilot: hook error: " .. tostring(rc))
  return fok and frc or slurm.SUCCESS
end

function slurm_job_modify(job_desc, job_rec, part_list, modify_uid)
  return slurm.SUCCESS
end

slurm.log_info("%s", "omnipilot: hook loaded, socket " .. CFG.socket
  .. (zok and "" or (" (ZMTP client failed to load: " .. tostring(zmtp) .. ")")))
return slurm.SUCCESS
