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
--   t:socket()                  the socket object (for the TLS handshake)
--   t:socket_kind()             "luasocket", "cosocket" or "generic"
--   t:secure()                  true after a TLS handshake
--   t:is_closed()               true after t:close()
--   t:peer_address()            the connected address, when the socket tells
-- err is always a string: a socket that returns nil without an error, or
-- anything but a string, is reported as such.
-----------------------------------------------------------------------------
local _M = {}

local type, tostring, setmetatable, getmetatable, ipairs =
    type, tostring, setmetatable, getmetatable, ipairs
local string_sub, string_format = string.sub, string.format
local table_concat = table.concat
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

-- A function, or an object with a __call metamethod.
local function callable(f)
    if type(f) == "function" then return true end
    local meta = getmetatable(f)
    return type(meta) == "table" and meta.__call ~= nil
end
_M.callable = callable

local function is_luasocket(sock)
    -- LuaSocket classes print as "tcp{master}", "tcp{client}", ...
    local ok = type(sock) == "userdata" and string_sub(tostring(sock), 1, 4) == "tcp{"
    return ok
end

local function is_cosocket(sock)
    return type(ngx) == "table" and type(sock) == "table"
        and sock.receiveany ~= nil and sock.setkeepalive ~= nil
end
_M.is_cosocket = is_cosocket

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

-- The receive_* and send_* functions repeat their deadline prologue on
-- purpose: one function a socket kind, chosen once when the transport is
-- made, so that no I/O call branches on the kind or pays an extra call.
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

-- What a socket call that failed said, as a string.
local function failure(what, err)
    if type(err) == "string" then return err end
    if err == nil then return what .. " returned nil without an error" end
    if type(err) == "number" then return what .. " failed: " .. tostring(err) end
    return string_format("%s returned nil and a %s (an error string expected)", what, type(err))
end

local function bad_data(what, data)
    return string_format("socket %s returned a %s (string expected)", what, type(data))
end

-- Any other socket (`create` returned neither a LuaSocket tcp object nor a
-- cosocket): the same bound as the others, never more than the engine
-- asks for (`max`). With receiveany(max), one call; otherwise receive(1)
-- a byte at a time up to the end of the line (or `max` bytes), so that
-- nothing is asked for that the server will not send (a reply line ends
-- with LF, then the server waits for us) and a line that never ends
-- costs at most `max` bytes. A socket with settimeout gets what remains
-- of the step's time before each call; the deadline is checked between
-- bytes, so a reply that dribbles in ends in "timeout" as with LuaSocket.
local function receive_generic(self, max, deadline)
    if self.pending_err then return nil, self.pending_err end
    local left = remaining(deadline)
    if not left then return nil, "timeout" end
    local sock = self.sock
    if sock.settimeout then sock:settimeout(left) end
    if sock.receiveany then
        local data, err = sock:receiveany(max)
        if data == nil then return nil, failure("socket receiveany", err) end
        if type(data) ~= "string" then return nil, bad_data("receiveany", data) end
        if #data > max or data == "" then
            return nil, string_format("socket receiveany(%d) returned %d bytes", max, #data)
        end
        return data
    end
    local bytes, n = {}, 0
    while n < max do
        if n > 0 and not remaining(deadline) then
            self.pending_err = "timeout"
            break
        end
        local b, err = sock:receive(1)
        if b == nil then
            err = failure("socket receive", err)
            if n == 0 then return nil, err end
            self.pending_err = err
            break
        end
        if type(b) ~= "string" then return nil, bad_data("receive", b) end
        if #b ~= 1 then
            return nil, string_format("socket receive(1) returned %d bytes", #b)
        end
        n = n + 1
        bytes[n] = b
        if b == "\n" then break end
    end
    return table_concat(bytes, "", 1, n)
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

local function send_generic(self, data, deadline)
    local left = remaining(deadline)
    if not left then return nil, "timeout" end
    local sock = self.sock
    if sock.settimeout then sock:settimeout(left) end
    local sent, err = sock:send(data)
    if not sent then return nil, failure("socket send", err) end
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

function methods:socket()
    return self.sock
end

function methods:socket_kind()
    return self.kind
end

function methods:secure()
    return self.tls == true
end

function methods:is_closed()
    return self.closed == true
end

-- The address the socket is connected to, when it can tell (LuaSocket's
-- getpeername); nil otherwise.
function methods:peer_address()
    local sock = self.sock
    if self.kind == "luasocket" and sock.getpeername then
        local addr = sock:getpeername()
        return addr
    end
    return nil
end

-- What `create` returned must be a socket object: a table or a userdata
-- with connect, send, close and receive (or receiveany) methods.
-- Returns nil when it is, else what is wrong with it.
local function not_a_socket(sock)
    local kind = type(sock)
    if kind == "userdata" then
        local meta = getmetatable(sock)
        if meta == nil or (type(meta) == "table" and meta.__index == nil) then
            return "it returned a userdata without methods"
        end
    elseif kind ~= "table" then
        return "it returned a " .. kind .. " (a socket object expected)"
    end
    for _, name in ipairs({ "connect", "send", "close" }) do
        if not callable(sock[name]) then
            return "the socket it returned has no " .. name .. " method"
        end
    end
    if not callable(sock.receive) and not callable(sock.receiveany) then
        return "the socket it returned has no receive method"
    end
    return nil
end

-- Opens a connection: (create or socket.tcp)(), timeout, connect.
-- Returns a transport, or nil, err, field: the socket's own error string,
-- or with field = "create" what is wrong with the object `create` gave.
function _M.connect(host, port, timeout, create)
    create = create or (socket and socket.tcp)
    if not create then
        return nil, "no socket library: pass `create` (LuaSocket is not installed)", "create"
    end
    if not callable(create) then
        return nil, "invalid create: must be a function, got " .. type(create), "create"
    end
    local sock, err = create()
    if not sock then return nil, failure("create", err) end
    local bad = not_a_socket(sock)
    if bad then
        if (type(sock) == "table" or type(sock) == "userdata") and callable(sock.close) then
            sock:close()
        end
        return nil, "invalid create: " .. bad, "create"
    end
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
        self.receive, self.send = receive_generic, send_generic
        if sock.settimeout then sock:settimeout(timeout) end
    end
    local ok, cerr = sock:connect(host, port)
    if not ok then
        sock:close()
        return nil, failure("socket connect", cerr)
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
