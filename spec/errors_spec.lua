-- Failures at every stage, against a scripted (hostile) server: refusals
-- (4xx/5xx), dropped connections, malformed and endless replies, silence.
-- Error strings are asserted exactly: socket errors keep LuaSocket's
-- strings, a refusal starts with the server's reply and names the command.
local H = require("helper")
local smtp = require("socket.smtp")
local socket = require("socket")

local FROM, TO = "<a@example.com>", "<b@example.com>"

-- The steps of a normal session, by stage; `over` replaces the server's
-- part of one stage.
local function conversation(over)
    over = over or {}
    local stages = {
        { "greeting", { { send = "220 test ESMTP\r\n" } } },
        { "ehlo", { { expect = "EHLO client.test" }, { send = "250-test\r\n250 8BITMIME\r\n" } } },
        { "mail", { { expect = "MAIL FROM:" .. FROM }, { send = "250 2.1.0 ok\r\n" } } },
        { "rcpt", { { expect = "RCPT TO:" .. TO }, { send = "250 2.1.5 ok\r\n" } } },
        { "data", { { expect = "DATA" }, { send = "354 go ahead\r\n" } } },
        { "eod", { { data = true }, { send = "250 2.0.0 queued as X\r\n" } } },
        { "quit", { { expect = "QUIT" }, { send = "221 bye\r\n" } } },
    }
    local steps = {}
    for _, st in ipairs(stages) do
        local name, list = st[1], st[2]
        if over[name] then
            for _, s in ipairs(over[name]) do steps[#steps + 1] = s end
            if over.stop_after == name then break end
        else
            for _, s in ipairs(list) do steps[#steps + 1] = s end
        end
    end
    return steps
end

local function send(port, extra)
    local t = {
        from = FROM, rcpt = TO, server = "127.0.0.1", port = port, domain = "client.test",
        source = smtp.message{ headers = { subject = "x" }, body = "hello\r\n" },
    }
    for k, v in pairs(extra or {}) do t[k] = v end
    return smtp.send(t)
end

local saved_timeout
before_each(function() saved_timeout = smtp.TIMEOUT; smtp.TIMEOUT = 5 end)
after_each(function() smtp.TIMEOUT = saved_timeout end)

describe("refusals", function()
    teardown(H.stop_all)

    -- stage, the server's reply, the error expected, what the server sees next
    local cases = {
        { "greeting", "554 5.3.2 no service\r\n", "554 5.3.2 no service (greeting)", "QUIT" },
        { "greeting", "421 4.3.2 busy\r\n", "421 4.3.2 busy (greeting)", "QUIT" },
        { "ehlo", "421 4.7.0 try later\r\n", "421 4.7.0 try later (EHLO client.test)", "QUIT" },
        { "mail", "553 5.1.8 sender refused\r\n", "553 5.1.8 sender refused (MAIL FROM:<a@example.com>)", "QUIT" },
        { "mail", "451 4.3.0 later\r\n", "451 4.3.0 later (MAIL FROM:<a@example.com>)", "QUIT" },
        { "rcpt", "550 5.1.1 no such user\r\n", "550 5.1.1 no such user (RCPT TO:<b@example.com>)", "QUIT" },
        { "rcpt", "450 4.2.1 mailbox busy\r\n", "450 4.2.1 mailbox busy (RCPT TO:<b@example.com>)", "QUIT" },
        { "rcpt", "550-5.1.1 first line\r\n550 5.1.1 second line\r\n",
          "550-5.1.1 first line\n550 5.1.1 second line (RCPT TO:<b@example.com>)", "QUIT" },
        { "data", "554 5.5.1 no valid recipients\r\n", "554 5.5.1 no valid recipients (DATA)", "QUIT" },
        { "data", "451 4.3.0 later\r\n", "451 4.3.0 later (DATA)", "QUIT" },
        { "eod", "552 5.3.4 message too big\r\n", "552 5.3.4 message too big (end of data)", "QUIT" },
        { "eod", "451 4.3.0 local error\r\n", "451 4.3.0 local error (end of data)", "QUIT" },
    }
    for _, case in ipairs(cases) do
        local stage, reply, expected, after = case[1], case[2], case[3], case[4]
        it(("at %s: %s"):format(stage, (reply:gsub("\r\n$", ""):gsub("\r\n", " | "))), function()
            local over = { stop_after = stage }
            local client_part = {
                greeting = {}, ehlo = { { expect = "EHLO client.test" } },
                mail = { { expect = "MAIL FROM:" } }, rcpt = { { expect = "RCPT TO:" } },
                data = { { expect = "DATA" } }, eod = { { data = true } },
            }
            over[stage] = {}
            for _, s in ipairs(client_part[stage]) do over[stage][#over[stage] + 1] = s end
            over[stage][#over[stage] + 1] = { send = reply }
            local steps = conversation(over)
            steps[#steps + 1] = { expect = after }
            steps[#steps + 1] = { send = "221 bye\r\n" }
            local srv = H.scripted(steps)
            finally(function() srv:stop() end)
            local r, err, det = send(srv.port)
            assert.is_nil(r)
            assert.are.equal(expected, err)
            assert.are.equal("EREFUSED", det.name)
            assert.are.equal(stage, det.stage)
            assert.are.equal(tonumber(reply:sub(1, 3)), det.code)
            if stage == "rcpt" then assert.are.equal(TO, det.recipient) end
            local enh = reply:match("^%d%d%d[ -](%d%.%d+%.%d+)")
            assert.are.equal(enh, det.enhanced)
            assert.are.equal("completed", srv:wait_done(1))
            assert.is_nil(srv:errors())
            assert.matches(after .. "\r\n$", srv:transcript(1))
        end)
    end

    it("falls back to HELO when EHLO is refused with 5xx, and fails if HELO is too", function()
        local steps = conversation({
            ehlo = { { expect = "EHLO client.test" }, { send = "502 5.5.2 what?\r\n" },
                     { expect = "HELO client.test" }, { send = "550 5.7.1 go away\r\n" },
                     { expect = "QUIT" }, { send = "221 bye\r\n" } },
            stop_after = "ehlo" })
        local srv = H.scripted(steps)
        finally(function() srv:stop() end)
        local r, err = send(srv.port)
        assert.is_nil(r)
        assert.are.equal("550 5.7.1 go away (HELO client.test)", err)
        assert.are.equal("completed", srv:wait_done(1))
        assert.is_nil(srv:errors())
    end)

    it("a failing QUIT after an accepted message does not fail the send", function()
        local srv = H.scripted(conversation({ quit = { { expect = "QUIT" }, { send = "500 what\r\n" } } }))
        finally(function() srv:stop() end)
        local r, report = send(srv.port)
        assert.are.equal(1, r)
        assert.are.equal("250 2.0.0 queued as X", report.reply)
        assert.are.equal("500 what (QUIT)", report.quit_error)
        srv:assert_clean()
    end)
end)

describe("dropped connections", function()
    teardown(H.stop_all)
    -- the server closes right after reading what the client sent at `stage`
    local cases = {
        { "greeting", {} },
        { "ehlo", { { expect = "EHLO" } } },
        { "mail", { { expect = "MAIL" } } },
        { "rcpt", { { expect = "RCPT" } } },
        { "data", { { expect = "DATA" } } },
        { "eod", { { data = true } } },
        { "in the middle of a reply", { { expect = "EHLO" }, { send = "250-test\r\n250-PIPELI" } } },
    }
    for _, case in ipairs(cases) do
        local stage, steps = case[1], case[2]
        it("at " .. stage .. ": 'closed'", function()
            local over = { stop_after = stage == "in the middle of a reply" and "ehlo" or stage }
            local list = {}
            for _, s in ipairs(steps) do list[#list + 1] = s end
            list[#list + 1] = { close = true }
            over[over.stop_after] = list
            local srv = H.scripted(conversation(over))
            finally(function() srv:stop() end)
            local r, err, det = send(srv.port)
            assert.is_nil(r)
            assert.are.equal("closed", err)
            assert.are.equal("EPEER_CLOSED", det.name)
            srv:assert_clean()
        end)
    end

    it("with a reset: 'closed'", function()
        local srv = H.scripted(conversation({ mail = { { expect = "MAIL" }, { reset_close = true } },
                                              stop_after = "mail" }))
        finally(function() srv:stop() end)
        local r, err = send(srv.port)
        assert.is_nil(r)
        assert.are.equal("closed", err)
        srv:assert_clean()
    end)

    it("before connecting: 'connection refused'", function()
        local r, err, det = send(1)
        assert.is_nil(r)
        assert.are.equal("connection refused", err)
        assert.are.equal("connect", det.stage)
    end)
end)

describe("hostile replies", function()
    teardown(H.stop_all)

    it("every reply split byte by byte still makes a session", function()
        local steps = conversation()
        for _, s in ipairs(steps) do
            if s.send then s.split = 1; s.gap = 0.002 end
        end
        local srv = H.scripted(steps)
        finally(function() srv:stop() end)
        local r, report = send(srv.port)
        assert.are.equal(1, r, report)
        assert.are.equal("250 2.0.0 queued as X", report.reply)
        assert.are.equal("completed", srv:wait_done(1))
        srv:assert_clean()
    end)

    it("long multi-line replies are read whole", function()
        local lines = { "250-test greets you" }
        for i = 1, 40 do lines[#lines + 1] = "250-X-EXTENSION-" .. i .. " " .. ("p"):rep(50) end
        lines[#lines + 1] = "250 8BITMIME"
        local srv = H.scripted(conversation({
            greeting = { { send = "220-first\r\n220-second\r\n220 third\r\n" } },
            ehlo = { { expect = "EHLO" }, { send = table.concat(lines, "\r\n") .. "\r\n", split = 7, gap = 0 } },
        }))
        finally(function() srv:stop() end)
        local heard = {}
        local r, report = send(srv.port, { debug = function(direction, line)
            if direction == "S" then heard[#heard + 1] = line end
        end })
        assert.are.equal(1, r, report)
        -- every line of both replies, in order, each whole; then the rest
        local want = { "220-first", "220-second", "220 third" }
        for _, l in ipairs(lines) do want[#want + 1] = l end
        for _, l in ipairs({ "250 2.1.0 ok", "250 2.1.5 ok", "354 go ahead", "250 2.0.0 queued as X", "221 bye" }) do
            want[#want + 1] = l
        end
        assert.are.same(want, heard)
        srv:assert_clean()
    end)

    local malformed = {
        { "a reply line that never ends",
          { { expect = "EHLO" }, { send = "250-test\r\n250 " }, { flood = 20000000 } },
          "invalid server reply: reply line too long (EHLO client.test)", "EREPLY_LINE_TOO_LONG" },
        { "lines with different codes",
          { { expect = "EHLO" }, { send = "250-test\r\n251 odd\r\n" } },
          "invalid server reply: reply lines with different codes (EHLO client.test)", "EREPLY_MISMATCH" },
        { "a reply that is not SMTP",
          { { expect = "EHLO" }, { send = "HTTP/1.1 400 Bad Request\r\n" } },
          "invalid server reply: malformed reply line (EHLO client.test)", "EREPLY_SYNTAX" },
        { "too many lines",
          { { expect = "EHLO" }, { send = ("250-x\r\n"):rep(150) .. "250 x\r\n" } },
          "invalid server reply: too many reply lines (EHLO client.test)", "EREPLY_TOO_MANY_LINES" },
        { "a bare CR inside a reply",
          { { expect = "EHLO" }, { send = "250 te\rst\r\n" } },
          "invalid server reply: malformed reply line (EHLO client.test)", "EREPLY_SYNTAX" },
    }
    for _, case in ipairs(malformed) do
        it(case[1] .. " is refused, bounded", function()
            local srv = H.scripted(conversation({ ehlo = case[2], stop_after = "ehlo" }))
            finally(function() srv:stop() end)
            local t0 = socket.gettime()
            local r, err, det = send(srv.port)
            assert.is_nil(r)
            assert.are.equal(case[3], err)
            assert.are.equal(case[4], det.name)
            assert.is_true(socket.gettime() - t0 < 3, "took too long")
            srv:assert_clean()
        end)
    end

    it("a greeting that is not SMTP", function()
        local srv = H.scripted({ { send = "SSH-2.0-OpenSSH_9.2\r\n" }, { hang = true } })
        finally(function() srv:stop() end)
        local r, err = send(srv.port)
        assert.is_nil(r)
        assert.are.equal("invalid server reply: malformed reply line (greeting)", err)
        srv:assert_clean()
    end)

    it("a second reply nobody asked for is refused, not taken as the next one", function()
        -- 250 for MAIL, then a forged "250" meant to answer RCPT
        local srv = H.scripted(conversation({
            mail = { { expect = "MAIL" }, { send = "250 ok\r\n250 forged\r\n" }, { hang = true } },
            stop_after = "mail" }))
        finally(function() srv:stop() end)
        local r, err, det = send(srv.port)
        assert.is_nil(r)
        assert.are.equal("invalid server reply: data sent before a command (RCPT)", err)
        assert.are.equal("EUNEXPECTED_DATA", det.name)
        -- the RCPT was never sent
        assert.is_nil(srv:transcript(1):find("RCPT", 1, true))
        srv:assert_clean()
    end)
end)

describe("timeouts", function()
    teardown(H.stop_all)

    local function timed(script, timeout)
        local srv = H.scripted(script)
        finally(function() srv:stop() end)
        smtp.TIMEOUT = timeout
        local t0 = socket.gettime()
        local r, err, det = send(srv.port)
        local took = socket.gettime() - t0
        srv:assert_clean()
        return r, err, det, took
    end

    it("a server that never greets: 'timeout' after TIMEOUT", function()
        local r, err, det, dt = timed({ { hang = true } }, 0.5)
        assert.is_nil(r)
        assert.are.equal("timeout", err)
        assert.are.equal("ETIMEOUT", det.name)
        assert.is_true(dt >= 0.45 and dt < 2, "elapsed " .. dt)
    end)

    it("a server that stops answering after DATA: 'timeout'", function()
        local r, err, _, dt = timed(conversation({ data = { { expect = "DATA" }, { hang = true } },
                                                   stop_after = "data" }), 0.5)
        assert.is_nil(r)
        assert.are.equal("timeout", err)
        assert.is_true(dt < 2, "elapsed " .. dt)
    end)

    it("a reply dribbling slower than TIMEOUT allows in total: 'timeout'", function()
        -- each byte comes well within TIMEOUT, the whole reply does not
        local r, err, _, dt = timed({ { send = "220 a slow greeting that takes long\r\n", split = 1, gap = 0.05 },
                                      { hang = true } }, 0.5)
        assert.is_nil(r)
        assert.are.equal("timeout", err)
        assert.is_true(dt < 1.2, "elapsed " .. dt)
    end)

    it("the send table's timeout field overrides TIMEOUT", function()
        local srv = H.scripted({ { hang = true } })
        finally(function() srv:stop() end)
        local t0 = socket.gettime()
        local r, err = send(srv.port, { timeout = 0.3 })
        assert.is_nil(r)
        assert.are.equal("timeout", err)
        assert.is_true(socket.gettime() - t0 < 1)
        srv:assert_clean()
    end)
end)
