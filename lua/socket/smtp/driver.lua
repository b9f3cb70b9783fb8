-----------------------------------------------------------------------------
-- socket.smtp.driver: the pump between the C engine and the socket.
--
-- The engine (socket.smtp.core) is sans-I/O: it says what to do next
-- ("write", "read", "reply", "error") and this module does it and feeds the
-- result back, in a loop. Every socket call, LTN12 source call and step
-- call happens here, in a Lua frame, so any of them may yield (cosockets,
-- coroutine schedulers). Failures are returned as nil, err, details; no
-- pcall, no LuaSocket protect/newtry, no private coroutine.
--
-- A session object (its fields are its own; other modules use its methods):
--   s.core      the engine (socket.smtp.core client)
--   s.t         the transport (socket.smtp.transport)
--   s.timeout   seconds allowed for each network step
-----------------------------------------------------------------------------
local core = require("socket.smtp.core")
local message = require("socket.smtp.message")
local args = require("socket.smtp.args")
local transport = require("socket.smtp.transport")
local tls = require("socket.smtp.tls")

local setmetatable, type, ipairs, tostring = setmetatable, type, ipairs, tostring
local string_find, string_sub, string_match, string_gmatch =
    string.find, string.sub, string.match, string.gmatch

-- The checks of the caller's arguments and chunks (socket.smtp.args).
local bad_arg, bad_chunk, check_string = args.bad_arg, args.bad_chunk, args.check_string
local check_addresses, check_content, check_envelope =
    args.check_addresses, args.check_content, args.check_envelope

local _M = {}
local S = {}
S.__index = S

-- The caller's LTN12 source with its first chunk pulled now, so that a
-- source that fails at once (an invalid header, a missing file) costs
-- nothing on the wire. Returns a source that hands that chunk out first,
-- then calls `src`; or nil, err, details when the first pull failed.
local function primed(src)
    local first, err = src()
    if first == nil and err ~= nil then
        -- smtp.message's source names what is wrong with its message
        return nil, err, { stage = "source", name = message.error_name(src) or "ESOURCE" }
    end
    if first ~= nil and type(first) ~= "string" then return bad_chunk("source", first) end
    local pending = true
    local wrapper = function()
        if pending then
            pending = false
            return first
        end
        return src()
    end
    message.forward(wrapper, src) -- its failures keep smtp.message's names
    return wrapper
end
_M.primed = primed

function _M.connect(server, port, timeout, create, debug)
    local t, err, field = transport.connect(server, port, timeout, create)
    if not t then
        if field then return nil, err, { stage = "argument", field = field, name = "EARG" } end
        return nil, err, { stage = "connect", name = "ECONNECT", server = server, port = port }
    end
    local s = setmetatable({ core = core.new(), t = t, timeout = timeout, fifo = {}, head = 1, tail = 0,
                             debug = debug, content = nil }, S)
    return s
end

-- The transcript (debug(direction, line)): "C" what we send, "S" what
-- the server says, a line at a time without its CRLF. What the engine
-- marks as credentials is never shown: "AUTH PLAIN" and the rest hidden;
-- message content is summed up in one line.
local HIDDEN = "[credentials hidden]"
local function transcript_write(self, data, secret)
    local debug = self.debug
    if self.content then
        self.content = self.content + #data
        return
    end
    local at = 1
    while at <= #data do
        local e = string_find(data, "\r\n", at, true) or #data + 1
        local line = string_sub(data, at, e - 1)
        if at <= secret then
            local verb = string_match(line, "^(AUTH [%w%-_]+) ")
            line = verb and (verb .. " " .. HIDDEN) or HIDDEN
        end
        debug("C", line)
        at = e + 2
    end
end

local function transcript_reply(self, text)
    local debug = self.debug
    for line in string_gmatch(text, "[^\n]+") do debug("S", line) end
end

-- Context shown after a refusal: the command as it went on the wire.
local function push(self, ctx)
    self.tail = self.tail + 1
    self.fifo[self.tail] = ctx
end

local function pop(self)
    local ctx = self.fifo[self.head]
    self.fifo[self.head] = nil
    self.head = self.head + 1
    return ctx
end

