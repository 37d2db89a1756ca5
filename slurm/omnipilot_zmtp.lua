-- omnipilot_zmtp.lua: a minimal ZMTP 3.0 client (NULL mechanism, REQ socket type) on luasocket.
--
-- Why pure Lua: slurmctld embeds Lua 5.1 and Debian ships no Lua ZeroMQ binding; ZMTP's NULL
-- mechanism is a few dozen lines over a stream socket. Speaks to a pyzmq ROUTER (or REP) over
-- ipc:///path (unix stream socket) or tcp://host:port. Lua 5.1 has no bit operators and no
-- string.pack, so frame sizes are built and read with arithmetic.
--
-- Public surface:
--   M.request(endpoint, body, timeout_ms [, opts]) -> reply_body | nil, err
--   M.close()        drop the cached connection
--   M.connected()    true while a handshaken connection is cached
--   M.MAX_REPLY_BYTES default reply size limit (opts.max_reply_bytes overrides)
-- Wire format as implemented: docs/wire-protocol.md.

local socket = require("socket")

local M = {}

M.MAX_REPLY_BYTES = 1048576

-- The cached connection: { sock = <luasocket>, endpoint = <string> } or nil. slurmctld runs every
-- submission through one Lua state in turn, so a module-level variable is safe and saves the
-- connect + handshake (about half of a round trip) on every job after the first.
local cached = nil

local ZERO = string.char(0)

-- Signature FF <8 padding> 7F, version 3.0, mechanism "NULL" padded to 20 bytes, as-server 0,
-- 31 bytes of filler: 64 bytes in all.
local GREETING = string.char(0xFF) .. string.rep(ZERO, 8) .. string.char(0x7F)
  .. string.char(3, 0) .. "NULL" .. string.rep(ZERO, 16) .. ZERO .. string.rep(ZERO, 31)

local FLAG_MORE, FLAG_LONG, FLAG_COMMAND = 1, 2, 4

local function has_flag(flags, bit)
  return math.floor(flags / bit) % 2 == 1
end

local function be_bytes(n, width)
  local out = {}
  for i = width, 1, -1 do
    out[i] = string.char(n % 256)
    n = math.floor(n / 256)
  end
  return table.concat(out)
end

local function be_number(s)
  local n = 0
  for i = 1, #s do
    n = n * 256 + s:byte(i)
  end
  return n
end

