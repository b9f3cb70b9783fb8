-----------------------------------------------------------------------------
-- socket.smtp: LuaSocket's SMTP client API on smtp-native's C engine.
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
    local ext = check(self, self.session:greet(domain or _M.DOMAIN))
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
    local ok, report = check(self, self.session:transaction(mailt))
    return ok, report
end

-- The capabilities of the last EHLO reply: { KEYWORD = params, ... }.
function methods:caps()
    return self.session.core:caps()
end

local function check_send_args(mailt, fname)
    if type(mailt) ~= "table" then
        error(string_format("bad argument #1 to '%s' (table expected, got %s)", fname, type(mailt)), 3)
    end
    if type(mailt.from) ~= "string" then
        error(string_format("bad argument #1 to '%s' (field 'from' must be a string, got %s)",
            fname, type(mailt.from)), 3)
    end
    local rcpt = mailt.rcpt
    if type(rcpt) == "table" then
        if #rcpt == 0 then
            error(string_format("bad argument #1 to '%s' (field 'rcpt' is an empty list)", fname), 3)
        end
        for i, v in ipairs(rcpt) do
            if type(v) ~= "string" then
                error(string_format("bad argument #1 to '%s' (field 'rcpt[%d]' must be a string, got %s)",
                    fname, i, type(v)), 3)
            end
        end
    elseif type(rcpt) ~= "string" then
        error(string_format("bad argument #1 to '%s' (field 'rcpt' must be a string or a list, got %s)",
            fname, type(rcpt)), 3)
    end
    if type(mailt.source) ~= "function" then
        error(string_format("bad argument #1 to '%s' (field 'source' must be an LTN12 source, got %s)",
            fname, type(mailt.source)), 3)
    end
end

function _M.open(server, port, create)
    local session, err = driver.connect(server or _M.SERVER, port or _M.PORT, _M.TIMEOUT, create)
    if not session then raise(err) end
    return setmetatable({ session = session }, metat)
end

---------------------------------------------------------------------------
-- Multipart message source
---------------------------------------------------------------------------
function _M.message(mesgt)
    return message.source(mesgt, type(mesgt) == "table" and mesgt.zone or _M.ZONE, _M.DOMAIN)
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
    local ok, err, det = driver.check("from", "from", mailt.from)
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
        if type(mailt.user) ~= "string" or mailt.user == "" then
            return driver.bad_arg("user", nil, "must be a non-empty string", "EARG_EMPTY")
        end
        ok, err, det = driver.check("text", "user", mailt.user, true)
        if not ok then return nil, err, det end
    end
    return true
end

-- Sends a message. Returns 1, report | nil, err, details.
--   report = { accepted = {addr...}, refused = {{addr, code, reply}...},
--              reply = final reply, code = its code, enhanced = "2.0.0" }
function _M.send(mailt)
    check_send_args(mailt, "send")
    local ok, err, det = validate(mailt)
    if not ok then return nil, err, det end
    -- A message that cannot be produced (an invalid header, a source that
    -- fails at once) fails here, before a connection is even opened.
    local first, first_err = mailt.source()
    if first == nil and first_err ~= nil then
        return nil, first_err, { stage = "source", name = "ESOURCE" }
    end
    local timeout = mailt.timeout or _M.TIMEOUT
    local s
    s, err, det = driver.connect(mailt.server or _M.SERVER, mailt.port or _M.PORT, timeout, mailt.create)
    if not s then return nil, err, det end
    local r
    r, err, det = s:greet(mailt.domain or _M.DOMAIN)
    if r and mailt.user and mailt.password then
        local ext = r
        if string_find(ext, "AUTH[^\n]+LOGIN") then
            r, err, det = s:login(mailt.user, mailt.password)
        elseif string_find(ext, "AUTH[^\n]+PLAIN") then
            r, err, det = s:plain(mailt.user, mailt.password)
        else
            r, err, det = nil, "authentication not supported", { stage = "auth", name = "ENOAUTH" }
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
    return 1, report
end

return _M
