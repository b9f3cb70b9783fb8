-----------------------------------------------------------------------------
-- smtp_native: LuaSocket's SMTP client API on smtp-native's C engine,
-- also loaded as socket.smtp (lua/socket/smtp.lua).
--
-- Same functions, fields, defaults and return values as LuaSocket's
-- socket.smtp (doc/smtp.md lists each, and every extension). The protocol
-- runs in the sans-I/O engine socket.smtp.core; socket.smtp.driver does
-- the I/O in Lua frames, so sends work on LuaSocket, on OpenResty
-- cosockets and under coroutine schedulers alike.
-----------------------------------------------------------------------------
local core = require("socket.smtp.core")
local driver = require("socket.smtp.driver")
local message = require("socket.smtp.message")
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
    self.session:close(not self.session.broken)
    raise(err)
end

function methods:greet(domain)
    self.domain = domain or _M.DOMAIN
    local ext = check(self, self.session:greet(self.domain))
    return ext
end

function methods:mail(from)
    local r = check(self, self.session:mail(from))
    return r.code, r.reply
end

function methods:rcpt(to)
    local r = check(self, self.session:rcpt(to))
    return r.code, r.reply
end

-- Sends src as the message content. Unlike LuaSocket's `data`, the
-- content is dot-stuffed and its line ends normalised to CRLF here (a
-- source already chained with mime.stuff() would be stuffed twice).
function methods:data(src, step)
    local r = check(self, self.session:data(src, step))
    return r.code, r.reply
end

function methods:quit()
    local r = check(self, self.session:quit())
    return r.code, r.reply
end

function methods:rset()
    local r = check(self, self.session:rset())
    return r.code, r.reply
end

function methods:noop()
    local r = check(self, self.session:noop())
    return r.code, r.reply
end

function methods:close()
    return self.session.t:close()
end

function methods:login(user, password)
    local r = check(self, self.session:login(user, password))
    return r.code, r.reply
end

function methods:plain(user, password)
    local r = check(self, self.session:plain(user, password))
    return r.code, r.reply
end

-- STARTTLS on the open session: the handshake (certificate verified
-- unless ssl.verify = "none") and a fresh EHLO, whose reply is returned.
function methods:starttls(ssl)
    local ok, err, field = tls.check(ssl)
    if ok then ok, err, field = tls.prepare(self.session.t, ssl) end
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
    local r = check(self, self.session:authenticate({
        user = a.user, password = a.password, token = a.token, authzid = a.authzid, auth = a.auth,
        host = self.host, port = self.port,
    }))
    return r.code, r.reply
end

