-----------------------------------------------------------------------------
-- smtp_native: LuaSocket's SMTP client API on smtp-native's C engine,
-- also loaded as socket.smtp (lua/socket/smtp.lua).
--
-- Same functions, fields, defaults and return values as LuaSocket's
-- socket.smtp (doc/smtp.md lists each, and every extension). This module
-- is the API: arguments, defaults, LuaSocket's ways of failing. The
-- protocol runs in the sans-I/O engine socket.smtp.core; socket.smtp.driver
-- does the I/O in Lua frames, so sends work on LuaSocket, on OpenResty
-- cosockets and under coroutine schedulers alike; socket.smtp.session
-- holds the connection policy (TLS, when credentials may be sent).
-----------------------------------------------------------------------------
local core = require("socket.smtp.core")
local args = require("socket.smtp.args")
local driver = require("socket.smtp.driver")
local message = require("socket.smtp.message")
local session = require("socket.smtp.session")
local tls = require("socket.smtp.tls")
local transport = require("socket.smtp.transport")

local type, ipairs, setmetatable, error = type, ipairs, setmetatable, error
local string_find, string_format = string.find, string.format
local os_getenv = os.getenv

local ok_socket, socket = pcall(require, "socket")
if not ok_socket then socket = nil end

local _M = {}
_M._VERSION = core._VERSION