-- Queue a command on the engine. `ctx` describes it for errors and results:
-- { stage = "rcpt", line = "RCPT TO:<x@y>", addr = "<x@y>" }; it gets the
-- reply's fields when the reply comes (S:reply). When the engine cannot
-- queue yet (EBUSY: a reply must come first), replies are read until it can.
function S:queue(ctx, method, a1, a2, a3)
    local c = self.core
    local ok, msg, name = c[method](c, a1, a2, a3)
    while not ok and name == "EBUSY" do
        local r, err, det = self:reply(true)
        if r == nil then return nil, err, det end
        ok, msg, name = c[method](c, a1, a2, a3)
    end
    if not ok then
        if name and name:match("^EARG") then
            return bad_arg(ctx.field or ctx.stage, ctx.value, msg, name, ctx.secret)
        end
        return self:fail(msg, name, ctx)
    end
    if type(msg) == "string" then ctx.line = msg end
    push(self, ctx)
    return ctx
end

-- A failure that is not a refusal: the connection is unusable. Socket
-- errors keep LuaSocket's exact strings ("timeout", "closed"); a protocol
-- error names the command it happened on.
local exact = { ETIMEOUT = true, ESOCKET = true, EPEER_CLOSED = true }
function S:fail(msg, name, ctx)
    self.broken = true
    name = name or "EPROTO"
    local det = { stage = ctx and ctx.stage or "session", name = name }
    local where = ctx and (ctx.line or (ctx.stage and ctx.stage:upper()))
    if where then
        det.command = ctx.line
        if not exact[name] then msg = msg .. " (" .. where .. ")" end
    end
    return nil, msg, det
end