-- As LuaSocket: nothing to do without credentials; LOGIN, then PLAIN, as
-- the EHLO reply `ext` offers them.
function methods:auth(user, password, ext)
    if not user or not password then return 1 end
    ext = ext or self.session.ext or ""
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
    return self.session.core:caps()
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
    ok, err = driver.check_timeout(timeout, options.timeout and "timeout" or "smtp.TIMEOUT")
    if not ok then raise(err) end
    local session
    local refused
    if options.tls == "smtps" then create, refused = tls.guard(create, options.ssl) end
    session, err = driver.connect(server, port, timeout, create, options.debug)
    if not session then
        if refused and refused.err then err = "invalid " .. refused.field .. ": " .. refused.err end
        raise(err)
    end
    if options.tls == "smtps" then
        local tok, terr = session:smtps(server, options.ssl)
        if not tok then
            session.t:close()
            raise(terr)
        end
    end
    return setmetatable({ session = session, host = server, port = port }, metat)
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
    local ok, err, det = driver.check_envelope(mailt)
    if not ok then return nil, err, det end
    if mailt.timeout ~= nil then
        ok, err, det = driver.check_timeout(mailt.timeout, "timeout")
    else
        ok, err, det = driver.check_timeout(_M.TIMEOUT, "smtp.TIMEOUT")
    end
    if not ok then return nil, err, det end
    if mailt.create ~= nil and not transport.callable(mailt.create) then
        return driver.bad_arg("create", nil, "must be a function, got " .. type(mailt.create), "EARG")
    end
    ok, err, det = driver.check_content(mailt.source, mailt.step)
    if not ok then return nil, err, det end
    local server = mailt.server or _M.SERVER
    if type(server) ~= "string" then
        return driver.bad_arg("server", nil, "must be a string, got " .. type(server), "EARG")
    end
    local port = mailt.port or _M.PORT
    if type(port) ~= "number" and type(port) ~= "string" then
        return driver.bad_arg("port", nil, "must be a number, got " .. type(port), "EARG")
    end
    local domain = mailt.domain or _M.DOMAIN
    if type(domain) ~= "string" then
        return driver.bad_arg("domain", nil, "must be a string, got " .. type(domain), "EARG")
    end
    ok, err, det = driver.check("from", "from", mailt.from)
    if not ok then return nil, err, det end
    local rcpt = mailt.rcpt
    if type(rcpt) == "table" then
        for i, v in ipairs(rcpt) do
            ok, err, det = driver.check("rcpt", #rcpt > 1 and ("rcpt[" .. i .. "]") or "rcpt", v)
            if not ok then return nil, err, det end
        end
    else
        ok, err, det = driver.check("rcpt", "rcpt", rcpt)
        if not ok then return nil, err, det end
    end
    ok, err, det = driver.check("domain", "domain", mailt.domain or _M.DOMAIN)
    if not ok then return nil, err, det end
    if mailt.user ~= nil then
        if type(mailt.user) ~= "string" then
            return driver.bad_arg("user", nil, "must be a string, got " .. type(mailt.user), "EARG")
        end
        if mailt.user == "" then
            return driver.bad_arg("user", nil, "must be a non-empty string", "EARG_EMPTY")
        end
        ok, err, det = driver.check("text", "user", mailt.user, true)
        if not ok then return nil, err, det end
    end
    for _, k in ipairs({ "password", "token", "authzid" }) do
        if mailt[k] ~= nil and type(mailt[k]) ~= "string" then
            return driver.bad_arg(k, nil, "must be a string, got " .. type(mailt[k]), "EARG")
        end
    end
    if mailt.insecure_auth ~= nil and type(mailt.insecure_auth) ~= "boolean" then
        return driver.bad_arg("insecure_auth", nil, "must be a boolean, got " .. type(mailt.insecure_auth),
            "EARG")
    end
    local mode = mailt.tls
    if mode ~= nil and mode ~= false and mode ~= "auto" and mode ~= "starttls" and mode ~= "smtps" then
        return driver.bad_arg("tls", nil, 'must be "auto", "starttls", "smtps" or false', "EARG")
    end
    local field
    ok, err, field = tls.check(mailt.ssl)
    if not ok then return driver.bad_arg(field, nil, err, "EARG") end
    if mailt.tlspolicy ~= nil and type(mailt.tlspolicy) ~= "function" then
        return driver.bad_arg("tlspolicy", nil, "must be a function, got " .. type(mailt.tlspolicy), "EARG")
    end
    if mailt.debug ~= nil and type(mailt.debug) ~= "function" then
        return driver.bad_arg("debug", nil, "must be a function, got " .. type(mailt.debug), "EARG")
    end
    local auth = mailt.auth
    if auth ~= nil and type(auth) ~= "string" and type(auth) ~= "table" then
        return driver.bad_arg("auth", nil, "must be a mechanism name or a list of them", "EARG")
    end
    if type(auth) == "table" then
        for i, v in ipairs(auth) do
            if type(v) ~= "string" then
                return driver.bad_arg("auth[" .. i .. "]", nil, "must be a mechanism name, got " .. type(v),
                    "EARG")
            end
        end
    end
    return true
end

-- Loopback: credentials may go there in clear text (nothing crosses a
-- network). The connected address decides when the socket can tell.
local function loopback(s, server)
    local sock = s.t.sock
    local addr = server
    if s.t.kind == "luasocket" and sock.getpeername then
        addr = sock:getpeername() or server
    end
    if addr == "localhost" or addr == "::1" or addr == "[::1]" then return true end
    return core.ip(addr) == 4 and addr:match("^127%.") ~= nil
end

-- TLS setup failed: may the session go on in clear text? The caller's
-- tlspolicy(code, text) says "insecure" to allow it, anything else fails
-- (Tcl smtp's -tlspolicy). Without a policy: fail, except with tls =
-- "auto" to this machine (nothing crosses a network; a local MTA's
-- self-signed certificate must not stop what worked in clear text).
local function go_on_in_clear(mailt, code, text, default)
    local policy = mailt.tlspolicy
    if policy == nil then return default == true end
    return policy(code, text) == "insecure"
end

-- After the greeting: STARTTLS when the mode asks for it. Returns the
-- (new) session and the EHLO reply to go on with, or nil, err, details.
local function negotiate(s, mailt, mode, server, domain, ehlo, reconnect)
    if mode ~= "auto" and mode ~= "starttls" then return s, ehlo end
    local offered = s.core:has("STARTTLS") ~= nil
    if not offered then
        if mode == "auto" then return s, ehlo end
        local text = "TLS required (tls = \"starttls\") but the server does not offer STARTTLS"
        if go_on_in_clear(mailt, nil, text) then s.tls_error = text; return s, ehlo end
        s:close(not s.broken)
        return nil, text, { stage = "tls", name = "ETLS_NOTOFFERED" }
    end
    if not tls.available(s.t, mailt.ssl) then
        if mode == "auto" then return s, ehlo end
        -- tls = "starttls" with no TLS layer: said before STARTTLS is sent
        local text = "no TLS layer for this socket: pass ssl.upgrade = function(sock, host, params)"
        if go_on_in_clear(mailt, nil, text) then s.tls_error = text; return s, ehlo end
        s:close(true)
        return nil, text, { stage = "tls", name = "ETLS_NOLAYER" }
    end
    local lenient = mode == "auto" and loopback(s, server)
    local r, err, det = s:starttls(server, mailt.ssl, domain)
    if r then return s, r end
    if det and det.stage == "starttls" and det.code then
        -- refused (454 ...): the session is still in clear text
        if go_on_in_clear(mailt, det.code, det.reply, lenient) then s.tls_error = err; return s, ehlo end
        s:close(not s.broken)
        return nil, err, det
    end
    if det and det.stage == "tls" and go_on_in_clear(mailt, nil, err, lenient) then
        -- the handshake failed half-way: start again, without TLS. The
        -- transcript and the report say so (a second connection, and why).
        local debug = mailt.debug
        if debug then debug("C", "[TLS failed: " .. err .. "]") end
        s:close(false)
        if debug then debug("C", "[connection closed; reconnecting without TLS]") end
        local s2, r2, d2 = reconnect()
        if s2 then s2.tls_error = err end
        return s2, r2, d2
    end
    s:close(not s.broken)
    return nil, err, det
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
    local first, first_err = mailt.source()
    if first == nil and first_err ~= nil then
        return nil, first_err, { stage = "source", name = "ESOURCE" }
    end
    if first ~= nil and type(first) ~= "string" then return driver.bad_chunk("source", first) end
    local mode = mailt.tls
    if mode == nil then mode = "auto" end
    local timeout = mailt.timeout or _M.TIMEOUT
    local server = mailt.server or _M.SERVER
    local port = mailt.port or (mode == "smtps" and 465 or _M.PORT)
    local domain = mailt.domain or _M.DOMAIN

    -- On a cosocket, what nginx cannot apply of `ssl` is refused before
    -- connect (tls.guard); with tls = false `ssl` is not used at all.
    local create, refused = mailt.create, nil
    if mode ~= false then create, refused = tls.guard(create, mailt.ssl) end

    -- connect, SMTPS handshake, greeting and EHLO: s, ehlo | nil, err, det
    local function open(tls_mode)
        local s, cerr, cdet = driver.connect(server, port, timeout, create, mailt.debug)
        if not s then
            if refused and refused.err then return driver.bad_arg(refused.field, nil, refused.err, "EARG") end
            return nil, cerr, cdet
        end
        if tls_mode == "smtps" then
            local tok, terr, tdet = s:smtps(server, mailt.ssl)
            if not tok then
                s:close(false)
                return nil, terr, tdet
            end
        end
        local r, gerr, gdet = s:greet(domain)
        if not r then
            s:close(not s.broken)
            return nil, gerr, gdet
        end
        return s, r
    end

    local s, r
    s, r, det = open(mode)
    if not s then return nil, r, det end
    s, r, det = negotiate(s, mailt, mode, server, domain, r, function() return open(false) end)
    if not s then return nil, r, det end
    err = nil
    if mailt.user or mailt.token then
        if not s.t.tls and not mailt.insecure_auth and not loopback(s, server) then
            r, err, det = nil, "refusing to send credentials to " .. server .. " over an unencrypted " ..
                "connection (use tls = \"starttls\" or \"smtps\", or set insecure_auth = true)",
                { stage = "auth", name = "EINSECURE_AUTH" }
        else
            r, err, det = s:authenticate({
                user = mailt.user, password = mailt.password, token = mailt.token,
                authzid = mailt.authzid, auth = mailt.auth, host = server, port = port,
            })
        end
    end
    local report
    if r then
        r, err, det = s:transaction(mailt, true, first, first_err)
        report = err
    end
    if not r then
        s:close(not s.broken)
        return nil, err, det
    end
    -- The message is accepted: a failing QUIT must not make the caller
    -- send it again, so it is only recorded.
    local q, qerr = s:quit()
    if not q then report.quit_error = qerr end
    s.t:close()
    report.tls = s.t.tls == true
    report.tls_error = s.tls_error
    report.mechanism = s.mechanism
    return 1, report
end

return _M
