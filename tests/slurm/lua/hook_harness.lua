-- Test harness for slurm/job_submit.lua outside slurmctld.
--
-- `slurm` below is a STAND-IN for the table slurmctld gives the hook, not real Slurm: it keeps
-- what the tests rely on from job_submit_lua.c (22.05): log_* and log_user format their
-- arguments with string.format; job_desc raises on a nil assignment and on fields the hook
-- may not write; writing `gres` sets `tres_per_node` to "gres:" .. value (22.05's alias);
-- `environment` is a table only for batch jobs; argv is 0-indexed. Real-Slurm integration
-- tests (tests/integration/) load this same job_submit.lua inside slurmctld.
--
-- Usage: lua5.1 hook_harness.lua HOOK_PATH < spec.json
-- spec: {"jobs": [{"job": {field: value}, "argv": [..], "environment": {..} | absent,
--         "part_list": [names], "submit_uid": N, "sleep_ms": N, "unwritable": [fields]}]}
-- Prints one JSON line for loading ({"load_info": [...]}) then one per job.
local hook_path = assert(arg[1], "usage: lua5.1 hook_harness.lua HOOK_PATH < spec.json")
local socket = require("socket")
local cjson = require("cjson")

local logs = { info = {}, user = {}, debug = {} }
local function logger(kind)
  return function(fmt, ...) table.insert(logs[kind], string.format(fmt, ...)) end
end
slurm = {
  SUCCESS = 0, ERROR = -1, FAILURE = -1,
  log_info = logger("info"), log_debug = logger("debug"), log_user = logger("user"),
}

local WRITABLE = { comment = 1, admin_comment = 1, tres_per_node = 1, tres_per_job = 1,
  tres_per_task = 1, partition = 1, features = 1, time_limit = 1, num_tasks = 1,
  cpus_per_task = 1, min_mem_per_node = 1, min_mem_per_cpu = 1, script = 1, work_dir = 1,
  name = 1, account = 1, qos = 1, licenses = 1, dependency = 1 }

local function make_job(spec)
  local fields, writes, blocked = {}, {}, {}
  for _, k in ipairs(spec.unwritable or {}) do blocked[k] = true end -- to provoke a Lua error
  for k, v in pairs(spec.job or {}) do fields[k] = v end
  if spec.argv then
    fields.argv = {}
    for i, a in ipairs(spec.argv) do fields.argv[i - 1] = a end
  end
  if spec.environment then fields.environment = spec.environment end
  local job = setmetatable({}, {
    __index = function(_, k)
      if k == "gres" then return fields.tres_per_node end
      return fields[k]
    end,
    __newindex = function(_, k, v)
      if v == nil then error("stand-in job_desc: nil assigned to " .. tostring(k)) end
      if blocked[k] then error("stand-in job_desc: test blocked writing " .. tostring(k)) end
      if k == "gres" then
        fields.tres_per_node = (v ~= "") and ("gres:" .. v) or nil
      elseif WRITABLE[k] then
        fields[k] = (v ~= "") and v or nil
      else
        error("stand-in job_desc: field " .. tostring(k) .. " is not writable")
      end
      table.insert(writes, k)
    end,
  })
  return job, fields, writes
end

dofile(hook_path)
io.write(cjson.encode({ load_info = logs.info }), "\n")

local spec = cjson.decode(io.read("*a"))
for _, j in ipairs(spec.jobs) do
  if j.sleep_ms then socket.sleep(j.sleep_ms / 1000) end
  logs.info, logs.user, logs.debug = {}, {}, {}
  local job, fields, writes = make_job(j)
  local parts = {}
  for _, name in ipairs(j.part_list or {}) do parts[name] = { name = name } end
  local t0 = socket.gettime()
  local rc = slurm_job_submit(job, parts, j.submit_uid or 1000)
  local ms = (socket.gettime() - t0) * 1000
  fields.argv = nil
  local env = fields.environment
  fields.environment = nil
  io.write(cjson.encode({ rc = rc, ms = ms, job = fields, environment = env or cjson.null,
    writes = writes, user = logs.user, info = logs.info }), "\n")
  io.flush()
end
