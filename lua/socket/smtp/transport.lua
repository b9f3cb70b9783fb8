-----------------------------------------------------------------------------
-- socket.smtp.transport: socket adapters for smtp-native.
--
-- The protocol engine never touches a socket. This module gives the driver
-- one small interface over the socket kinds we meet:
--   * LuaSocket tcp objects (socket.tcp, the default),
--   * OpenResty cosockets (ngx.socket.tcp: millisecond timeouts, receiveany),
--   * any other object of the LuaSocket shape returned by `create`
--     (copas, coroutine schedulers, test doubles).
-- Every method is a plain Lua function calling the socket's own methods, so
-- a socket that yields (cosocket, scheduler) yields in a Lua frame. Nothing
-- here wraps I/O in pcall or a private coroutine.
--
--   t:send(data, deadline)      -> true | nil, err
--   t:receive(max, deadline)    -> bytes (at most max) | nil, err
--   t:deadline(seconds)         -> absolute deadline for one network step
--   t:secured(tls_sock)         after a TLS handshake (socket.smtp.tls)
--   t:close()
-----------------------------------------------------------------------------
local _M = {}

local type, tostring, setmetatable = type, tostring, setmetatable
local string_sub = string.sub
local math_max, math_ceil = math.max, math.ceil
local os_time = os.time

local ok_socket, socket = pcall(require, "socket")
if not ok_socket then socket = nil end

-- A clock in seconds with sub-second resolution where one exists.
local now
if socket and socket.gettime then
    now = socket.gettime
elseif type(ngx) == "table" and ngx.now then
    local ngx_now, update = ngx.now, ngx.update_time
    now = function() update(); return ngx_now() end
else
    now = os_time
end
_M.now = now

local methods = {}
local mt = { __index = methods }

local function is_luasocket(sock)
    -- LuaSocket classes print as "tcp{master}", "tcp{client}", ...
    local ok = type(sock) == "userdata" and string_sub(tostring(sock), 1, 4) == "tcp{"
    return ok
end

local function is_cosocket(sock)
    return type(ngx) == "table" and type(sock) == "table"
        and sock.receiveany ~= nil and sock.setkeepalive ~= nil
end

function methods.deadline(_, seconds)
    return now() + seconds
end

-- Seconds left before the deadline, or nil when it has passed: callers
-- then report "timeout" without touching the socket. (A 0 timeout means
-- "do not wait" to LuaSocket but "the default, 60 s" to a cosocket.)
local function remaining(deadline)
    local left = deadline - now()
    if left <= 0 then return nil end
    return left
end

-- Cosocket timeouts are whole milliseconds, at least 1.
local function ms(left)
    return math_max(1, math_ceil(left * 1000))
end

-- LuaSocket: a blocking read of one byte (bounded by the deadline), then
-- whatever else is already buffered, without waiting: reads never exceed
-- `max`, so a peer that never ends a line cannot grow our memory.
-- LuaSec says "wantread"/"wantwrite" where LuaSocket says "timeout".
local function timeout_of(err)
    if err == "wantread" or err == "wantwrite" then return "timeout" end
    return err
end

local function receive_luasocket(self, max, deadline)
    local sock = self.sock
    if self.pending_err then return nil, self.pending_err end
    local left = remaining(deadline)
    if not left then return nil, "timeout" end
    sock:settimeout(left)
    local first, err = sock:receive(1)
    if not first then return nil, timeout_of(err) end
    if max <= 1 then return first end
    sock:settimeout(0)
    local rest, rerr, partial = sock:receive(max - 1)
    if rest then return first .. rest end
    rerr = timeout_of(rerr)
    if rerr ~= "timeout" then self.pending_err = rerr end
    return first .. (partial or "")
end

local function receive_cosocket(self, max, deadline)
    local left = remaining(deadline)
    if not left then return nil, "timeout" end
    local sock = self.sock
    sock:settimeout(ms(left))
    return sock:receiveany(max)
end

-- Any other socket: whole lines, as LuaSocket's own smtp reads them. The
-- socket's receive("*l") strips the line end; we give the engine CRLF.
local function receive_lines(self, _, _)
    if self.pending_err then return nil, self.pending_err end
    local line, err, partial = self.sock:receive("*l")
    if line then return line .. "\r\n" end
    if partial and partial ~= "" then
        self.pending_err = err
        return partial
    end
    return nil, err
end

local function send_luasocket(self, data, deadline)
    local left = remaining(deadline)
    if not left then return nil, "timeout" end
    local sock = self.sock
    sock:settimeout(left)
    local sent, err = sock:send(data)
    if not sent then return nil, timeout_of(err) end
    return true
end

local function send_cosocket(self, data, deadline)
    local left = remaining(deadline)
    if not left then return nil, "timeout" end
    local sock = self.sock
    sock:settimeout(ms(left))
    local sent, err = sock:send(data)
    if not sent then return nil, err end
    return true
end

local function send_plain(self, data)
    local sent, err = self.sock:send(data)
    if not sent then return nil, err end
    return true
end

-- After a TLS handshake: the TLS socket replaces the plain one (the same
-- kind of object for LuaSocket + LuaSec and for cosockets).
function methods:secured(sock)
    self.sock = sock
    self.tls = true
    self.pending_err = nil
end

function methods:close()
    if not self.closed then
        self.closed = true
        self.sock:close()
    end
    return 1
end

-- Opens a connection: (create or socket.tcp)(), timeout, connect.
-- Returns a transport or nil, err with the socket's own error string.
function _M.connect(host, port, timeout, create)
    create = create or (socket and socket.tcp)
    if not create then
        return nil, "no socket library: pass `create` (LuaSocket is not installed)"
    end
    local sock, err = create()
    if not sock then return nil, err end
    local self = setmetatable({ sock = sock, timeout = timeout }, mt)
    if is_luasocket(sock) then
        self.kind = "luasocket"
        self.receive, self.send = receive_luasocket, send_luasocket
        sock:settimeout(timeout)
    elseif is_cosocket(sock) then
        self.kind = "cosocket"
        self.receive, self.send = receive_cosocket, send_cosocket
        sock:settimeout(ms(timeout))
    else
        self.kind = "generic"
        self.receive, self.send = receive_lines, send_plain
        if sock.settimeout then sock:settimeout(timeout) end
    end
    local ok, cerr = sock:connect(host, port)
    if not ok then
        sock:close()
        return nil, cerr
    end
    -- The last body bytes and the end-of-data marker leave in one write, and
    -- with TCP_NODELAY no write waits for the peer's delayed ACK.
    if self.kind == "luasocket" then
        sock:setoption("tcp-nodelay", true)
    elseif self.kind == "generic" and sock.setoption then
        sock:setoption("tcp-nodelay", true)
    end
    return self
end

return _M