-- One frame: flags, then a 1-byte size (short) or an 8-byte big-endian size (LONG).
local function frame(flags, body)
  if #body > 255 then
    return string.char(flags + FLAG_LONG) .. be_bytes(#body, 8) .. body
  end
  return string.char(flags, #body) .. body
end

-- READY command: name "READY", then properties as <1-byte name len><name><4-byte value len><value>.
local READY = frame(FLAG_COMMAND, string.char(5) .. "READY"
  .. string.char(11) .. "Socket-Type" .. be_bytes(3, 4) .. "REQ")

local function parse_endpoint(endpoint)
  local path = endpoint:match("^ipc://(.+)$")
  if path then
    return "ipc", path
  end
  local host, port = endpoint:match("^tcp://%[?([^%]]+)%]?:(%d+)$")
  if host then
    return "tcp", host, tonumber(port)
  end
  return nil
end

local function connect(endpoint, deadline)
  local kind, where, port = parse_endpoint(endpoint)
  if not kind then
    return nil, "bad endpoint '" .. tostring(endpoint) .. "' (want ipc:///path or tcp://host:port)"
  end
  local sock, err
  if kind == "ipc" then
    local unix = require("socket.unix")
    sock, err = (unix.stream or unix)()
  else
    sock, err = socket.tcp()
  end
  if not sock then
    return nil, "socket: " .. tostring(err)
  end
  sock:settimeout(math.max(deadline - socket.gettime(), 0))
  local ok, cerr
  if kind == "ipc" then
    ok, cerr = sock:connect(where)
  else
    ok, cerr = sock:connect(where, port)
  end
  if not ok then
    sock:close()
    if cerr == "timeout" then
      return nil, "timeout"
    end
    return nil, "connect: " .. string.lower(tostring(cerr))
  end
  return sock
end

-- Read exactly n bytes before the deadline. luasocket returns what it got so far as `partial`
-- on timeout, so the loop resumes rather than re-reading; the remaining time is recomputed on
-- every call so the whole round trip shares one deadline.
local function read_exact(sock, n, deadline)
  local parts, got = {}, 0
  while got < n do
    local left = deadline - socket.gettime()
    if left <= 0 then
      return nil, "timeout"
    end
    sock:settimeout(left)
    local data, err, partial = sock:receive(n - got)
    local chunk = data or partial
    if chunk and #chunk > 0 then
      parts[#parts + 1] = chunk
      got = got + #chunk
    end
    if not data then
      if err == "closed" then
        return nil, "closed by daemon"
      elseif err ~= "timeout" then
        return nil, "receive: " .. tostring(err)
      end
    end
  end
  return table.concat(parts)
end

local function send_all(sock, data, deadline)
  local i = 1
  while i <= #data do
    local left = deadline - socket.gettime()
    if left <= 0 then
      return nil, "timeout"
    end
    sock:settimeout(left)
    local last, err, partial_last = sock:send(data, i)
    if last then
      i = last + 1
    elseif err == "timeout" then
      i = partial_last + 1
    elseif err == "closed" then
      return nil, "closed by daemon"
    else
      return nil, "send: " .. tostring(err)
    end
  end
  return true
end

-- Read one frame: returns flags, body. Refuses a body above `limit` before reading it.
local function read_frame(sock, deadline, limit)
  local head, err = read_exact(sock, 1, deadline)
  if not head then
    return nil, err
  end
  local flags = head:byte(1)
  if flags > 7 then
    return nil, string.format("protocol: bad frame flags 0x%02x", flags)
  end
  local size
  if has_flag(flags, FLAG_LONG) then
    local raw
    raw, err = read_exact(sock, 8, deadline)
    if not raw then
      return nil, err
    end
    size = be_number(raw)
  else
    local raw
    raw, err = read_exact(sock, 1, deadline)
    if not raw then
      return nil, err
    end
    size = raw:byte(1)
  end
  if size > limit then
    return nil, string.format("reply too large (%.0f bytes > limit %d)", size, limit)
  end
  if size == 0 then
    return flags, ""
  end
  local body
  body, err = read_exact(sock, size, deadline)
  if not body then
    return nil, err
  end
  return flags, body
end

local function check_greeting(g)
  if g:byte(1) ~= 0xFF or g:byte(10) ~= 0x7F then
    return nil, "protocol: peer is not a ZMTP peer (bad signature)"
  end
  local major, minor = g:byte(11), g:byte(12)
  if major ~= 3 or (minor ~= 0 and minor ~= 1) then
    return nil, string.format("protocol: unsupported ZMTP version %d.%d", major, minor)
  end
  if g:sub(13, 16) ~= "NULL" or g:byte(17) ~= 0 then
    return nil, "protocol: peer wants a security mechanism other than NULL"
  end
  return true
end

-- The peer's READY must name a socket type a REQ may talk to.
local function check_ready(body)
  if body:sub(1, 6) ~= string.char(5) .. "READY" then
    return nil, "protocol: expected READY command"
  end
  local pos = 7
  while pos <= #body do
    local nlen = body:byte(pos)
    local name = body:sub(pos + 1, pos + nlen)
    local vlen = be_number(body:sub(pos + nlen + 1, pos + nlen + 4))
    local value = body:sub(pos + nlen + 5, pos + nlen + 4 + vlen)
    if string.lower(name) == "socket-type" and value ~= "ROUTER" and value ~= "REP" then
      return nil, "protocol: peer socket type " .. value .. " cannot answer a REQ"
    end
    pos = pos + nlen + 5 + vlen
  end
  return true
end

local function handshake(sock, deadline, limit)
  -- libzmq sends only part of its greeting until it has seen ours: send all 64 bytes first.
  local ok, err = send_all(sock, GREETING .. READY, deadline)
  if not ok then
    return nil, err
  end
  local greeting
  greeting, err = read_exact(sock, 64, deadline)
  if not greeting then
    return nil, err
  end
  ok, err = check_greeting(greeting)
  if not ok then
    return nil, err
  end
  local flags, body = read_frame(sock, deadline, limit)
  if not flags then
    return nil, body
  end
  if not has_flag(flags, FLAG_COMMAND) then
    return nil, "protocol: expected READY command, got a message frame"
  end
  return check_ready(body)
end

-- A ZMTP 3.1 peer with heartbeats on (ZMQ_HEARTBEAT_IVL) drops a connection whose PINGs go
-- unanswered, so PING <2-byte TTL><context> is answered with PONG <context>; other commands
-- are skipped.
local function answer_command(sock, body, deadline)
  if body:sub(1, 5) == string.char(4) .. "PING" then
    return send_all(sock, frame(FLAG_COMMAND, string.char(4) .. "PONG" .. body:sub(8)), deadline)
  end
  return true
end

-- Read one whole reply message: answer or skip commands, expect the empty delimiter, return
-- the body (frames after the delimiter concatenated; the daemon sends one).
local function read_reply(sock, deadline, limit)
  local parts, seen_delimiter, total = {}, false, 0
  while true do
    local flags, body = read_frame(sock, deadline, limit)
    if not flags then
      return nil, body
    end
    if has_flag(flags, FLAG_COMMAND) then
      local ok, err = answer_command(sock, body, deadline)
      if not ok then
        return nil, err
      end
    else
      if not seen_delimiter then
        if #body ~= 0 then
          return nil, "protocol: reply without the empty delimiter frame"
        end
        seen_delimiter = true
      else
        total = total + #body
        if total > limit then
          return nil, string.format("reply too large (%d bytes > limit %d)", total, limit)
        end
        parts[#parts + 1] = body
      end
      if not has_flag(flags, FLAG_MORE) then
        if not seen_delimiter or #parts == 0 then
          return nil, "protocol: reply has no body frame"
        end
        return table.concat(parts)
      end
    end
  end
end

function M.close()
  if cached then
    cached.sock:close()
    cached = nil
  end
end

function M.connected()
  return cached ~= nil
end

-- A cached socket that is readable before we sent anything holds either EOF (the daemon
-- restarted) or stray bytes: neither may be read as the next answer, so it is dropped.
local function cached_usable(endpoint)
  if not cached or cached.endpoint ~= endpoint then
    M.close()
    return false
  end
  local readable = socket.select({ cached.sock }, nil, 0)
  if readable and #readable > 0 then
    M.close()
    return false
  end
  return true
end

local function round_trip(endpoint, body, deadline, limit)
  local reused = cached_usable(endpoint)
  if not reused then
    local sock, err = connect(endpoint, deadline)
    if not sock then
      return nil, err
    end
    cached = { sock = sock, endpoint = endpoint }
    local ok, herr = handshake(sock, deadline, limit)
    if not ok then
      return nil, herr
    end
  end
  local parts = type(body) == "table" and body or { body }
  local msg = { frame(FLAG_MORE, "") }
  for i, part in ipairs(parts) do msg[#msg + 1] = frame(i < #parts and FLAG_MORE or 0, part) end
  local ok, err = send_all(cached.sock, table.concat(msg), deadline)
  if not ok then
    return nil, err, reused
  end
  local reply, rerr = read_reply(cached.sock, deadline, limit)
  return reply, rerr, reused
end

--- Send `body` (a string, or a list of strings sent as that many frames) as one REQ message to
--- `endpoint` and return the reply body, or nil and a short
--- error ("timeout", "connect: connection refused", "closed by daemon", "protocol: ...",
--- "reply too large ..."). One deadline of timeout_ms covers connect, handshake, send and read.
--- On any error the cached connection is dropped, so a late reply can never be read as the
--- answer to a later request.
function M.request(endpoint, body, timeout_ms, opts)
  local limit = (opts and opts.max_reply_bytes) or M.MAX_REPLY_BYTES
  local deadline = socket.gettime() + (tonumber(timeout_ms) or 0) / 1000
  local ok, reply, err, reused = pcall(round_trip, endpoint, body, deadline, limit)
  if not ok then
    M.close()
    return nil, "client error: " .. tostring(reply)
  end
  if reply == nil and reused and err == "closed by daemon" and socket.gettime() < deadline then
    -- The daemon closed an idle cached connection (e.g. restart) between our check and the
    -- send: one fresh connection within the same deadline.
    M.close()
    ok, reply, err = pcall(round_trip, endpoint, body, deadline, limit)
    if not ok then
      M.close()
      return nil, "client error: " .. tostring(reply)
    end
  end
  if reply == nil then
    M.close()
    return nil, err
  end
  return reply
end

return M
