--[[
spec/helper.lua: test support for the smtp-native busted specs.

Loading: run busted from the repository root with the spec directory on the
Lua path, and require the helper by name:

    lua5.4 /usr/bin/busted --lpath='spec/?.lua' spec/some_spec.lua
    luajit /usr/bin/busted --lpath='spec/?.lua' spec/some_spec.lua

    local H = require("helper")

Works under Lua 5.4 and LuaJIT; uses only LuaSocket, dkjson and io/os.

Servers (all on 127.0.0.1, run with /usr/bin/python3, the Debian Python
that has aiosmtpd):

    srv = H.capture(opts)     aiosmtpd server capturing every message
        opts (all optional): reject_rcpt = REGEX, reject_mail = REGEX,
        reject_data = true, ehlo_unsupported = true, max_sessions = N
        srv.port, srv.pid, srv.dir
        srv:messages()                 -> { {from=, rcpt={...}, data=,
                                             mail_options=, rcpt_options=,
                                             helo=, session=, seq=}, ... }
        srv:wait_messages(n [, timeout=5]) -> messages [, "timeout"]
        srv:sessions()                 -> { raw bytes of session 1, ... }

    srv = H.scripted(script)  scripted peer (spec/support/scripted_server.py)
        script: a list of steps, or a list of step lists (one per connection)
        srv.port, srv.pid, srv.dir
        srv:transcript([n=1])          -> raw bytes received on connection n
                                          (decrypted after a "starttls" step)
        srv:clear_transcript([n=1])    -> only the bytes received in clear text
        srv:tls_info([n=1])            -> { version, cipher, sni } once a
                                          "starttls" step's handshake is done
        srv:wait_done([n=1] [, timeout=5]) -> "completed" / "aborted ..." or nil
        srv:errors()                   -> contents of the errors file, or nil
        srv:assert_clean([timeout=5])  waits until each connection is over,
                                       then fails unless errors() is nil
        srv:stop() fails (after stopping the server) when the errors file
        has lines nobody read: a wrong command from the client is never
        missed, even by a spec that forgot to look.

    Both:
        srv:stop()       TERM, wait up to 2 s, then KILL; reap; remove srv.dir.
                         Idempotent, so `finally(function() srv:stop() end)`
                         and H.stop_all() in teardown can both run.
        srv:alive()      true while the server process runs
        srv:log()        the server's stdout/stderr so far

    H.stop_all()         stop every server still running

    Checks on a capture server (busted's assert):
    H.assert_not_connected(srv)  after 0.1 s, srv has had no session
    H.assert_data_cut(srv) -> wire   after 0.3 s: no message accepted;
                         session 1 sent DATA but no end-of-data marker and
                         no QUIT (the server must drop the message)
    H.low_level_data(port, from, to, source) -> r, err, s   the low-level
                         object's greet, MAIL, RCPT and s:data(source)

    For other support modules (spec/support/nginx.lua): H.spawn(obj, cmd,
    list, stop), H.reap(obj, list, marker, grace), H.stop_each(list) (the
    process plumbing of the servers above), H.on_gc(fn), H.connects(host,
    port, timeout).

    if not H.need_luasec(title) then return end   at the top of a spec
                         that needs LuaSec (a failing test says it is missing)

TLS and AUTH peers (issue #4): H.tls_certs([dir]), H.tls_server(opts),
H.dovecot(opts), H.dovecot_available(); documented with their code in the
section "TLS and AUTH peers" near the end of this file.

Other:
    H.lua_version        "5.4" or "jit"
    H.root               repository root (absolute)
    H.interpreter        "lua5.4" or "luajit"
    H.lua_command(script, args...) -> shell command running script under
                         this interpreter with this checkout's socket.smtp
                         first on package.path/cpath
    H.read_file(path), H.write_file(path, data)
    H.python             "/usr/bin/python3"
    H.tmpdir()           fresh directory from mktemp -d
    H.rmdir(dir)         remove a directory made by H.tmpdir()
    H.sh(cmd)            -> ok, output (stdout and stderr), exit status
    H.parse_email(raw)   -> tree (see spec/support/parse_email.py): headers
                            ({ {name, value, name=, value=}, ... }),
                            content_type, charset, boundary, is_multipart,
                            preamble, epilogue, parts, payload (decoded
                            bytes, leaves), raw_payload (leaves), defects,
                            filename (decoded, UTF-8); each header also
                            has `decoded` (unfolded, RFC 2047-decoded)
    H.header(node, name) -> first value of header `name` (any case), or nil
    H.sleep(seconds)

How servers are run: `echo $$; exec python3 ...` under io.popen, so the
server is a direct child of the Lua process: the PID comes back on the pipe,
and closing the pipe in stop() reaps it. (PID 1 in this VM does not reap
orphans, so a `cmd & echo $!` server would stay behind as a zombie.) Each
server is also given --watch-pid <this process> and exits by itself if the
test runner dies without stopping it.
]]

local socket = require("socket")
local mime = require("mime")
local json = require("dkjson")
local luassert = require("luassert") -- busted's, which specs get as `assert`

local H = {}

H.lua_version = rawget(_G, "jit") and "jit" or _VERSION:match("%d+%.%d+")
H.python = "/usr/bin/python3"

--------------------------------------------------------------------------
-- Small utilities
--------------------------------------------------------------------------

-- Quote a string for /bin/sh.
local function quote(s)
    return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
H.quote = quote

function H.sleep(seconds)
    socket.sleep(seconds)
end

local function read_file(path)
    local f = io.open(path, "rb")
    if not f then return nil end
    local data = f:read("*a")
    f:close()
    return data
end

local function write_file(path, data)
    local f = assert(io.open(path, "wb"))
    assert(f:write(data))
    assert(f:close())
end

local function exists(path)
    local f = io.open(path, "rb")
    if f then f:close() end
    return f ~= nil
end

-- Base64 decoding; mime.unb64("") returns nil, we want "".
local function unb64(s)
    if s == nil then return nil end
    return (mime.unb64(s)) or ""
end

-- Poll `check` every 20 ms until it returns a true value or `timeout`
-- seconds pass; returns check's last result.
local function poll(timeout, check)
    local deadline = socket.gettime() + timeout
    while true do
        local result = check()
        if result or socket.gettime() >= deadline then return result end
        socket.sleep(0.02)
    end
end

-- A value whose finalizer calls fn (at the latest when the state closes).
local function on_gc(fn)
    local call = function() pcall(fn) end
    local newproxy = rawget(_G, "newproxy")
    if newproxy then                     -- LuaJIT: tables have no __gc
        local proxy = newproxy(true)
        getmetatable(proxy).__gc = call
        return proxy
    end
    return setmetatable({}, { __gc = call })
end

-- True if a TCP connection to host:port opens within `timeout` seconds
-- (it is closed at once).
local function connects(host, port, timeout)
    local c = socket.tcp()
    c:settimeout(timeout)
    local done = c:connect(host, port)
    c:close()
    return done ~= nil
end

-- Runs a shell command; returns ok, output (stdout+stderr), exit status.
-- The status travels on the pipe because pipe:close() reports it
-- differently in Lua 5.4 and LuaJIT.
function H.sh(cmd)
    local p = assert(io.popen("(" .. cmd .. ") 2>&1; echo \"__H_STATUS=$?\""))
    local out = p:read("*a")
    p:close()
    local body, status = out:match("^(.*)__H_STATUS=(%d+)\n$")
    status = tonumber(status)
    return status == 0, body or out, status
end

-- First line of a shell command's stdout.
local function sh_line(cmd)
    local p = assert(io.popen(cmd))
    local line = p:read("*l")
    p:close()
    return line
end

-- PID of this Lua process: the parent of the shell io.popen starts.
local LUA_PID = tonumber(sh_line("echo $PPID"))

-- Repository root: this file is <root>/spec/helper.lua.
H.root = (function()
    local source = debug.getinfo(1, "S").source:gsub("^@", "")
    local dir = source:match("^(.*)/[^/]*$") or "."
    return assert(sh_line("cd " .. quote(dir) .. "/.. && pwd -P"),
                  "cannot find the repository root from " .. source)
end)()

local SUPPORT = H.root .. "/spec/support/"

-- The interpreter running this spec, and a command line that runs a Lua
-- script with this checkout's socket.smtp first on the paths (for scripts
-- that must run unchanged, as a user would run them).
H.interpreter = H.lua_version == "jit" and "luajit" or ("lua" .. H.lua_version)
function H.lua_command(script, ...)
    local build = H.root .. "/build/" .. H.lua_version
    local setup = string.format("package.path=%q..package.path package.cpath=%q..package.cpath",
        H.root .. "/lua/?.lua;", build .. "/?.so;")
    local args = { H.interpreter, "-e", quote(setup), quote(script) }
    for _, a in ipairs({ ... }) do args[#args + 1] = quote(tostring(a)) end
    return table.concat(args, " ")
end

H.read_file = function(path) return read_file(path) end
H.write_file = function(path, data) return write_file(path, data) end

-- The prelude of the attack specs' child scripts that make a finalizer's
-- error escape an allocation (Lua 5.1, LuaJIT): bombs(n) makes n
-- finalizers that raise "finalizer bug" once, in the first collection while
-- armed; armed_pcall(f, ...) is pcall(f, ...) with them armed; drain(g, got)
-- appends a generator's chunks to got and returns the whole message.
H.BOMBS = [==[
-- (spec/helper.lua H.BOMBS)
local armed = false
local function bombs(n)
    for _ = 1, n do
        getmetatable(newproxy(true)).__gc = function()
            if armed then armed = false error("finalizer bug") end
        end
    end
end
local function disarm(...) armed = false return ... end
local function armed_pcall(f, ...)
    armed = true
    return disarm(pcall(f, ...))
end
local function drain(g, got)
    while true do
        local chunk, err = g:next()
        if chunk == nil then
            assert(err == nil, "g:next() failed: " .. tostring(err))
            return table.concat(got)
        end
        assert(type(chunk) == "string", "g:next() gave a " .. type(chunk))
        got[#got + 1] = chunk
    end
end
]==]

-- The values of list as the keys of a table (each true): lists compared
-- whatever their order.
function H.set(list)
    local s = {}
    for _, v in ipairs(list) do s[v] = true end
    return s
end
local TMP_PATTERN = "^/tmp/smtp%-native%-spec%.[%w]+$"

function H.tmpdir()
    local dir = sh_line("mktemp -d /tmp/smtp-native-spec.XXXXXXXX")
    assert(dir and dir:match(TMP_PATTERN), "mktemp -d failed")
    return dir
end

-- Removes a directory made by H.tmpdir() (refuses anything else).
function H.rmdir(dir)
    assert(type(dir) == "string" and dir:match(TMP_PATTERN),
           "refusing to remove " .. tostring(dir))
    os.execute("rm -rf -- " .. quote(dir))
end

-- Copies a string from latin-1 to UTF-8, so each byte becomes the code
-- point of the same value (the scripted server maps them back to bytes).
local function latin1_to_utf8(s)
    return (s:gsub("[\128-\255]", function(c)
        local b = c:byte()
        return string.char(0xC0 + math.floor(b / 64), 0x80 + b % 64)
    end))
end

local function deep_latin1(v)
    if type(v) == "string" then return latin1_to_utf8(v) end
    if type(v) ~= "table" then return v end
    local out = {}
    for k, x in pairs(v) do out[k] = deep_latin1(x) end
    return out
end

--------------------------------------------------------------------------
-- Processes
--------------------------------------------------------------------------

-- State letter of a process from /proc/PID/stat, or nil if it is gone.
local function proc_state(pid)
    local stat = read_file("/proc/" .. pid .. "/stat")
    return stat and stat:match("^%d+ %(.*%) (%a)")
end

-- True while pid runs (a zombie awaiting our reap counts as gone).
local function running(pid)
    local state = proc_state(pid)
    return state ~= nil and state ~= "Z" and state ~= "X"
end

-- For other support modules (spec/support/nginx.lua).
H.exists, H.poll, H.sh_line, H.running, H.lua_pid = exists, poll, sh_line, running, LUA_PID
H.on_gc, H.connects = on_gc, connects

-- True if pid is still the server we started (guards against PID reuse).
local function is_ours(pid, script)
    local cmdline = read_file("/proc/" .. pid .. "/cmdline")
    return cmdline ~= nil and cmdline:find(script, 1, true) ~= nil
end

-- Stops process pid, if it still runs and its command line contains
-- `marker` (a guard against PID reuse): TERM, then KILL after `grace`
-- seconds. Only processes the specs started are ever named here.
function H.kill(pid, marker, grace)
    if pid and running(pid) and is_ours(pid, marker) then
        os.execute("kill -TERM " .. pid .. " 2>/dev/null")
        if not poll(grace, function() return not running(pid) end) then
            os.execute("kill -KILL " .. pid .. " 2>/dev/null")
            poll(2, function() return not running(pid) end)
        end
    end
end

-- Runs the shell command line `cmd` as a direct child of this Lua process
-- (`echo $$; exec CMD` under io.popen, see the top of this file) on behalf
-- of `obj`, a server object: sets obj.pipe, obj.pid and obj.guard, and
-- enters obj in `list` (a registry of running servers). obj.guard is a
-- value whose finalizer calls stop(obj). It is created after the pipe so
-- that, when busted closes the Lua state (os.exit(code, true)), it runs
-- before the pipe's own finalizer, which would otherwise wait forever on a
-- server nobody stopped. Returns obj.pid, nil if the shell did not start.
function H.spawn(obj, cmd, list, stop)
    obj.pipe = assert(io.popen("echo $$; exec " .. cmd, "r"))
    obj.pid = tonumber(obj.pipe:read("*l"))
    obj.guard = on_gc(function() stop(obj) end)
    list[obj] = true
    return obj.pid
end

-- What every stop() does first: marks obj stopped, takes it out of `list`,
-- stops its process (H.kill with `marker` and `grace`) and reaps it.
function H.reap(obj, list, marker, grace)
    obj.stopped = true
    list[obj] = nil
    H.kill(obj.pid, marker, grace)
    if obj.pipe then
        obj.pipe:close()   -- waits for (reaps) the process
        obj.pipe = nil
    end
end

-- Stops every server in `list` (a registry H.spawn fills).
function H.stop_each(list)
    local servers = {}
    for srv in pairs(list) do servers[#servers + 1] = srv end
    for _, srv in ipairs(servers) do srv:stop() end
end

-- Every server not yet stopped, for H.stop_all().
local registry = {}

local Server = {}
Server.__index = Server

function Server:alive()
    return not self.stopped and running(self.pid)
end

function Server:log()
    return read_file(self.dir .. "/server.log") or ""
end

function Server:stop()
    if self.stopped then return end
    H.reap(self, registry, self.script, 2)
    if self.dir then H.rmdir(self.dir) end
end

function H.stop_all()
    H.stop_each(registry)
end

-- Starts a server script with `args` (list of strings) in a fresh dir and
-- waits up to 5 s for DIR/port. Returns the server object.
local function start(class, script, args, dir)
    local srv = setmetatable({ dir = dir, script = script }, class)
    local argv = { quote(H.python), quote(script), "--dir", quote(dir) }
    if LUA_PID then
        argv[#argv + 1] = "--watch-pid " .. LUA_PID
    end
    for _, a in ipairs(args) do argv[#argv + 1] = quote(a) end
    local cmd = table.concat(argv, " ")
        .. " >" .. quote(dir .. "/server.log") .. " 2>&1 </dev/null"
    if not H.spawn(srv, cmd, registry, Server.stop) then
        srv:stop()
        error("could not start " .. script)
    end
    local port = poll(5, function()
        local text = read_file(dir .. "/port")
        if text and text:match("^%d+\n$") then return tonumber(text) end
        if not running(srv.pid) then return "died" end
    end)
    if type(port) ~= "number" then
        local log = srv:log()
        srv:stop()
        error("server " .. script .. " did not start:\n" .. log)
    end
    srv.port = port
    return srv
end

--------------------------------------------------------------------------
-- Capture server (aiosmtpd)
--------------------------------------------------------------------------

local Capture = setmetatable({}, { __index = Server })
Capture.__index = Capture

-- capture_server.py's options (tls_server.py takes them too).
local function capture_args(opts, args)
    if opts.reject_rcpt then
        args[#args + 1] = "--reject-rcpt"; args[#args + 1] = opts.reject_rcpt
    end
    if opts.reject_mail then
        args[#args + 1] = "--reject-mail"; args[#args + 1] = opts.reject_mail
    end
    if opts.reject_data then args[#args + 1] = "--reject-data" end
    if opts.ehlo_unsupported then args[#args + 1] = "--ehlo-unsupported" end
    if opts.max_sessions then
        args[#args + 1] = "--max-sessions"; args[#args + 1] = tostring(opts.max_sessions)
    end
    return args
end

-- Waits until srv.port accepts a TCP connection (then closes it at once).
local function wait_accepting(srv, what)
    local ok = poll(5, function()
        return connects(srv.host or "127.0.0.1", srv.port, 1)
    end)
    if not ok then
        local log = srv:log()
        srv:stop()
        error(what .. " not accepting connections:\n" .. log)
    end
end

function H.capture(opts)
    local args = capture_args(opts or {}, {})
    local srv = start(Capture, SUPPORT .. "capture_server.py", args, H.tmpdir())
    -- The port file is written after listen(), so this should connect at
    -- once; a connection that sends nothing does not count as a session.
    wait_accepting(srv, "capture server")
    return srv
end

-- The low-level object's road to DATA, for the specs of content the
-- filter refuses: smtp.open to 127.0.0.1:port, greet, MAIL `from`, RCPT
-- `to`, then s:data(source) under socket.protect, and close. Returns
-- data's r and err, and the object (s.error says what stopped it).
function H.low_level_data(port, from, to, source)
    local s = require("socket.smtp").open("127.0.0.1", port)
    s:greet("client.test")
    s:mail(from)
    s:rcpt(to)
    local r, err = socket.protect(function()
        return s:data(source)
    end)()
    pcall(s.close, s)
    return r, err, s
end

function H.assert_not_connected(srv)
    H.sleep(0.1)
    luassert.are.same({}, srv:sessions())
end

function H.assert_data_cut(srv)
    H.sleep(0.3)
    luassert.are.same({}, srv:messages())
    local wire = srv:sessions()[1]
    luassert.matches("\r\nDATA\r\n", wire)
    luassert.is_nil(wire:find("\r\n.\r\n", 1, true))
    luassert.is_nil(wire:find("QUIT", 1, true))
    return wire
end

local function decode_message(text)
    local m = assert(json.decode(text), "bad message JSON")
    return {
        seq = m.seq,
        session = m.session,
        from = m.mail_from,
        rcpt = m.rcpt_tos,
        mail_options = m.mail_options,
        rcpt_options = m.rcpt_options,
        helo = m.helo,
        data = unb64(m.data_b64),
    }
end

-- Files are numbered from 0001 without gaps and written in order, so
-- reading stops at the first missing one.
local function numbered(dir, fmt)
    local out = {}
    while true do
        local text = read_file(dir .. "/" .. fmt:format(#out + 1))
        if not text then return out end
        out[#out + 1] = text
    end
end

function Capture:messages()
    local list = numbered(self.dir, "msg-%04d.json")
    for i, text in ipairs(list) do list[i] = decode_message(text) end
    return list
end

function Capture:wait_messages(n, timeout)
    local dir = self.dir
    local ok = poll(timeout or 5, function()
        return exists(("%s/msg-%04d.json"):format(dir, n))
    end)
    if ok then return self:messages() end
    return self:messages(), "timeout"
end

function Capture:sessions()
    return numbered(self.dir, "session-%04d.bin")
end

--------------------------------------------------------------------------
-- Scripted server
--------------------------------------------------------------------------

local Scripted = setmetatable({}, { __index = Server })
Scripted.__index = Scripted

function H.scripted(script)
    assert(type(script) == "table", "script must be a table")
    local dir = H.tmpdir()
    local path = dir .. "/script.json"
    write_file(path, json.encode(deep_latin1(script)))
    return start(Scripted, SUPPORT .. "scripted_server.py", { "--script", path }, dir)
end

function Scripted:transcript(n)
    return read_file(("%s/conn-%d.bin"):format(self.dir, n or 1)) or ""
end

function Scripted:clear_transcript(n)
    return read_file(("%s/conn-%d.clear.bin"):format(self.dir, n or 1)) or ""
end

function Scripted:tls_info(n)
    local text = read_file(("%s/tls-%d.json"):format(self.dir, n or 1))
    return text and json.decode(text) or nil
end

function Scripted:wait_done(n, timeout)
    local path = ("%s/done-%d"):format(self.dir, n or 1)
    local text = poll(timeout or 5, function() return read_file(path) end)
    return text and (text:gsub("\n$", ""))
end

function Scripted:errors()
    self.errors_read = true
    return read_file(self.dir .. "/errors")
end

-- Asserts that the server saw nothing it did not expect: once every
-- connection it accepted is over (up to `timeout` seconds each, default
-- 5), its errors file must be empty.
function Scripted:assert_clean(timeout)
    local n = 1
    while exists(("%s/conn-%d.bin"):format(self.dir, n)) do
        self:wait_done(n, timeout)
        n = n + 1
    end
    local errors = self:errors()
    if errors ~= nil then
        error("the scripted server saw what its script did not expect:\n" .. errors, 2)
    end
end

-- A scripted server whose errors nobody read must not have any: a wrong
-- command from the client fails the test that stops it (srv:stop() in a
-- finally, or H.stop_all() in a teardown), even when the test forgot to
-- look. Specs that expect errors read them with srv:errors().
function Scripted:stop()
    if self.stopped then return end
    local errors = not self.errors_read and read_file(self.dir .. "/errors") or nil
    Server.stop(self)
    if errors ~= nil then
        error("the scripted server saw what its script did not expect, and the spec never "
            .. "checked (srv:errors() or srv:assert_clean()):\n" .. errors, 2)
    end
end

--------------------------------------------------------------------------
-- Email parsing (Python's email package, policy=compat32)
--------------------------------------------------------------------------

local function decode_tree(node)
    local out = {
        headers = {},
        content_type = node.content_type,
        charset = node.charset,
        boundary = node.boundary,
        is_multipart = node.is_multipart,
        preamble = unb64(node.preamble_b64),
        epilogue = unb64(node.epilogue_b64),
        payload = unb64(node.payload_b64),
        raw_payload = unb64(node.raw_payload_b64),
        filename = unb64(node.filename_b64),
        defects = node.defects or {},
        parts = {},
    }
    for i, h in ipairs(node.headers_b64) do
        local name, value = unb64(h[1]), unb64(h[2])
        local dec = node.decoded_b64 and unb64(node.decoded_b64[i])
        out.headers[i] = { name, value, name = name, value = value, decoded = dec }
    end
    for i, part in ipairs(node.parts or {}) do
        out.parts[i] = decode_tree(part)
    end
    return out
end

function H.parse_email(raw)
    local dir = H.tmpdir()
    local input, errors = dir .. "/message.eml", dir .. "/stderr"
    write_file(input, raw)
    local p = assert(io.popen(quote(H.python) .. " " .. quote(SUPPORT .. "parse_email.py")
        .. " " .. quote(input) .. " 2>" .. quote(errors)))
    local out = p:read("*a")
    p:close()
    local tree = json.decode(out)
    local err = read_file(errors)
    H.rmdir(dir)
    if type(tree) ~= "table" then
        error("parse_email.py failed: " .. tostring(err))
    end
    return decode_tree(tree)
end

function H.header(node, name)
    name = name:lower()
    for _, h in ipairs(node.headers) do
        if h.name:lower() == name then return h.value end
    end
    return nil
end


--------------------------------------------------------------------------
-- TLS and AUTH peers (issue #4)
--------------------------------------------------------------------------
--[[
certs = H.tls_certs([dir])
    Runs spec/support/tls_certs.sh: a test CA and leaf certificates made
    with openssl (EC P-256, ~0.3 s the first time; a no-op when DIR is
    already complete). Without `dir`, one shared set per Lua process in a
    H.tmpdir() that is removed when the Lua state closes.
    certs.dir, certs.ca (CA file for clients), certs.ca_key,
    certs.other_ca (a CA nobody trusts), certs.names (list of the names),
    certs[NAME] = { cert = FILE, key = FILE } for each NAME:
        localhost      SAN DNS:localhost, IP:127.0.0.1, IP:127.0.0.2, IP:::1
        wrong_host     CN and SAN DNS:wrong.example
        cn_ignored     CN=localhost but SAN DNS:wrong.example
        cn_only        CN=localhost, no SAN
        ip_only        SAN IP:127.0.0.1 only
        wildcard       SAN DNS:*.example.test
        wildcard_inner SAN DNS:mail.*.test (never valid)
        expired        like localhost, valid 2020-01-01 .. 2020-02-01
        not_yet_valid  like localhost, valid from 2099
        untrusted      like localhost, signed by other_ca
        client         client certificate (CN=client.test, clientAuth)

srv = H.tls_server(opts)     spec/support/tls_server.py (aiosmtpd + TLS + AUTH)
    opts (all optional):
        tls = "starttls" (default) | "implicit" (SMTPS) | "none"/false
        cert = NAME from H.tls_certs (default "localhost"), or
            cert_file = FILE, key_file = FILE
        certs = a H.tls_certs() result (default: the shared set)
        require_starttls = true   530 to everything but EHLO/HELO/NOOP/
                                  QUIT/STARTTLS before TLS
        user = "alice", password = "S3cret!pw" (the defaults); auth = false
            for no AUTH at all
        auth_require_tls = false  also offer/accept AUTH before STARTTLS
                                  (default: only after; implicit: always)
        auth_required = true      MAIL needs a successful AUTH first
        auth_mechanisms = { "PLAIN", "LOGIN", "CRAM-MD5" }  (default
                                  PLAIN and LOGIN)
        verify_client = "optional" | "required"  ask for a client
                                  certificate, checked against certs.ca
                                  (or client_ca = FILE)
        tls_min, tls_max = "1.2" | "1.3" (or "1.0" | "1.1": a server
                                  below the TLS 1.2 floor, at OpenSSL
                                  security level 0)
        and H.capture's reject_rcpt, reject_mail, reject_data,
        ehlo_unsupported, max_sessions
    srv.port, srv.host ("127.0.0.1"), srv.tls, srv.ca (CA file to trust),
    srv.certs, srv.user, srv.password, srv.pid, srv.dir
    Everything H.capture servers have (messages, wait_messages, sessions,
    stop, alive, log); messages also carry
        tls (true/false), auth_login (user or nil), auth_mechanism
    srv:sessions()          bytes each client sent, clear text before TLS
                            followed by the decrypted bytes after it
    srv:clear_sessions()    only the clear-text part of each session
    srv:tls_info([n=1])     { mode, version, cipher, sni, client_cert } of
                            session n once its handshake is done, or nil

srv = H.dovecot(opts)        spec/support/dovecot.py: a private Dovecot 2.3
                             submission server relaying to a H.capture()
    opts (all optional):
        user = "alice", password = "S3cret!pw" (the defaults)
        users = { name = password, ... }     more accounts
        cert = NAME from H.tls_certs (default "localhost"), certs = ...
        mechanisms = { "PLAIN", ... }  Dovecot's auth_mechanisms (default:
            PLAIN LOGIN CRAM-MD5 DIGEST-MD5 SCRAM-SHA-1 SCRAM-SHA-256
            OAUTHBEARER XOAUTH2; for XOAUTH2/OAUTHBEARER the token is the
            password)
        listen = "127.0.0.2"  Dovecot trusts 127.0.0.1 -> 127.0.0.1 as
            secure; only on another address do these two bite:
        ssl = "required"      no AUTH before STARTTLS (530)
        plaintext_auth = false  PLAIN/LOGIN refused before STARTTLS
        capture = { ... }     options for the H.capture relay target
    srv.port (STARTTLS), srv.smtps_port (implicit TLS), srv.host,
    srv.mechanisms (upper case, as configured), srv.ca, srv.certs,
    srv.user, srv.password, srv.capture (the H.capture server),
    srv.pid (the dovecot.py wrapper), srv.dovecot_pid, srv.dir
    srv:messages(), srv:wait_messages(n [, timeout]) (from the capture:
        Dovecot prepends a Received: header and adds SIZE= to MAIL FROM)
    srv:log()     the wrapper's output and dovecot.log
    srv:stop()    stops Dovecot (wrapper: TERM to the master, KILL to its
                  process group after 1.5 s; ~1.2 s), then the capture
                  server; idempotent, also run by H.stop_all()
    Startup takes ~0.3 s. Needs /usr/sbin/dovecot (dovecot-core and
    dovecot-submissiond); see H.dovecot_available().

ok, why = H.dovecot_available()   false + reason when Dovecot is missing
H.skip_peer(name)   true when the run says to do without peer `name`
                    ("dovecot", "nginx"): SMTP_NATIVE_SKIP_PEERS=dovecot,nginx
                    (or SMTP_NATIVE_SKIP_NGINX=1). Otherwise a missing peer
                    fails its spec: a skip is never silent.
H.skipped(name, why)  the text of the pending test of a skipped peer
H.need_peer(name, ok, why, what)  in a describe block: true when the peer
                    is there, else a pending (skipped) or failing test; false
]]

local CERT_NAMES = { "localhost", "wrong_host", "cn_ignored", "cn_only", "ip_only",
    "wildcard", "wildcard_inner", "expired", "not_yet_valid", "untrusted", "client" }
local shared_certs

function H.tls_certs(dir)
    if dir == nil and shared_certs then return shared_certs end
    local own = dir == nil
    if own then dir = H.tmpdir() end
    local ok, out = H.sh("sh " .. quote(SUPPORT .. "tls_certs.sh") .. " " .. quote(dir))
    if not ok then
        if own then H.rmdir(dir) end
        error("tls_certs.sh failed:\n" .. out)
    end
    local certs = { dir = dir, ca = dir .. "/ca.pem", ca_key = dir .. "/ca.key",
        other_ca = dir .. "/other_ca.pem", names = {} }
    for i, name in ipairs(CERT_NAMES) do
        certs[name] = { cert = dir .. "/" .. name .. ".pem", key = dir .. "/" .. name .. ".key" }
        certs.names[i] = name
    end
    if own then
        certs.cleanup = on_gc(function() H.rmdir(dir) end)
        shared_certs = certs
    end
    return certs
end

-- The certificate/key pair named by opts.cert (default "localhost").
local function pick_cert(certs, opts)
    if opts.cert_file or opts.key_file then
        return assert(opts.cert_file, "cert_file missing"), assert(opts.key_file, "key_file missing")
    end
    local name = opts.cert or "localhost"
    local c = certs[name]
    assert(type(c) == "table" and c.cert, "unknown certificate name " .. tostring(name))
    return c.cert, c.key
end

local TlsServer = setmetatable({}, { __index = Capture })
TlsServer.__index = TlsServer

function H.tls_server(opts)
    opts = opts or {}
    local certs = opts.certs or H.tls_certs()
    local tls = opts.tls
    if tls == nil then tls = "starttls" elseif tls == false then tls = "none" end
    assert(tls == "starttls" or tls == "implicit" or tls == "none", "bad tls mode " .. tostring(tls))
    local args = { "--tls", tls }
    if tls ~= "none" then
        local cert, key = pick_cert(certs, opts)
        args[#args + 1] = "--cert"; args[#args + 1] = cert
        args[#args + 1] = "--key"; args[#args + 1] = key
    end
    if opts.require_starttls then args[#args + 1] = "--require-starttls" end
    local user, password
    if opts.auth ~= false then
        user, password = opts.user or "alice", opts.password or "S3cret!pw"
        args[#args + 1] = "--user"; args[#args + 1] = user
        args[#args + 1] = "--password"; args[#args + 1] = password
    end
    if opts.auth_require_tls == false then
        args[#args + 1] = "--auth-require-tls"; args[#args + 1] = "no"
    end
    if opts.auth_required then args[#args + 1] = "--auth-required" end
    if opts.auth_mechanisms then
        args[#args + 1] = "--auth-mechanisms"
        args[#args + 1] = table.concat(opts.auth_mechanisms, ",")
    end
    if opts.verify_client then
        args[#args + 1] = "--client-ca"; args[#args + 1] = opts.client_ca or certs.ca
        args[#args + 1] = "--verify-client"; args[#args + 1] = opts.verify_client
    end
    if opts.tls_min then args[#args + 1] = "--tls-min"; args[#args + 1] = opts.tls_min end
    if opts.tls_max then args[#args + 1] = "--tls-max"; args[#args + 1] = opts.tls_max end
    capture_args(opts, args)
    local srv = start(TlsServer, SUPPORT .. "tls_server.py", args, H.tmpdir())
    srv.host, srv.tls, srv.certs, srv.ca = "127.0.0.1", tls, certs, certs.ca
    srv.user, srv.password = user, password
    -- A bare connect-and-close is not a session (nor, under implicit TLS,
    -- a handshake the server reports).
    wait_accepting(srv, "tls_server.py")
    return srv
end

function TlsServer:messages()
    local list = numbered(self.dir, "msg-%04d.json")
    for i, text in ipairs(list) do
        local m = decode_message(text)
        local raw = json.decode(text)
        m.tls, m.auth_login, m.auth_mechanism = raw.tls, raw.auth_login, raw.auth_mechanism
        list[i] = m
    end
    return list
end

function TlsServer:clear_sessions()
    return numbered(self.dir, "session-%04d.clear.bin")
end

function TlsServer:tls_info(n)
    local text = read_file(("%s/session-%04d.tls.json"):format(self.dir, n or 1))
    return text and json.decode(text) or nil
end

-- Peers a run may do without. A missing peer fails its spec, unless the
-- run says to skip it: SMTP_NATIVE_SKIP_PEERS names them (commas or
-- spaces: "dovecot,nginx"); SMTP_NATIVE_SKIP_NGINX=1 is the older spelling
-- of "nginx". Only then does the spec go pending, and the pending test
-- names the variable. A spec uses it (inside a describe block) as:
--     local ok, why = H.dovecot_available()
--     if not H.need_peer("dovecot", ok, why, "the Dovecot cases") then return end
function H.skip_peer(name)
    local list = os.getenv("SMTP_NATIVE_SKIP_PEERS") or ""
    for word in list:gmatch("[^%s,]+") do
        if word:lower() == name then return true end
    end
    return name == "nginx" and os.getenv("SMTP_NATIVE_SKIP_NGINX") == "1"
end

-- The text of the pending test of a skipped peer.
function H.skipped(name, why)
    return ("skipped (%s is in SMTP_NATIVE_SKIP_PEERS): %s"):format(name, tostring(why))
end

-- true when peer `name` is there (`ok`); else, inside a describe block, a
-- pending test when the run skips that peer, or a failing one that says
-- why `what` cannot run and how to skip it; then false.
function H.need_peer(name, ok, why, what)
    if ok then return true end
    local busted = require("busted") -- its it/pending are the spec file's, not globals
    if H.skip_peer(name) then
        busted.pending(H.skipped(name, why))
    else
        busted.it("needs " .. name, function()
            error("cannot run " .. what .. ": " .. tostring(why)
                .. "\n(set SMTP_NATIVE_SKIP_PEERS=" .. name .. " to skip)", 0)
        end)
    end
    return false
end

-- At the top of a spec that needs LuaSec (the Lua module "ssl"): true when
-- it loads; else a describe(title) block with one test, "needs LuaSec",
-- that fails saying what is missing (such a spec never passes without
-- having checked anything), and false: the spec then returns.
function H.need_luasec(title)
    if pcall(require, "ssl") then return true end
    local busted = require("busted") -- the spec file's describe/it
    busted.describe(title, function()
        busted.it("needs LuaSec", function()
            error("LuaSec (the Lua module \"ssl\") is not installed for this interpreter ("
                .. (rawget(_G, "jit") and "LuaJIT" or _VERSION) .. "): apt-get install lua-sec", 0)
        end)
    end)
    return false
end

local DOVECOT_BIN = os.getenv("DOVECOT_BIN") or "/usr/sbin/dovecot"

function H.dovecot_available()
    if exists(DOVECOT_BIN) then return true end
    return false, DOVECOT_BIN .. " not found (apt-get install dovecot-core dovecot-submissiond)"
end

local Dovecot = setmetatable({}, { __index = Server })
Dovecot.__index = Dovecot

function H.dovecot(opts)
    opts = opts or {}
    local available, why = H.dovecot_available()
    assert(available, why)
    local certs = opts.certs or H.tls_certs()
    local cert, key = pick_cert(certs, opts)
    local user, password = opts.user or "alice", opts.password or "S3cret!pw"
    local cap = H.capture(opts.capture)
    local args = { "--cert", cert, "--key", key, "--relay-port", tostring(cap.port),
        "--user", user, "--password", password }
    local extra = {}
    for name in pairs(opts.users or {}) do extra[#extra + 1] = name end
    table.sort(extra)
    for _, name in ipairs(extra) do
        args[#args + 1] = "--user"; args[#args + 1] = name
        args[#args + 1] = "--password"; args[#args + 1] = opts.users[name]
    end
    if opts.listen then args[#args + 1] = "--listen"; args[#args + 1] = opts.listen end
    if opts.ssl then args[#args + 1] = "--ssl"; args[#args + 1] = opts.ssl end
    if opts.plaintext_auth == false then
        args[#args + 1] = "--plaintext-auth"; args[#args + 1] = "no"
    end
    if opts.mechanisms then
        args[#args + 1] = "--mechanisms"
        args[#args + 1] = table.concat(opts.mechanisms, " "):lower()
    end
    -- The wrapper writes DIR/port only once Dovecot has greeted.
    local ok, srv = pcall(start, Dovecot, SUPPORT .. "dovecot.py", args, H.tmpdir())
    if not ok then
        cap:stop()
        error(srv, 0)
    end
    srv.capture = cap
    local info = json.decode(read_file(srv.dir .. "/info.json") or "")
    if type(info) ~= "table" then
        srv:stop()
        error("dovecot.py wrote no info.json")
    end
    srv.smtps_port, srv.host, srv.mechanisms = info.smtps_port, info.host, info.mechanisms
    srv.dovecot_pid = info.dovecot_pid
    srv.certs, srv.ca, srv.user, srv.password = certs, certs.ca, user, password
    return srv
end

function Dovecot:stop()
    if self.stopped then return end
    -- The wrapper needs up to ~1.6 s to take Dovecot down: a longer grace
    -- than Server.stop's before it resorts to KILL.
    H.kill(self.pid, self.script, 5)
    Server.stop(self)
    if self.capture then self.capture:stop() end
end

function Dovecot:log()
    return (read_file(self.dir .. "/server.log") or "") .. (read_file(self.dir .. "/dovecot.log") or "")
end

function Dovecot:messages()
    return self.capture:messages()
end

function Dovecot:wait_messages(n, timeout)
    return self.capture:wait_messages(n, timeout)
end

return H
