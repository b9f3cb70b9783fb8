-----------------------------------------------------------------------------
-- socket.smtp.session: the connection policy of smtp-native.
--
-- How a session is opened and made fit to carry a message: connect (the
-- SMTPS handshake first with tls = "smtps"), greeting and EHLO; STARTTLS
-- as the TLS mode asks, and what happens when it fails (tlspolicy, the
-- lenient default to this machine, the reconnection in clear text); when
-- credentials may be sent; then the transaction and QUIT. The protocol
-- steps themselves are socket.smtp.driver's session methods; this module
-- only decides which to take, so every yield stays in the driver's frames.
-- smtp_native (LuaSocket's API) checks the arguments and calls it.
-----------------------------------------------------------------------------
local args = require("socket.smtp.args")
local core = require("socket.smtp.core")
local driver = require("socket.smtp.driver")
local tls = require("socket.smtp.tls")

local setmetatable = setmetatable

local _M = {}

---------------------------------------------------------------------------
-- Opening a connection
---------------------------------------------------------------------------
local C = {}
C.__index = C

-- Where and how to connect, kept for a reconnection: o = { server, port,
-- timeout, create, ssl, debug, guard }. With guard, `create` is wrapped
-- so that on an OpenResty cosocket what nginx cannot apply of `ssl` is
-- refused before connect (tls.guard).
function _M.connector(o)
    local create, refusal = o.create, nil
    if o.guard then create, refusal = tls.guard(create, o.ssl) end
    return setmetatable({ server = o.server, port = o.port, timeout = o.timeout, create = create,
                          refusal = refusal, ssl = o.ssl, debug = o.debug }, C)
end

-- Connect, and with smtps the TLS handshake before the greeting.
-- Returns the session (socket.smtp.driver) or nil, err, details.
function C:connect(smtps)
    local s, err, det = driver.connect(self.server, self.port, self.timeout, self.create, self.debug)
    if not s then
        if self.refusal then
            local why, field = self.refusal()
            if why then return args.bad_arg(field, nil, why, "EARG") end
        end
        return nil, err, det
    end
    if smtps then
        local ok, terr, tdet = s:smtps(self.server, self.ssl)
        if not ok then
            s:close(false)
            return nil, terr, tdet
        end
    end
    return s
end

-- Connect (SMTPS handshake when mode is "smtps"), greeting and EHLO:
-- s, ehlo | nil, err, details.
function C:open(mode, domain)
    local s, err, det = self:connect(mode == "smtps")
    if not s then return nil, err, det end
    local r
    r, err, det = s:greet(domain)
    if not r then
        s:close(true)
        return nil, err, det
    end
    return s, r
end

---------------------------------------------------------------------------
-- TLS and credentials
---------------------------------------------------------------------------

-- Loopback: credentials may go there in clear text (nothing crosses a
-- network). The connected address decides when the socket can tell.
local function loopback(s, server)
    local addr = s:peer_address() or server
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
-- (new) session, the EHLO reply to go on with and, when TLS was given up
-- for clear text, why; or nil, err, details.
local function negotiate(s, mailt, mode, server, domain, ehlo, reconnect)
    if mode ~= "auto" and mode ~= "starttls" then return s, ehlo end
    -- The two refusals below (not offered, no TLS layer) have the same
    -- shape but their own texts and names; kept as two branches, which
    -- the mutant starttls-not-offered (tools/mutate/mutants.txt) tells apart.
    local offered = s:has("STARTTLS") ~= nil
    if not offered then
        if mode == "auto" then return s, ehlo end
        local text = "TLS required (tls = \"starttls\") but the server does not offer STARTTLS"
        if go_on_in_clear(mailt, nil, text) then return s, ehlo, text end
        s:close(true)
        return nil, text, { stage = "tls", name = "ETLS_NOTOFFERED" }
    end
    if not s:tls_available(mailt.ssl) then
        if mode == "auto" then return s, ehlo end
        -- tls = "starttls" with no TLS layer: said before STARTTLS is sent
        local text = "no TLS layer for this socket: pass ssl.upgrade = function(sock, host, params)"
        if go_on_in_clear(mailt, nil, text) then return s, ehlo, text end
        s:close(true)
        return nil, text, { stage = "tls", name = "ETLS_NOLAYER" }
    end
    local lenient = mode == "auto" and loopback(s, server)
    local r, err, det = s:starttls(server, mailt.ssl, domain)
    if r then return s, r end
    if det and det.stage == "starttls" and det.code then
        -- refused (454 ...): the session is still in clear text
        if go_on_in_clear(mailt, det.code, det.reply, lenient) then return s, ehlo, err end
        s:close(true)
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
        if not s2 then return nil, r2, d2 end
        return s2, r2, err
    end
    s:close(true)
    return nil, err, det
end

-- AUTH when mailt has credentials. They never go in clear text over a
-- network: only over TLS, to this machine, or with insecure_auth = true.
-- Returns true and the mechanism used (nil without credentials), or nil,
-- err, details.
local function authenticate(s, mailt, server, port)
    if not (mailt.user or mailt.token) then return true end
    if not s:secure() and not mailt.insecure_auth and not loopback(s, server) then
        return nil, "refusing to send credentials to " .. server .. " over an unencrypted " ..
            "connection (use tls = \"starttls\" or \"smtps\", or set insecure_auth = true)",
            { stage = "auth", name = "EINSECURE_AUTH" }
    end
    local r, err, det = s:authenticate({
        user = mailt.user, password = mailt.password, token = mailt.token,
        authzid = mailt.authzid, auth = mailt.auth, host = server, port = port,
    })
    if not r then return nil, err, det end
    return true, r.mechanism
end

---------------------------------------------------------------------------
-- One message, start to end
---------------------------------------------------------------------------

-- Sends mailt (checked by the caller) on a new session: connect, TLS as
-- the mode says, AUTH, the transaction, QUIT. `src` is mailt.source,
-- primed (driver.primed). o = { server, port, timeout, domain, tls }: the
-- values to use, defaults applied. Returns 1, report | nil, err, details.
function _M.send(mailt, src, o)
    local mode, server, domain = o.tls, o.server, o.domain
    local conn = _M.connector({ server = server, port = o.port, timeout = o.timeout, create = mailt.create,
                                ssl = mailt.ssl, debug = mailt.debug, guard = mode ~= false })
    local s, r, det = conn:open(mode, domain)
    if not s then return nil, r, det end
    s, r, det = negotiate(s, mailt, mode, server, domain, r, function() return conn:open(false, domain) end)
    if not s then return nil, r, det end
    local tls_error = det -- why TLS was given up for clear text, if it was
    local ok, res, mechanism
    ok, res, det = authenticate(s, mailt, server, o.port)
    if ok then
        mechanism = res
        ok, res, det = s:transaction(mailt, src)
    end
    if not ok then
        s:close(true)
        return nil, res, det
    end
    local report = res
    -- The message is accepted: a failing QUIT must not make the caller
    -- send it again, so it is only recorded.
    local q, qerr = s:quit()
    if not q then report.quit_error = qerr end
    s:close(false)
    report.tls = s:secure()
    report.tls_error = tls_error
    report.mechanism = mechanism
    return 1, report
end

return _M
