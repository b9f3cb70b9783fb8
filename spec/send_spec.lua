-- smtp.send against a real SMTP server (aiosmtpd) and, for PIPELINING,
-- against the scripted server: envelopes, reports, refusals, sources,
-- steps, create.
local H = require("helper")
local smtp = require("socket.smtp")
local socket = require("socket")
local ltn12 = require("ltn12")

local function send(port, extra)
    local t = {
        from = "<a@example.com>", rcpt = "<b@example.com>",
        server = "127.0.0.1", port = port, domain = "client.test",
        source = smtp.message{ headers = { subject = "spec" }, body = "hello\r\n" },
    }
    for k, v in pairs(extra or {}) do t[k] = v end
    return smtp.send(t)
end

describe("smtp.send", function()
    teardown(H.stop_all)

    it("delivers to every recipient and reports them", function()
        local srv = H.capture()
        finally(function() srv:stop() end)
        local r, report = send(srv.port, { rcpt = { "<b@example.com>", "c@example.com", "Carol <d@example.com>" } })
        assert.are.equal(1, r, report)
        assert.are.same({ "<b@example.com>", "c@example.com", "Carol <d@example.com>" }, report.accepted)
        assert.are.same({}, report.refused)
        assert.are.equal(250, report.code)
        assert.matches("^250 ", report.reply)
        local m = srv:wait_messages(1)[1]
        assert.are.equal("a@example.com", m.from)
        assert.are.same({ "b@example.com", "c@example.com", "d@example.com" }, m.rcpt)
        assert.are.equal("client.test", m.helo)
        -- addresses go on the wire in angle brackets, as RFC 5321 wants
        local wire = srv:sessions()[1]
        assert.matches("RCPT TO:<c@example.com>\r\nRCPT TO:<d@example.com>\r\n", wire, 1, true)
    end)

    it("sends the null reverse-path for an empty from", function()
        local srv = H.capture()
        finally(function() srv:stop() end)
        assert.are.equal(1, (send(srv.port, { from = "" })))
        srv:wait_messages(1)
        assert.matches("\r\nMAIL FROM:<>\r\n", srv:sessions()[1], 1, true)
    end)

    it("a refused recipient fails the send, names it, delivers nothing and quits", function()
        local srv = H.capture({ reject_rcpt = "nobody@" })
        finally(function() srv:stop() end)
        local r, err, det = send(srv.port, { rcpt = { "<b@example.com>", "<nobody@example.com>", "<c@example.com>" } })
        assert.is_nil(r)
        assert.are.equal("550 5.1.1 <nobody@example.com>: no such user (RCPT TO:<nobody@example.com>)", err)
        assert.are.equal("rcpt", det.stage)
        assert.are.equal(550, det.code)
        assert.are.equal("5.1.1", det.enhanced)
        assert.are.equal("<nobody@example.com>", det.recipient)
        assert.are.equal("RCPT TO:<nobody@example.com>", det.command)
        H.sleep(0.2)
        assert.are.same({}, srv:messages())
        local wire = srv:sessions()[1]
        assert.are.equal("RCPT TO:<nobody@example.com>\r\nQUIT\r\n", wire:sub(-36))
        assert.is_nil(wire:find("DATA", 1, true))
    end)

    it("a refused sender and a refused message", function()
        local srv = H.capture({ reject_mail = "a@", reject_data = true })
        finally(function() srv:stop() end)
        local r, err = send(srv.port)
        assert.is_nil(r)
        assert.are.equal("553 5.1.8 sender refused (MAIL FROM:<a@example.com>)", err)
        r, err = send(srv.port, { from = "<z@example.com>" })
        assert.is_nil(r)
        assert.are.equal("554 5.6.0 message refused (end of data)", err)
    end)

    it("falls back to HELO on a server without EHLO", function()
        local srv = H.capture({ ehlo_unsupported = true })
        finally(function() srv:stop() end)
        local r, report = send(srv.port)
        assert.are.equal(1, r, report)
        local m = srv:wait_messages(1)[1]
        assert.are.equal("client.test", m.helo)
        assert.matches("^EHLO client.test\r\nHELO client.test\r\nMAIL", srv:sessions()[1])
    end)

    it("streams a large body from many chunks, intact", function()
        local srv = H.capture()
        finally(function() srv:stop() end)
        local line = ("0123456789abcdef"):rep(4) .. "\r\n" -- 66 bytes
        local n, sent = 0, {}
        local src = function()
            n = n + 1
            if n > 6000 then return nil end
            local chunk = (n == 1 and "Subject: big\r\n\r\n" or "") .. line:rep(n % 7 + 1)
            sent[#sent + 1] = chunk
            return chunk
        end
        local r, report = send(srv.port, { source = src })
        assert.are.equal(1, r, report)
        local m = srv:wait_messages(1)[1]
        local body = table.concat(sent)
        assert.are.equal(#body, #m.data)
        assert.is_true(body == m.data)
    end)

    it("a source error aborts without the end-of-data marker: nothing delivered", function()
        local srv = H.capture()
        finally(function() srv:stop() end)
        local n = 0
        local src = function()
            n = n + 1
            if n == 1 then return "Subject: x\r\n\r\nfirst part\r\n" end
            if n == 2 then return "second part\r\n" end
            return nil, "disk on fire"
        end
        local r, err, det = send(srv.port, { source = src })
        assert.is_nil(r)
        assert.are.equal("disk on fire", err)
        assert.are.equal("source", det.stage)
        -- no end-of-data marker, no QUIT: the server must drop the message
        H.assert_data_cut(srv)
    end)

    it("a source that fails at once costs no connection", function()
        local srv = H.capture()
        finally(function() srv:stop() end)
        local r, err = send(srv.port, { source = function() return nil, "no such file" end })
        assert.is_nil(r)
        assert.are.equal("no such file", err)
        H.assert_not_connected(srv)
    end)

    it("honours step, as ltn12.pump does", function()
        local srv = H.capture()
        finally(function() srv:stop() end)
        local calls = 0
        local step = function(src, snk)
            calls = calls + 1
            return ltn12.pump.step(src, snk)
        end
        local chunks = { "Subject: s\r\n\r\n", "a\r\n", "b\r\n" }
        local r = send(srv.port, { source = ltn12.source.table(chunks), step = step })
        assert.are.equal(1, r)
        assert.are.equal(4, calls) -- three chunks, then the end
        assert.are.equal("Subject: s\r\n\r\na\r\nb\r\n", srv:wait_messages(1)[1].data)
    end)

    it("uses create for the socket", function()
        local srv = H.capture()
        finally(function() srv:stop() end)
        local made = 0
        local r = send(srv.port, { create = function() made = made + 1; return socket.tcp() end })
        assert.are.equal(1, r)
        assert.are.equal(1, made)
        assert.are.equal(1, #srv:wait_messages(1))
    end)

    it("uses SERVER, PORT and DOMAIN when the table has none", function()
        local srv = H.capture()
        finally(function() srv:stop() end)
        local saved = { smtp.SERVER, smtp.PORT, smtp.DOMAIN }
        finally(function() smtp.SERVER, smtp.PORT, smtp.DOMAIN = saved[1], saved[2], saved[3] end)
        smtp.SERVER, smtp.PORT, smtp.DOMAIN = "127.0.0.1", srv.port, "constants.test"
        local r = smtp.send{ from = "<a@example.com>", rcpt = "<b@example.com>",
                             source = ltn12.source.string("Subject: c\r\n\r\nc\r\n") }
        assert.are.equal(1, r)
        assert.are.equal("constants.test", srv:wait_messages(1)[1].helo)
    end)

    it("raises only for a mailt that is not a table; returns what is wrong inside it", function()
        assert.has_error(function() smtp.send() end,
            "bad argument #1 to 'send' (table expected, got nil)")
        local function returns(mailt, err, field, name)
            local r, e, det = smtp.send(mailt)
            assert.is_nil(r)
            assert.are.equal(err, e)
            assert.are.same({ stage = "argument", field = field, name = name }, det)
        end
        returns({ rcpt = "<b@x>", source = function() end },
            "invalid from: must be a string, got nil", "from", "EARG")
        returns({ from = "<a@x>", rcpt = {}, source = function() end },
            "invalid rcpt: is an empty list", "rcpt", "EARG_EMPTY")
        returns({ from = "<a@x>", rcpt = "<b@x>" },
            "invalid source: must be an LTN12 source (a function), got nil", "source", "EARG")
    end)
end)

describe("PIPELINING", function()
    teardown(H.stop_all)

    local greet = {
        { send = "220 pipe ESMTP\r\n" }, { expect = "EHLO" },
        { send = "250-pipe\r\n250-PIPELINING\r\n250 8BITMIME\r\n" },
    }
    local function script(rest)
        local steps = {}
        for _, s in ipairs(greet) do steps[#steps + 1] = s end
        for _, s in ipairs(rest) do steps[#steps + 1] = s end
        return steps
    end

    it("sends MAIL, RCPT and DATA in one go when the server offers it", function()
        -- the server reads all three commands before answering any: a
        -- client that waited for each reply would time out here
        local srv = H.scripted(script({
            { expect = "MAIL FROM:<a@example.com>" }, { expect = "RCPT TO:<b@example.com>" },
            { expect = "DATA" },
            { send = "250 2.1.0 ok\r\n250 2.1.5 ok\r\n354 go\r\n" },
            { data = true }, { send = "250 2.0.0 queued\r\n" },
            { expect = "QUIT" }, { send = "221 bye\r\n" },
        }))
        finally(function() srv:stop() end)
        smtp.TIMEOUT = 2
        finally(function() smtp.TIMEOUT = 60 end)
        local r, report = send(srv.port)
        assert.are.equal(1, r, report)
        assert.are.same({ "<b@example.com>" }, report.accepted)
        assert.are.equal("completed", srv:wait_done(1))
        assert.is_nil(srv:errors())
    end)

    it("a refused single recipient after a pipelined DATA: an empty message ends it", function()
        -- RFC 2920 3.1: the server said 354 although no recipient is valid
        local srv = H.scripted(script({
            { expect = "MAIL" }, { expect = "RCPT" }, { expect = "DATA" },
            { send = "250 ok\r\n550 5.1.1 no such user\r\n354 go\r\n" },
            { expect = "." }, { send = "554 5.5.1 no valid recipients\r\n" },
            { expect = "QUIT" }, { send = "221 bye\r\n" },
        }))
        finally(function() srv:stop() end)
        local r, err, det = send(srv.port)
        assert.is_nil(r)
        assert.are.equal("550 5.1.1 no such user (RCPT TO:<b@example.com>)", err)
        assert.are.same({ { "<b@example.com>", 550, "550 5.1.1 no such user" } }, det.report.refused)
        assert.are.equal("completed", srv:wait_done(1))
        assert.is_nil(srv:errors())
        assert.matches("\r\nDATA\r\n%.\r\nQUIT\r\n$", srv:transcript(1))
    end)

    it("with several recipients DATA waits until every RCPT is accepted", function()
        local srv = H.scripted(script({
            { expect = "MAIL" }, { expect = "RCPT TO:<b@" }, { expect = "RCPT TO:<c@" },
            { send = "250 ok\r\n250 ok\r\n550 5.1.1 no\r\n" },
            { expect = "QUIT" }, { send = "221 bye\r\n" },
        }))
        finally(function() srv:stop() end)
        local r, err, det = send(srv.port, { rcpt = { "<b@example.com>", "<c@example.com>" } })
        assert.is_nil(r)
        assert.are.equal("550 5.1.1 no (RCPT TO:<c@example.com>)", err)
        assert.are.same({ "<b@example.com>" }, det.report.accepted)
        assert.are.equal("completed", srv:wait_done(1))
        assert.is_nil(srv:transcript(1):find("DATA", 1, true))
        srv:assert_clean()
    end)

    it("a refused sender with pipelined commands behind it", function()
        local srv = H.scripted(script({
            { expect = "MAIL" }, { expect = "RCPT" }, { expect = "DATA" },
            { send = "553 5.1.8 bad sender\r\n503 5.5.1 need MAIL\r\n503 5.5.1 need RCPT\r\n" },
            { expect = "QUIT" }, { send = "221 bye\r\n" },
        }))
        finally(function() srv:stop() end)
        local r, err = send(srv.port)
        assert.is_nil(r)
        assert.are.equal("553 5.1.8 bad sender (MAIL FROM:<a@example.com>)", err)
        assert.are.equal("completed", srv:wait_done(1))
        srv:assert_clean()
    end)
end)