-- timeout for each network step, in seconds
_M.TIMEOUT = 60
-- default server used to send e-mails
_M.SERVER = "localhost"
-- default port
_M.PORT = 25
-- domain used in EHLO/HELO; under a CGI, the server's name
_M.DOMAIN = os_getenv("SERVER_NAME") or "localhost"
-- default time zone (means we don't know)
_M.ZONE = "-0000"

-- LuaSocket's smtp publishes itself as socket.smtp; so do we.
if socket then socket.smtp = _M end

-- Errors of the low-level object are raised as LuaSocket exceptions, so
-- LuaSocket's protect turns them into nil, err exactly as with LuaSocket.
local raise
if socket and socket.try then
    local try = socket.try
    raise = function(err) try(nil, err) end
else
    raise = function(err) error(err, 0) end
end

---------------------------------------------------------------------------
-- Low level SMTP API (LuaSocket's smtp.open and its methods)
---------------------------------------------------------------------------
local metat = { __index = {} }
local methods = metat.__index

-- Any failure closes the connection (politely, with QUIT, when the session
-- is still sane) and raises, as LuaSocket's `self.try` does.
local function check(self, r, err, det)
    if r then return r, err end
    self.error = det
    self.session:close(true) -- politely, unless the session is broken
    raise(err)
end

-- The code and reply of a session call's reply, through check.
local function answer(self, r, err, det)
    r = check(self, r, err, det)
    return r.code, r.reply
end

function methods:greet(domain)
    self.domain = domain or _M.DOMAIN
    local ext = check(self, self.session:greet(self.domain))
    return ext
end

function methods:mail(from)
    return answer(self, self.session:mail(from))
end

function methods:rcpt(to)
    return answer(self, self.session:rcpt(to))
end

-- Sends src as the message content. Unlike LuaSocket's `data`, the
-- content is dot-stuffed and its line ends normalised to CRLF here (a
-- source already chained with mime.stuff() would be stuffed twice).
function methods:data(src, step)
    return answer(self, self.session:data(src, step))
end

function methods:quit()
    return answer(self, self.session:quit())
end

function methods:rset()
    return answer(self, self.session:rset())
end

function methods:noop()
    return answer(self, self.session:noop())
end

function methods:close()
    return self.session:close(false)
end

function methods:login(user, password)
    return answer(self, self.session:login(user, password))
end

function methods:plain(user, password)
    return answer(self, self.session:plain(user, password))
end

-- STARTTLS on the open session: the handshake (certificate verified
-- unless ssl.verify = "none") and a fresh EHLO, whose reply is returned.
function methods:starttls(ssl)
    local ok, err, field = tls.check(ssl)
    if ok then ok, err, field = self.session:prepare_tls(ssl) end
    if not ok then
        check(self, nil, "invalid " .. field .. ": " .. err,
            { stage = "argument", field = field, name = "EARG" })
    end
    return check(self, self.session:starttls(self.host, ssl, self.domain or _M.DOMAIN))
end

-- AUTH with the strongest mechanism both sides support, or the one(s)
-- `auth` names: a = {user =, password =, token =, authzid =, auth =}.
-- Returns the code and reply of the final 235.
function methods:authenticate(a)
    if type(a) ~= "table" then
        error(string_format("bad argument #1 to 'authenticate' (table expected, got %s)", type(a)), 2)
    end
    return answer(self, self.session:authenticate({
        user = a.user, password = a.password, token = a.token, authzid = a.authzid, auth = a.auth,
        host = self.host, port = self.port,
    }))
end

-- As LuaSocket: nothing to do without credentials; LOGIN, then PLAIN, as
-- the EHLO reply `ext` offers them.
function methods:auth(user, password, ext)
    if not user or not password then return 1 end
    ext = ext or self.session:ehlo_reply() or ""
    if string_find(ext, "AUTH[^\n]+LOGIN") then
        return self:login(user, password)
    elseif string_find(ext, "AUTH[^\n]+PLAIN") then
        return self:plain(user, password)
    end
    check(self, nil, "authentication not supported", { stage = "auth", name = "ENOAUTH" })
end

-- One message on the open session: MAIL, RCPT..., DATA (pipelined when
-- the server offers PIPELINING). Returns 1, report.
function methods:send(mailt)
    if type(mailt) ~= "table" then
        error(string_format("bad argument #1 to 'send' (table expected, got %s)", type(mailt)), 2)
    end
    local ok, report = check(self, self.session:transaction(mailt))
    return ok, report
end

-- The capabilities of the last EHLO reply: { KEYWORD = params, ... }.
function methods:caps()
    return self.session:caps()
end

-- LuaSocket's open(server, port, create), plus an optional options
-- table: tls = "smtps" (the handshake happens here; the port defaults to
-- 465), ssl = {...}, timeout = seconds, debug = function(direction, line).
function _M.open(server, port, create, options)
    options = options or {}
    if type(options) ~= "table" then
        error(string_format("bad argument #4 to 'open' (table expected, got %s)", type(options)), 2)
    end
    local ok, err, field = tls.check(options.ssl)
    if not ok then raise("invalid " .. field .. ": " .. err) end
    if options.tls ~= nil and options.tls ~= "smtps" and options.tls ~= false then
        raise('invalid tls: open takes tls = "smtps" (use s:starttls() for STARTTLS)')
    end
    server = server or _M.SERVER
    port = port or (options.tls == "smtps" and 465 or _M.PORT)
    if type(server) ~= "string" then raise("invalid server: must be a string, got " .. type(server)) end
    if type(port) ~= "number" and type(port) ~= "string" then
        raise("invalid port: must be a number, got " .. type(port))
    end
    local timeout = options.timeout or _M.TIMEOUT
    ok, err = args.check_timeout(timeout, options.timeout and "timeout" or "smtp.TIMEOUT")
    if not ok then raise(err) end
    local smtps = options.tls == "smtps"
    local conn = session.connector({ server = server, port = port, timeout = timeout, create = create,
                                     ssl = options.ssl, debug = options.debug, guard = smtps })
    local s
    s, err = conn:connect(smtps)
    if not s then raise(err) end
    return setmetatable({ session = s, host = server, port = port }, metat)
end

---------------------------------------------------------------------------
-- Multipart message source
---------------------------------------------------------------------------
function _M.message(mesgt)
    local zone, label = nil, "mesgt.zone"
    if type(mesgt) == "table" then zone = mesgt.zone end
    if zone == nil then zone, label = _M.ZONE, "smtp.ZONE" end
    return message.source(mesgt, zone, _M.DOMAIN, label)
end

-- A body read from a file by the C generator, in large blocks, encoded
-- (base64 unless said otherwise) on the way; closed when read, on error,
-- or when collected. Returns the body, or nil, err as io.open does.
function _M.file(path, opts)
    if type(path) ~= "string" then
        error(string_format("bad argument #1 to 'file' (string expected, got %s)", type(path)), 2)
    end
    return core.file(path, opts)
end

---------------------------------------------------------------------------
-- High level SMTP API
---------------------------------------------------------------------------

-- Every argument that becomes part of a command is checked before the
-- connection is opened: nothing is sent unless all of it can be.
local function validate(mailt)
    local ok, err, det = args.check_envelope(mailt)
    if not ok then return nil, err, det end
    if mailt.timeout ~= nil then
        ok, err, det = args.check_timeout(mailt.timeout, "timeout")
    else
        ok, err, det = args.check_timeout(_M.TIMEOUT, "smtp.TIMEOUT")
    end
    if not ok then return nil, err, det end
    if mailt.create ~= nil and not transport.callable(mailt.create) then
        return args.bad_arg("create", nil, "must be a function, got " .. type(mailt.create), "EARG")
    end
    ok, err, det = args.check_content(mailt.source, mailt.step)
    if not ok then return nil, err, det end
    ok, err, det = args.check_string("server", mailt.server or _M.SERVER)
    if not ok then return nil, err, det end
    local port = mailt.port or _M.PORT
    if type(port) ~= "number" and type(port) ~= "string" then
        return args.bad_arg("port", nil, "must be a number, got " .. type(port), "EARG")
    end
    local domain = mailt.domain or _M.DOMAIN
    ok, err, det = args.check_string("domain", domain)
    if not ok then return nil, err, det end
    local rcpt = mailt.rcpt
    ok, err, det = args.check_addresses(mailt.from, type(rcpt) == "table" and rcpt or { rcpt })
    if not ok then return nil, err, det end
    ok, err, det = args.check("domain", "domain", domain)
    if not ok then return nil, err, det end
    if mailt.user ~= nil then
        ok, err, det = args.check_string("user", mailt.user)
        if not ok then return nil, err, det end
        if mailt.user == "" then
            return args.bad_arg("user", nil, "must be a non-empty string", "EARG_EMPTY")
        end
        ok, err, det = args.check("text", "user", mailt.user, true)
        if not ok then return nil, err, det end
    end
    for _, k in ipairs({ "password", "token", "authzid" }) do
        if mailt[k] ~= nil then
            ok, err, det = args.check_string(k, mailt[k])
            if not ok then return nil, err, det end
        end
    end
    if mailt.insecure_auth ~= nil and type(mailt.insecure_auth) ~= "boolean" then
        return args.bad_arg("insecure_auth", nil, "must be a boolean, got " .. type(mailt.insecure_auth),
            "EARG")
    end
    local mode = mailt.tls
    if mode ~= nil and mode ~= false and mode ~= "auto" and mode ~= "starttls" and mode ~= "smtps" then
        return args.bad_arg("tls", nil, 'must be "auto", "starttls", "smtps" or false', "EARG")
    end
    local field
    ok, err, field = tls.check(mailt.ssl)
    if not ok then return args.bad_arg(field, nil, err, "EARG") end
    if mailt.tlspolicy ~= nil and type(mailt.tlspolicy) ~= "function" then
        return args.bad_arg("tlspolicy", nil, "must be a function, got " .. type(mailt.tlspolicy), "EARG")
    end
    if mailt.debug ~= nil and type(mailt.debug) ~= "function" then
        return args.bad_arg("debug", nil, "must be a function, got " .. type(mailt.debug), "EARG")
    end
    local auth = mailt.auth
    if auth ~= nil and type(auth) ~= "string" and type(auth) ~= "table" then
        return args.bad_arg("auth", nil, "must be a mechanism name or a list of them", "EARG")
    end
    if type(auth) == "table" then
        for i, v in ipairs(auth) do
            if type(v) ~= "string" then
                return args.bad_arg("auth[" .. i .. "]", nil, "must be a mechanism name, got " .. type(v),
                    "EARG")
            end
        end
    end
    return true
end

-- Sends a message. Returns 1, report | nil, err, details.
--   report = { accepted = {addr...}, refused = {{addr, code, reply}...},
--              reply = final reply, code = its code, enhanced = "2.0.0" }
function _M.send(mailt)
    -- Only a mailt that is not a table raises (as LuaSocket's send would);
    -- anything wrong inside it is returned by validate.
    if type(mailt) ~= "table" then
        error(string_format("bad argument #1 to 'send' (table expected, got %s)", type(mailt)), 2)
    end
    local ok, err, det = validate(mailt)
    if not ok then return nil, err, det end
    -- A message that cannot be produced (an invalid header, a source that
    -- fails at once) fails here, before a connection is even opened.
    local src
    src, err, det = driver.primed(mailt.source)
    if not src then return nil, err, det end
    local mode = mailt.tls
    if mode == nil then mode = "auto" end
    return session.send(mailt, src, {
        tls = mode,
        server = mailt.server or _M.SERVER,
        port = mailt.port or (mode == "smtps" and 465 or _M.PORT),
        timeout = mailt.timeout or _M.TIMEOUT,
        domain = mailt.domain or _M.DOMAIN,
    })
end

return _M
