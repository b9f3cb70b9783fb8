-- Issue 9, item 9: the server's last word is never lost.
--
-- A server that gives up in the middle of the content sends a reply and
-- closes: Exim's "421 ... SMTP incoming data timeout", Postfix's "421 4.4.2
-- ... timeout exceeded", OpenSMTPD's "500 5.0.0 Line too long". The close
-- leaves our content unread on its side, so its kernel answers with RST and
-- our next write fails ("closed"). The send used to return just that,
-- nil, "closed", as LuaSocket does. After a failed write the client now
-- reads what the server already sent (for at most 2 s, or the timeout) and
-- reports it like any refusal: the reply first in `err`, its codes in
-- `details`, and `details.socket_error` the write's own error. A server
-- that closes without a word still gives "closed".
--
-- On LuaSocket sockets, LuaSec TLS sockets, generic socket objects and
-- OpenResty cosockets (a private nginx; its socket error is nginx's own
-- string, "connection reset by peer").
--
-- The scripted server reads the first 64 KiB of the content, answers and
-- closes without reading the rest; the content is 8 MiB, far more than
-- the socket buffers hold, so the write really fails.
local H = require("helper")
local M = require("support.mailspec")
local N = require("support.nginx")
local smtp = require("socket.smtp")
local socket = require("socket")
local http = require("socket.http")
local json = require("dkjson")

local FROM, TO = "<a@example.com>", "<b@example.com>"
local BIG = string.rep(string.rep("x", 76) .. "\r\n", 107546) -- 8 MiB

local LAST = {
    exim = { "421 mx.example.com SMTP incoming data timeout - closing connection.", 421, nil },
    postfix = { "421 4.4.2 mx.example.com Error: timeout exceeded", 421, "4.4.2" },
    opensmtpd = { "500 5.0.0 Line too long", 500, "5.0.0" },
}

local function hello()
    return M.to_content({})
end

