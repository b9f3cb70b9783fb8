-- Issue 9, item 4: parameters cannot be smuggled into an address.
--
-- An address ends at its closing ">": "<a@b> NOTIFY=NEVER", "<a@b> x",
-- "<a@b>x" went to the wire verbatim as MAIL FROM / RCPT TO parameters.
-- They are refused with EARG_ADDRESS (ESMTP parameters get fields of their
-- own; the engine's c:mail/c:rcpt take them as a separate argument), by
-- smtp.send before connecting, by the low-level s:mail/s:rcpt before the
-- command is written, and by s:send for every recipient before MAIL is
-- queued: no half-written envelope leaves. What LuaSocket users write
-- ("<a@b>", "a@b", "Name <a@b>", "" and "<>" for MAIL, <"a b"@c>, spaces
-- after ">") goes on working, with the exact bytes checked.
local H = require("helper")
local M = require("support.mailspec")
local smtp = require("socket.smtp")
local core = require("socket.smtp.core")
local socket = require("socket")
local ltn12 = require("ltn12")
local show = require("socket.smtp.args").show

local MSG = "has text after the closing '>' (ESMTP parameters are not allowed in an address)"

local function mailt(port, extra)
    local t = {
        from = "<a@example.com>", rcpt = "<b@example.com>",
        server = "127.0.0.1", port = port, domain = "client.test", timeout = 5,
        source = ltn12.source.string("Subject: x\r\n\r\nhello\r\n"),
    }
    for k, v in pairs(extra or {}) do t[k] = v end
    return t
end

-- field, value, code: refused by smtp.send, s:mail/s:rcpt and core.check
local refused = {
    { "from", "<a@example.com> NOTIFY=NEVER", "EARG_ADDRESS" },
    { "from", "<a@example.com> SIZE=1000", "EARG_ADDRESS" },
    { "from", "<> SIZE=0", "EARG_ADDRESS" },
    { "from", "Jane <a@example.com> BODY=8BITMIME", "EARG_ADDRESS" },
    { "rcpt", "<b@example.com> x", "EARG_ADDRESS" },
    { "rcpt", "<b@example.com>x", "EARG_ADDRESS" },
    { "rcpt", "<b@example.com>>", "EARG_ADDRESS" },
    { "rcpt", "<b@example.com>\tORCPT=rfc822;b@example.com", "EARG_ADDRESS" },
    { "rcpt", "Bob <b@example.com> NOTIFY=NEVER", "EARG_ADDRESS" },
    { "rcpt", '"Doe, Bob" <b@example.com> NOTIFY=NEVER', "EARG_ADDRESS" },
    { "rcpt", '<"b c"@example.com> NOTIFY=NEVER', "EARG_ADDRESS" },
    { "rcpt", '<"b>c"@example.com> NOTIFY=NEVER', "EARG_ADDRESS" },
    { "rcpt", "<b@example.com> <c@example.com>", "EARG_ADDRESS" },
    -- inside the brackets: a space outside a quoted string is no address
    { "rcpt", "<b@example.com NOTIFY=NEVER>", "EARG_SYNTAX" },
}

local function expected_err(field, value, code)
    local msg = code == "EARG_ADDRESS" and MSG or "is not a valid address"
    return ("invalid %s %s: %s"):format(field, show(value), msg)
end

describe("issue 9: no parameters smuggled into an address", function()
    teardown(H.stop_all)

    describe("core.check", function()
        it("refuses text after the closing '>', and keeps every legitimate form", function()
            for _, c in ipairs(refused) do
                local ok, msg, name = core.check(c[1], c[2])
                assert.is_nil(ok, c[2])
                assert.are.equal(c[3], name, c[2])
                assert.are.equal(c[3] == "EARG_ADDRESS" and MSG or "is not a valid address", msg, c[2])
            end
            for _, good in ipairs({ "<a@example.com>", "a@example.com", "Jane Doe <a@example.com>",
                                    '"Doe, Jane" <a@example.com>', '<"a b"@example.com>',
                                    '<"a>b"@example.com>', '<"a\\"> x"@example.com>',
                                    "<a@example.com>  ", "<a@example.com>\t", "  <a@example.com>" }) do
                assert.is_true(core.check("from", good), good)
                assert.is_true(core.check("rcpt", good), good)
            end
            assert.is_true(core.check("from", "<>"))
            assert.is_true(core.check("from", ""))
            local ok, _, name = core.check("rcpt", "<>")
            assert.is_nil(ok)
            assert.are.equal("EARG_SYNTAX", name)
            ok, _, name = core.check("rcpt", "Nobody <>")
            assert.is_nil(ok)
            assert.are.equal("EARG_SYNTAX", name)
        end)

        it("the engine's params argument stays the way to send ESMTP parameters", function()
            local c = core.new()
            c:greeting(); assert.are.equal("read", (c:next())); c:feed("220 hi\r\n"); c:next()
            c:ehlo("client.test"); c:next(); c:next()
            c:feed("250-hi\r\n250-PIPELINING\r\n250 DSN\r\n")
            assert.are.equal("reply", (c:next()))
            local ok, msg, name = c:mail("<a@example.com> SIZE=10")
            assert.is_nil(ok)
            assert.are.equal(MSG, msg)
            assert.are.equal("EARG_ADDRESS", name)
            local line
            ok, line = c:mail("<a@example.com>", "SIZE=10 BODY=8BITMIME")
            assert.is_true(ok)
            assert.are.equal("MAIL FROM:<a@example.com> SIZE=10 BODY=8BITMIME", line)
            ok, msg, name = c:rcpt("<b@example.com> NOTIFY=NEVER")
            assert.is_nil(ok)
            assert.are.equal(MSG, msg)
            assert.are.equal("EARG_ADDRESS", name)
            ok, line = c:rcpt("<b@example.com>", "NOTIFY=NEVER")
            assert.is_true(ok)
            assert.are.equal("RCPT TO:<b@example.com> NOTIFY=NEVER", line)
            local act, bytes = c:next()
            assert.are.equal("write", act)
            assert.are.equal("MAIL FROM:<a@example.com> SIZE=10 BODY=8BITMIME\r\n"
                .. "RCPT TO:<b@example.com> NOTIFY=NEVER\r\n", bytes)
        end)
    end)

    describe("smtp.send", function()
        local srv
        setup(function() srv = H.capture() end)

        it("refuses each form before connecting", function()
            for _, c in ipairs(refused) do
                local r, err, det = smtp.send(mailt(srv.port, { [c[1]] = c[2] }))
                assert.is_nil(r, c[2])
                assert.are.equal(expected_err(c[1], c[2], c[3]), err)
                assert.are.same({ stage = "argument", field = c[1], name = c[3] }, det)
            end
            H.assert_not_connected(srv)
        end)

        it("checks every recipient of a list before connecting", function()
            local bad = "<bad@example.com> NOTIFY=NEVER"
            local r, err, det = smtp.send(mailt(srv.port, { rcpt = { "<ok@example.com>", bad } }))
            assert.is_nil(r)
            assert.are.equal(expected_err("rcpt[2]", bad, "EARG_ADDRESS"), err)
            assert.are.same({ stage = "argument", field = "rcpt[2]", name = "EARG_ADDRESS" }, det)
            H.assert_not_connected(srv)
            assert.are.same({}, srv:messages())
        end)
    end)

    it("smtp.send: what LuaSocket users write goes out as a clean path", function()
        local steps = { { send = "220 mx\r\n" }, { expect = "EHLO" }, { send = "250 mx\r\n" },
                        { expect = "MAIL" }, { send = "250 ok\r\n" } }
        for _ = 1, 6 do
            steps[#steps + 1] = { expect = "RCPT" }
            steps[#steps + 1] = { send = "250 ok\r\n" }
        end
        for _, s in ipairs({ { expect = "DATA" }, { send = "354 go\r\n" }, { data = true },
                             { send = "250 queued\r\n" }, { expect = "QUIT" }, { send = "221 bye\r\n" } }) do
            steps[#steps + 1] = s
        end
        local srv = H.scripted(steps)
        finally(function() srv:stop() end)
        local r, err = smtp.send(mailt(srv.port, {
            from = '"Doe, Jane" <a@example.com>',
            rcpt = { "b@example.com", '<"b c"@example.com>', '<"b>c"@example.com>',
                     "<d@example.com>  \t", "Eve <e@example.com>", "  <f@example.com>" },
        }))
        assert.are.equal(1, r, err)
        srv:assert_clean()
        assert.are.equal("EHLO client.test\r\n"
            .. "MAIL FROM:<a@example.com>\r\n"
            .. "RCPT TO:<b@example.com>\r\n"
            .. 'RCPT TO:<"b c"@example.com>\r\n'
            .. 'RCPT TO:<"b>c"@example.com>\r\n'
            .. "RCPT TO:<d@example.com>\r\n"
            .. "RCPT TO:<e@example.com>\r\n"
            .. "RCPT TO:<f@example.com>\r\n"
            .. "DATA\r\nSubject: x\r\n\r\nhello\r\n.\r\nQUIT\r\n", srv:transcript())
    end)

    it("smtp.send: the null reverse-path, as \"\" and as \"<>\"", function()
        local session = { { send = "220 mx\r\n" }, { expect = "EHLO" }, { send = "250 mx\r\n" },
                          { expect = "MAIL FROM:<>" }, { send = "250 ok\r\n" },
                          { expect = "RCPT" }, { send = "250 ok\r\n" },
                          { expect = "DATA" }, { send = "354 go\r\n" }, { data = true },
                          { send = "250 queued\r\n" }, { expect = "QUIT" }, { send = "221 bye\r\n" } }
        local srv = H.scripted({ session, session })
        finally(function() srv:stop() end)
        for i, from in ipairs({ "", "<>" }) do
            local r, err = smtp.send(mailt(srv.port, { from = from }))
            assert.are.equal(1, r, err)
            assert.are.equal("completed", srv:wait_done(i))
            assert.matches("^EHLO client.test\r\nMAIL FROM:<>\r\nRCPT TO:<b@example.com>\r\n",
                srv:transcript(i))
        end
        srv:assert_clean()
    end)

    describe("the low-level API", function()
        local function run(port, body)
            return socket.protect(function()
                local s = smtp.open("127.0.0.1", port)
                s:greet("client.test")
                body(s)
                s:quit()
                s:close()
                return 1
            end)()
        end

        it("s:mail refuses the address before MAIL is written", function()
            local srv = H.capture()
            finally(function() srv:stop() end)
            local bad = "<a@example.com> NOTIFY=NEVER"
            local r, err = run(srv.port, function(s) s:mail(bad) end)
            assert.is_nil(r)
            assert.are.equal(expected_err("from", bad, "EARG_ADDRESS"), err)
            H.sleep(0.2)
            assert.are.equal("EHLO client.test\r\nQUIT\r\n", srv:sessions()[1])
        end)

        it("s:rcpt refuses the address before RCPT is written", function()
            local srv = H.capture()
            finally(function() srv:stop() end)
            local bad = "<b@example.com> NOTIFY=NEVER"
            local r, err = run(srv.port, function(s)
                s:mail("<a@example.com>")
                s:rcpt(bad)
            end)
            assert.is_nil(r)
            assert.are.equal(expected_err("rcpt", bad, "EARG_ADDRESS"), err)
            H.sleep(0.2)
            assert.are.equal("EHLO client.test\r\nMAIL FROM:<a@example.com>\r\nQUIT\r\n",
                srv:sessions()[1])
        end)

        -- s:send, one command at a time and pipelined: a bad second recipient
        -- (or sender) stops the transaction before MAIL is queued
        for _, pipelining in ipairs({ false, true }) do
            for _, case in ipairs({
                { "rcpt[2]", { rcpt = { "<ok@example.com>", "<bad@example.com> NOTIFY=NEVER" } },
                  "<bad@example.com> NOTIFY=NEVER" },
                { "from", { from = "<a@example.com> RET=HDRS", rcpt = { "<ok@example.com>" } },
                  "<a@example.com> RET=HDRS" },
            }) do
                local what = ("s:send (%s): a bad %s sends no envelope at all"):format(
                    pipelining and "PIPELINING" or "no PIPELINING", case[1])
                it(what, function()
                    local srv = H.scripted(M.greet_then_quit(pipelining))
                    finally(function() srv:stop() end)
                    local s
                    local r, err = socket.protect(function()
                        s = smtp.open("127.0.0.1", srv.port)
                        s:greet("client.test")
                        s:send({ from = case[2].from or "<a@example.com>", rcpt = case[2].rcpt,
                                 source = ltn12.source.string("Subject: x\r\n\r\nhello\r\n") })
                        return 1
                    end)()
                    assert.is_nil(r)
                    local field = case[1] == "from" and "from" or "rcpt[2]"
                    assert.are.equal(expected_err(field, case[3], "EARG_ADDRESS"), err)
                    assert.are.same({ stage = "argument", field = field, name = "EARG_ADDRESS" }, s.error)
                    srv:assert_clean()
                    assert.are.equal("EHLO client.test\r\nQUIT\r\n", srv:transcript())
                end)
            end
        end
    end)
end)