-- A write failed with the socket's error `err`: the server may have given
-- up and said why before closing (Exim's "421 ... SMTP incoming data
-- timeout", Postfix's "421 4.4.2 ... timeout exceeded", OpenSMTPD's "500
-- 5.0.0 Line too long"). Read what it already sent (the engine takes it as
-- its last word: core's lost()), for at most LAST_WORD seconds (the step's
-- timeout when shorter) when the write failed because the connection went
-- (PEER_GONE: LuaSocket's and nginx's words for it). After any other
-- failure (a write that timed out: the server is still there and not
-- reading; a socket that returned something odd) only what already
-- arrived counts (LAST_WORD_IDLE), so that the send still fails at about
-- the timeout, and at once when nobody hung up. A positive reply (a
-- "250 Ok queued" before a reset) is not why the connection broke: the
-- engine shows it as "skipped" (in the transcript) and reads on, a few
-- times at most. Returns the error and details of a refusal (4xx, 5xx),
-- with details.socket_error = err; nil without one (the caller then
-- reports the socket's error as it was). ctx: what was being written.
local LAST_WORD, LAST_WORD_IDLE = 2, 0.05
-- (compared in lower case: LuaSec passes strerror()'s "Broken pipe" on)
local PEER_GONE = { closed = true, ["connection reset by peer"] = true, ["broken pipe"] = true }
function S:last_word(err, ctx)
    local c, t = self.core, self.t
    self.broken = true
    if t:is_closed() or not c:lost() then return nil end
    local wait = type(err) == "string" and PEER_GONE[err:lower()] and LAST_WORD or LAST_WORD_IDLE
    if self.timeout < wait then wait = self.timeout end
    local deadline = t:deadline(wait)
    while true do
        local act, a, _, code, text, enh = c:next()
        if act == "read" then
            local data = t:receive(a, deadline)
            c:feed(data) -- nil (closed, timeout, any error): no more to come
        elseif act == "reply" and (a == "last" or a == "skipped") then
            if self.debug then
                if self.content then
                    self.debug("C", "[message content: " .. self.content .. " bytes, incomplete: " ..
                        tostring(err) .. "]")
                    self.content = nil
                end
                transcript_reply(self, text)
            end
            if a == "last" then
                local where = ctx and (ctx.line or (ctx.stage and ctx.stage:upper())) or "session"
                return text .. " (" .. where .. ")", {
                    stage = ctx and ctx.stage or "session", code = code, enhanced = enh, reply = text,
                    command = ctx and ctx.line, name = "EREFUSED", socket_error = err,
                }
            end
        else -- the peer closed (or sent too much) before a last word
            return nil
        end
    end
end

-- Run the engine until the next reply arrives. Returns the context of the
-- command it answers, filled with ok, code, reply (text) and enhanced; or
-- nil, err, details on a socket or protocol failure. With may_idle, false
-- when the engine has nothing left to wait for (a hidden reply was the last).
function S:reply(may_idle)
    local c, t = self.core, self.t
    local deadline = t:deadline(self.timeout)
    while true do
        local act, a, b, code, text, enh = c:next()
        if act == "read" then
            local data, err = t:receive(a, deadline)
            if data then
                c:feed(data)
            elseif err == "closed" then
                c:feed(nil) -- the engine decides: a reply may be complete
            else
                return self:fail(err, err == "timeout" and "ETIMEOUT" or "ESOCKET", self.fifo[self.head])
            end
        elseif act == "write" then
            if self.debug then transcript_write(self, a, b) end
            local ok, err = t:send(a, deadline)
            if not ok then
                local ctx = self.fifo[self.tail] -- the command being written
                local lerr, ldet = self:last_word(err, ctx)
                if lerr then return nil, lerr, ldet end
                return self:fail(err, err == "timeout" and "ETIMEOUT" or "ESOCKET", self.fifo[self.head])
            end
        elseif act == "challenge" then
            -- a 334 to AUTH: the command stays queued until its last reply
            if self.debug then transcript_reply(self, "334 " .. a) end
            local ctx = self.fifo[self.head] or {}
            ctx.challenge = a
            return ctx
        elseif act == "reply" then
            if self.debug then
                if self.content then
                    self.debug("C", "[message content and end-of-data marker: "
                        .. self.content .. " bytes]")
                    self.content = nil
                end
                transcript_reply(self, text)
            end
            local ctx = pop(self) or {}
            ctx.cmd, ctx.ok, ctx.code, ctx.reply, ctx.enhanced = a, b, code, text, enh
            if a == "helo" and ctx.line then -- the engine fell back to HELO
                ctx.stage, ctx.line = "helo", "HELO" .. ctx.line:sub(5)
            end
            return ctx
        elseif act == "error" then
            return self:fail(a, b, self.fifo[self.head])
        elseif may_idle then
            return false
        else
            return self:fail("nothing to wait for", "EIDLE")
        end
    end
end

-- A refusal: the server's reply first (so err:match("^%d%d%d") works), the
-- command after it. The session is still usable (RSET/QUIT may follow).
local function refused(ctx)
    local det = {
        stage = ctx.stage, code = ctx.code, enhanced = ctx.enhanced,
        reply = ctx.reply, command = ctx.line, recipient = ctx.addr,
        name = "EREFUSED",
    }
    local where = ctx.line or ctx.stage
    return nil, ctx.reply .. " (" .. where .. ")", det
end

-- Queue one command and wait for its reply; a negative reply is refused().
function S:command(ctx, method, a1, a2)
    local q, err, det = self:queue(ctx, method, a1, a2)
    if not q then return nil, err, det end
    local r
    r, err, det = self:reply()
    if not r then return nil, err, det end
    if not r.ok then return refused(r) end
    return r
end

-- Greeting, then EHLO (HELO when the server refuses EHLO with 5xx).
-- Returns the EHLO/HELO reply text.
function S:greet(domain)
    local r, err, det = self:command({ stage = "greeting", line = "greeting" }, "greeting")
    if not r then return nil, err, det end
    r, err, det = self:command({ stage = "ehlo", field = "domain", value = domain }, "ehlo", domain, true)
    if not r then return nil, err, det end
    self.ext = r.reply
    return r.reply
end

-- STARTTLS, the handshake, a fresh EHLO (RFC 3207). Returns the new
-- EHLO reply, or nil, err, details; details.code is the server's refusal
-- (e.g. 454), absent when TLS failed on our side.
function S:starttls(host, ssl, domain)
    local r, err, det = self:command({ stage = "starttls", line = "STARTTLS" }, "starttls")
    if not r then return nil, err, det end
    local ok, terr, tname = tls.upgrade(self.t, host, ssl, self.t:deadline(self.timeout))
    if not ok then
        self.broken = true -- half-way into TLS: nothing more can be said
        return nil, terr, { stage = "tls", name = tname or "ETLS" }
    end
    local done, msg, name = self.core:tls_done()
    if not done then return self:fail(msg, name, { stage = "tls" }) end
    r, err, det = self:command({ stage = "ehlo", field = "domain", value = domain }, "ehlo", domain, true)
    if not r then return nil, err, det end
    self.ext = r.reply
    return r.reply
end

-- Implicit TLS (SMTPS): the handshake before the greeting.
function S:smtps(host, ssl)
    local ok, err, name = tls.upgrade(self.t, host, ssl, self.t:deadline(self.timeout))
    if not ok then
        self.broken = true
        return nil, err, { stage = "tls", name = name or "ETLS" }
    end
    return true
end

-- AUTH with a SASL mechanism (core.sasl does the computing, in C: the
-- responses never come back to Lua). a: user, password, token, authzid,
-- auth (a name or a list, to force the choice), host, port.
function S:authenticate(a)
    local offered = self.core:has("AUTH")
    if not offered then
        return nil, "authentication not supported", { stage = "auth", name = "ENOAUTH" }
    end
    local forced = a.auth
    if type(forced) == "table" then forced = table.concat(forced, " ") end
    local mech, err, name = self.core:sasl_choose(forced, a.password ~= nil, a.token ~= nil)
    if not mech then
        return nil, err .. " (the server offers: " .. offered .. ")", { stage = "auth", name = name }
    end
    local sasl
    sasl, err, name = core.sasl(mech, {
        user = a.user, password = a.password, token = a.token, authzid = a.authzid,
        host = a.host, port = a.port, service = "smtp",
    })
    if not sasl then
        -- err names the field: "password is too long"
        return nil, "invalid " .. err, { stage = "argument", field = err:match("^(%S+)"), name = name }
    end
    local ctx = { stage = "auth", line = "AUTH " .. mech, mechanism = mech, secret = true }
    local ok, msg, ename = sasl:start(self.core)
    if not ok then
        sasl:clear()
        return self:fail(msg, ename, ctx)
    end
    push(self, ctx)
    local local_err, local_name
    while true do
        local r, rerr, rdet = self:reply()
        if not r then
            sasl:clear()
            return nil, rerr, rdet
        end
        if r.challenge then
            local text = r.challenge
            r.challenge = nil
            local sok, serr, sname = sasl:step(self.core, text)
            if not sok and local_err == nil then local_err, local_name = serr, sname end
        else
            if r.ok then
                local vok, verr, vname = sasl:success()
                sasl:clear()
                if not vok then
                    -- the server said yes without proving it knows the
                    -- password: not the server we think it is
                    self.broken = true
                    return nil, verr .. " (" .. ctx.line .. ")",
                        { stage = "auth", name = vname, mechanism = mech }
                end
                r.mechanism = mech
                return r
            end
            sasl:clear()
            if local_err then
                -- we cancelled ("*"): our reason first, the server's reply after
                if local_name == "ESASL_SERVER_PROOF" then self.broken = true end
                return nil, local_err .. " (" .. ctx.line .. "; the server then said: " .. r.reply .. ")",
                    { stage = "auth", name = local_name, code = r.code, reply = r.reply,
                      enhanced = r.enhanced, command = ctx.line, mechanism = mech }
            end
            local _, e, d = refused(r)
            d.mechanism = mech
            return nil, e, d
        end
    end
end

function S:mail(from)
    local ok, err, det = check_string("from", from)
    if not ok then return nil, err, det end
    return self:command({ stage = "mail", field = "from", value = from, addr = from }, "mail", from)
end

function S:rcpt(to, field)
    local ok, err, det = check_string(field or "rcpt", to)
    if not ok then return nil, err, det end
    return self:command({ stage = "rcpt", field = field or "rcpt", value = to, addr = to }, "rcpt", to)
end

function S:quit()
    return self:command({ stage = "quit", line = "QUIT" }, "quit")
end

function S:rset()
    return self:command({ stage = "rset", line = "RSET" }, "rset")
end

function S:noop()
    return self:command({ stage = "noop", line = "NOOP" }, "noop")
end

-- AUTH LOGIN or AUTH PLAIN: line is the command, method the engine's.
local function auth_user(self, line, method, user, password)
    local ok, err, det = args.check_credentials(user, password)
    if not ok then return nil, err, det end
    return self:command({ stage = "auth", line = line, field = "user", value = user,
                          secret = true }, method, user, password)
end

function S:login(user, password)
    return auth_user(self, "AUTH LOGIN", "auth_login", user, password)
end

function S:plain(user, password)
    return auth_user(self, "AUTH PLAIN", "auth_plain", user, password)
end

-- LTN12's pump.step, so that LuaSocket need not be loaded.
local function default_step(src, snk)
    local chunk, src_err = src()
    local ret, snk_err = snk(chunk, src_err)
    if chunk and ret then return 1 end
    return nil, src_err or snk_err
end

-- Message content through the engine's filter (CRLF, dot-stuffing) to the
-- socket. The first failure (the source's error or a chunk that is not a
-- string, a chunk that is not a string from `step`, a socket error) ends
-- the content, whatever `step` does with it: the connection is then closed
-- without the end-of-data marker, so the server never accepts a part of
-- the message.
function S:body(src, step)
    local c, t = self.core, self.t
    local fail_err, fail_det, sock_err
    local function failed(_, err, det)
        if not fail_det then fail_err, fail_det = err, det end
        return nil, fail_err
    end
    local source = function()
        if fail_det then return nil, fail_err end
        local chunk, err = src()
        if chunk == nil then
            if err ~= nil then
                return failed(nil, err, { stage = "source", name = message.error_name(src) or "ESOURCE" })
            end
            return nil
        end
        if type(chunk) ~= "string" then return failed(bad_chunk("source", chunk)) end
        return chunk
    end
    local snk = function(chunk, err)
        if fail_det then return nil, fail_err end
        if chunk == nil then
            if err ~= nil then return failed(nil, err, { stage = "source", name = "ESOURCE" }) end
            return 1
        end
        if type(chunk) ~= "string" then return failed(bad_chunk("step", chunk)) end
        local out, msg, name = c:body(chunk)
        if not out then return failed(nil, msg, { stage = "body", name = name or "EPROTO" }) end
        if self.content then self.content = self.content + #out end
        if out ~= "" then
            local ok, e = t:send(out, t:deadline(self.timeout))
            if not ok then
                if not fail_det then sock_err = e end
                return failed(nil, e, { stage = "body", name = e == "timeout" and "ETIMEOUT" or "ESOCKET" })
            end
        end
        return 1
    end
    step = step or default_step
    if self.debug then self.content = 0 end
    while true do
        local ret, err = step(source, snk)
        if not ret and err ~= nil then failed(nil, err, { stage = "source", name = "ESOURCE" }) end
        if fail_det then
            -- The content is incomplete: never end it with the marker.
            -- Closing without it makes the server drop the message.
            self.broken = true
            if self.debug and self.content then
                self.debug("C", "[message content: " .. self.content .. " bytes, incomplete: " ..
                    tostring(fail_err) .. "]")
                self.content = nil
            end
            if sock_err then -- the server may have said why
                local lerr, ldet = self:last_word(sock_err, { stage = "body", line = "message content" })
                if lerr then return nil, lerr, ldet end
            end
            return nil, fail_err, fail_det
        end
        if not ret then break end
    end
    local ok, msg, name = c:body_end()
    if not ok then return self:fail(msg, name, { stage = "body" }) end
    push(self, { stage = "eod", line = "end of data" })
    local r, err, det = self:reply()
    if not r then return nil, err, det end
    if not r.ok then return refused(r) end
    return r
end

-- DATA, the content, the end-of-data reply.
function S:data(src, step)
    local ok, cerr, cdet = check_content(src, step)
    if not ok then return nil, cerr, cdet end
    local r, err, det = self:command({ stage = "data", line = "DATA" }, "data")
    if not r then return nil, err, det end
    return self:body(src, step)
end

-- A whole mail transaction: MAIL, every RCPT, DATA, content. With
-- PIPELINING the envelope goes in one write, and DATA with it when there is
-- one recipient (a refused recipient then leaves nothing half-accepted; the
-- engine answers a pointless 354 with an empty message, RFC 2920 3.1).
-- mailt: from, rcpt (string or list), source, step. `src` is mailt.source
-- already primed (_M.primed), or nil to prime it here.
-- Returns 1, report | nil, err, details.
function S:transaction(mailt, src)
    local rcpts = mailt.rcpt
    if type(rcpts) ~= "table" then rcpts = { rcpts } end
    local pipelining = self.core:has("PIPELINING") ~= nil
    local report = { accepted = {}, refused = {} }
    local ctxs = {}
    local err, det

    local ok, cerr, cdet = check_envelope(mailt)
    if ok then ok, cerr, cdet = check_content(mailt.source, mailt.step) end
    if not ok then return nil, cerr, cdet end
    ok, cerr, cdet = check_addresses(mailt.from, rcpts)
    if not ok then return nil, cerr, cdet end
    -- The first chunk is pulled before any command (primed).
    if not src then
        src, cerr, cdet = primed(mailt.source)
        if not src then return nil, cerr, cdet end
    end

    -- Without pipelining every command waits for its reply here.
    local function settle(ctx)
        if pipelining then return ctx end
        local r, e, d = self:reply()
        if not r then return nil, e, d end
        return ctx
    end

    local mail
    mail, err, det = self:queue({ stage = "mail", field = "from", value = mailt.from,
                                  addr = mailt.from }, "mail", mailt.from)
    if mail then mail, err, det = settle(mail) end
    if not mail then return nil, err, det end
    if not pipelining and not mail.ok then return refused(mail) end
    for i, to in ipairs(rcpts) do
        local field = #rcpts > 1 and ("rcpt[" .. i .. "]") or "rcpt"
        local ctx
        ctx, err, det = self:queue({ stage = "rcpt", field = field, value = to, addr = to }, "rcpt", to)
        if ctx then ctx, err, det = settle(ctx) end
        if not ctx then return nil, err, det end
        ctxs[#ctxs + 1] = ctx
        if not pipelining and not ctx.ok then break end
    end
    local data
    if pipelining and #rcpts == 1 then
        data, err, det = self:queue({ stage = "data", line = "DATA" }, "data")
        if not data then return nil, err, det end
    end
    while self.head <= self.tail do -- the pipelined replies, in order
        local r
        r, err, det = self:reply()
        if not r then return nil, err, det end
    end
    if not mail.ok then return refused(mail) end
    for _, ctx in ipairs(ctxs) do
        if ctx.ok then
            report.accepted[#report.accepted + 1] = ctx.addr
        else
            report.refused[#report.refused + 1] = { ctx.addr, ctx.code, ctx.reply }
        end
    end
    for _, ctx in ipairs(ctxs) do
        if not ctx.ok then
            local _, e, d = refused(ctx)
            d.report = report
            return nil, e, d
        end
    end
    local r
    if data then
        if not data.ok then return refused(data) end
        r, err, det = self:body(src, mailt.step)
    else
        r, err, det = self:data(src, mailt.step)
    end
    if not r then return nil, err, det end
    report.reply, report.code, report.enhanced = r.reply, r.code, r.enhanced
    return 1, report
end

-- End the session politely when it is still sane (QUIT), then close.
-- (A broken session, or one already closed, is only closed.)
function S:close(polite)
    if polite and not self.broken and not self.t:is_closed() then
        local saved = self.timeout
        if self.timeout > 5 then self.timeout = 5 end
        self:quit()
        self.timeout = saved
    end
    return self.t:close()
end

-- What other modules may ask of a session (its fields are its own).

-- The parameters of an EHLO keyword ("" when it has none), or nil when the
-- last EHLO reply did not offer it.
function S:has(keyword)
    return self.core:has(keyword)
end

-- The capabilities of the last EHLO reply: { KEYWORD = params, ... }.
function S:caps()
    return self.core:caps()
end

-- The text of the last EHLO (or HELO) reply, nil before one.
function S:ehlo_reply()
    return self.ext
end

-- Is the connection encrypted (STARTTLS or SMTPS done)?
function S:secure()
    return self.t:secure()
end

-- The address the connection goes to, when the socket tells; else nil.
function S:peer_address()
    return self.t:peer_address()
end

-- Can TLS be set up on this connection with `ssl` (socket.smtp.tls)?
function S:tls_available(ssl)
    return tls.available(self.t, ssl)
end

-- Before STARTTLS: `ssl` checked, and applied where it must be before the
-- handshake (socket.smtp.tls.prepare). true | nil, message, field.
function S:prepare_tls(ssl)
    return tls.prepare(self.t, ssl)
end

return _M