-- The server reads `n` bytes of the content, says `last` (or nothing) and
-- closes without reading the rest.
local function gives_up(n, last)
    local script = hello()
    script[#script + 1] = { read = n }
    if last then script[#script + 1] = { send = last .. "\r\n" } end
    script[#script + 1] = { close = true, unread = true }
    return script
end

local function send(port, extra)
    local t = {
        from = FROM, rcpt = TO, server = "127.0.0.1", port = port, domain = "client.test",
        timeout = 10,
        source = smtp.message{ headers = { subject = "big" }, body = BIG },
    }
    for k, v in pairs(extra or {}) do t[k] = v end
    local t0 = socket.gettime()
    local r, err, det = smtp.send(t)
    return r, err, det, socket.gettime() - t0
end

describe("issue 9 (9): the server's last reply after a failed write", function()
    for _, name in ipairs({ "exim", "postfix", "opensmtpd" }) do
        local text, code, enhanced = LAST[name][1], LAST[name][2], LAST[name][3]
        it(name .. ": " .. text .. ", during the content", function()
            local srv = H.scripted(gives_up(65536, text))
            local lines = {}
            local r, err, det, took = send(srv.port, {
                debug = function(dir, line) lines[#lines + 1] = dir .. " " .. line end,
            })
            srv:assert_clean()
            srv:stop()
            assert.is_nil(r)
            assert.are.equal(text .. " (message content)", err)
            assert.are.equal(code, det.code)
            assert.are.equal(enhanced, det.enhanced)
            assert.are.equal(text, det.reply)
            assert.are.equal("body", det.stage)
            assert.are.equal("EREFUSED", det.name)
            assert.are.equal("closed", det.socket_error)
            assert.is_true(took < 5, "took " .. took .. " s")
            -- the transcript: the content, incomplete, then the server's reply
            assert.are.equal("S " .. text, lines[#lines])
            assert.matches("^C %[message content: %d+ bytes, incomplete: closed%]$", lines[#lines - 1])
            -- the server got less than the whole content, and no end-of-data marker
            local wire = srv:transcript()
            assert.is_true(#wire < #BIG, "the server read " .. #wire .. " bytes")
            assert.is_nil(wire:find("\r\n.\r\n", 1, true))
        end)
    end

    it("on a generic socket (a table over LuaSocket, receive(1) only) too", function()
        local text = LAST.postfix[1]
        local srv = H.scripted(gives_up(65536, text))
        local r, err, det = send(srv.port, { create = function()
            local real = socket.tcp()
            return {
                connect = function(_, host, port) return real:connect(host, port) end,
                settimeout = function(_, s) return real:settimeout(s) end,
                send = function(_, data) return real:send(data) end,
                receive = function(_, pattern) return real:receive(pattern) end,
                close = function() return real:close() end,
            }
        end })
        srv:assert_clean()
        srv:stop()
        assert.is_nil(r)
        assert.are.equal(text .. " (message content)", err)
        assert.are.equal(421, det.code)
        assert.are.equal("closed", det.socket_error)
    end)

    it("a server that closes without a word: \"closed\", as before", function()
        local srv = H.scripted(gives_up(65536, nil))
        local r, err, det = send(srv.port)
        srv:assert_clean()
        srv:stop()
        assert.is_nil(r)
        assert.are.equal("closed", err)
        assert.are.equal("body", det.stage)
        assert.is_nil(det.code)
        assert.is_nil(det.socket_error)
    end)

    it("a half reply before the close is no reply: \"closed\"", function()
        local script = hello()
        script[#script + 1] = { read = 65536 }
        script[#script + 1] = { send = "421 4.4.2 mx.example.com Error: time" }
        script[#script + 1] = { close = true, unread = true }
        local srv = H.scripted(script)
        local r, err, det = send(srv.port)
        srv:assert_clean()
        srv:stop()
        assert.is_nil(r)
        assert.are.equal("closed", err)
        assert.is_nil(det.code)
    end)

    it("at the end-of-data write: the 421 of a server that gave up waiting", function()
        -- The content is held back to leave with the end-of-data marker; the
        -- source is slow, the server gives up first (421, RST), and the
        -- write of content and marker fails.
        local script = hello()
        script[#script + 1] = { sleep = 0.2 } -- (the 421 is not read with the 354)
        script[#script + 1] = { send = "421 4.4.2 mx.example.com Error: timeout exceeded\r\n" }
        script[#script + 1] = { reset_close = true }
        local srv = H.scripted(script)
        local chunks = { "Subject: slow\r\n\r\nhello\r\n" }
        local r, err, det = send(srv.port, { source = function()
            local c = table.remove(chunks, 1)
            if not c then socket.sleep(0.5) end
            return c
        end })
        srv:assert_clean()
        srv:stop()
        assert.is_nil(r)
        assert.are.equal("421 4.4.2 mx.example.com Error: timeout exceeded (end of data)", err)
        assert.are.equal(421, det.code)
        assert.are.equal("4.4.2", det.enhanced)
        assert.are.equal("eod", det.stage)
        assert.are.equal("closed", det.socket_error)
    end)

    it("a write of a command into a connection the server reset: its last reply", function()
        -- Low-level API: the server says 421 and resets while the client is
        -- idle; the next command's write fails, and its last word is read.
        local ok, err, s = M.noop_after_reset("421 4.4.2 mx.example.com Error: timeout exceeded")
        assert.is_nil(ok)
        assert.matches("^421 4%.4%.2 mx%.example%.com Error: timeout exceeded", err)
        assert.are.equal(421, s.error and s.error.code)
        assert.are.equal("closed", s.error.socket_error)
    end)

    it("a write that fails while the server is still there (no hang-up) waits for no last word", function()
        -- the socket's send returns nil without an error on its 3rd call
        -- (MAIL...): the connection is up and the server silent, so there
        -- is nothing to wait for; the send fails at once, not after 2 s
        local srv = H.capture()
        finally(function() srv:stop() end)
        local log = {}
        local t0 = socket.gettime()
        local r, err, det = smtp.send{
            from = FROM, rcpt = TO, server = "127.0.0.1", port = srv.port, domain = "client.test",
            timeout = 10, source = smtp.message{ headers = { subject = "x" }, body = "x\r\n" },
            create = function()
                return require("support.regress8").odd_socket({ "connect", "settimeout", "setoption",
                    "send", "receive", "close" }, { method = "send", call = 3, ret = {} }, log, true)
            end,
        }
        local took = socket.gettime() - t0
        assert.is_nil(r)
        assert.are.equal("socket send returned nil without an error", err)
        assert.are.equal("ESOCKET", det.name)
        assert.is_nil(det.code)
        assert.is_true(took < 1, ("took %.2f s"):format(took))
    end)
end)

describe("issue 10: a socket that says \"Broken pipe\" (LuaSec's word)", function()
    it("waits for the last word as for \"closed\": the 421 that came late is the error", function()
        -- LuaSec passes strerror()'s "Broken pipe" on where LuaSocket says
        -- "closed"; the server's reply comes 0.3 s after the failed write,
        -- later than the 0.05 s given to a socket that did not hang up
        local srv = H.scripted({
            { send = "220 mx.example.com ESMTP\r\n" },
            { expect = "EHLO" }, { send = "250 mx.example.com\r\n" },
            { expect = "MAIL" }, { sleep = 0.3 },
            { send = "421 4.4.2 mx.example.com closing\r\n" }, { close = true, unread = true },
        })
        finally(function() srv:stop() end)
        local log = {}
        local r, err, det = smtp.send{
            from = FROM, rcpt = TO, server = "127.0.0.1", port = srv.port, domain = "client.test",
            timeout = 10, source = smtp.message{ headers = { subject = "x" }, body = "x\r\n" },
            create = function()
                return require("support.regress8").odd_socket({ "connect", "settimeout", "setoption",
                    "send", "receive", "close" }, { method = "send", call = 2, ret = { nil, "Broken pipe" } },
                    log, true)
            end,
        }
        assert.is_nil(r)
        assert.matches("^421 4%.4%.2 mx%.example%.com closing", err)
        assert.are.equal(421, det.code)
        assert.are.equal("Broken pipe", det.socket_error)
    end)
end)

describe("issue 9 (9): the last reply over STARTTLS (LuaSec)", function()
    it("Postfix's 421 during the content, after STARTTLS", function()
        assert(pcall(require, "ssl"), "LuaSec (the Lua module \"ssl\") is not installed: apt-get install lua-sec")
        local certs = H.tls_certs()
        local text = LAST.postfix[1]
        local script = {
            { send = "220 mx.example.com ESMTP\r\n" },
            { expect = "EHLO" }, { send = "250-mx.example.com\r\n250 STARTTLS\r\n" },
            { expect = "STARTTLS" }, { send = "220 2.0.0 Ready to start TLS\r\n" },
            { starttls = { cert = certs.localhost.cert, key = certs.localhost.key } },
        }
        for i, s in ipairs(hello()) do if i > 1 then script[#script + 1] = s end end
        script[#script + 1] = { read = 65536 }
        script[#script + 1] = { send = text .. "\r\n" }
        script[#script + 1] = { close = true, unread = true }
        local srv = H.scripted(script)
        local r, err, det = send(srv.port, { server = "localhost", tls = "starttls", ssl = { cafile = certs.ca } })
        srv:assert_clean()
        srv:stop()
        assert.is_nil(r)
        assert.are.equal(text .. " (message content)", err)
        assert.are.equal(421, det.code)
        assert.are.equal("4.4.2", det.enhanced)
        -- the socket's own word: LuaSec says "closed" when the close came
        -- first, strerror()'s "Broken pipe" when its write met the reset
        assert.is_truthy(det.socket_error == "closed" or det.socket_error == "Broken pipe",
            "socket_error: " .. tostring(det.socket_error))
    end)
end)

describe("issue 9 (9): the last reply on OpenResty cosockets", function()
    local available, why = N.available()
    if not H.need_peer("nginx", available, why, "the cosocket case of 009_last_reply_spec") then return end
    teardown(N.stop_all)

    it("OpenSMTPD's 500 during the content, on ngx.socket.tcp", function()
        local core_so = H.root .. "/build/jit/socket/smtp/core.so"
        assert(io.open(core_so, "rb"), core_so .. " is missing: run `make LUA=jit` first")
        local text = LAST.opensmtpd[1]
        local srv = H.scripted(gives_up(65536, text))
        finally(function() srv:stop() end)
        local ngx_srv = N.start{ locations = { ["/send"] = [[
local smtp = require("socket.smtp")
local ok, cjson = pcall(require, "cjson.safe")
if not ok then cjson = require("dkjson") end
local big = string.rep(string.rep("x", 76) .. "\r\n", 107546)
local r, err, det = smtp.send{
    from = "<a@example.com>", rcpt = "<b@example.com>", server = "127.0.0.1",
    port = tonumber(ngx.var.arg_port), domain = "client.test", timeout = 10,
    create = ngx.socket.tcp, source = smtp.message{ headers = { subject = "big" }, body = big },
}
det = det or {}
ngx.say(cjson.encode({ r = r, err = err, code = det.code, enhanced = det.enhanced,
    stage = det.stage, socket_error = det.socket_error }))
]] } }
        finally(function() ngx_srv:stop() end)
        http.TIMEOUT = 30
        local body, code = http.request(ngx_srv:url("/send?port=" .. srv.port))
        assert.are.equal(200, code, tostring(body) .. "\n" .. ngx_srv:error_log())
        local res = json.decode(body)
        srv:assert_clean()
        assert.is_nil(res.r)
        assert.are.equal(text .. " (message content)", res.err)
        assert.are.equal(500, res.code)
        assert.are.equal("5.0.0", res.enhanced)
        assert.are.equal("body", res.stage)
        assert.are.equal("string", type(res.socket_error))
    end)
end)
