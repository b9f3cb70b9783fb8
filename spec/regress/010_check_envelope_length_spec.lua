-- Issue 10: core.check and the engine share one envelope length rule.
--
-- core.check("from"/"rcpt", addr) used to carry its own copy of the rule
-- that a MAIL FROM / RCPT TO line, CRLF included, fits in SMTP_CMD_MAX
-- (512) bytes; it now asks smtp_cmd_envelope + smtp_cmd_fits, as the
-- client engine does. The bound is exact on both sides, for every way a
-- caller writes an address, and s:send refuses an over-long second
-- recipient before MAIL is queued (no half-written envelope).
local H = require("helper")
local M = require("support.mailspec")
local smtp = require("socket.smtp")
local core = require("socket.smtp.core")
local socket = require("socket")
local ltn12 = require("ltn12")

local MAX = 512

-- An address whose bracketed form <...> has n bytes inside the brackets.
local function addr(n)
    return "a@" .. string.rep("b", n - 2)
end

describe("issue 10: one envelope length rule (core.check = the engine)", function()
    teardown(H.stop_all)

    it("MAIL FROM: a line of exactly 512 bytes passes, 513 is too long", function()
        -- "MAIL FROM:" 10 + "<" + n + ">" + CRLF 2
        local n = MAX - 14
        for _, form in ipairs({ addr(n), "<" .. addr(n) .. ">", "Jane <" .. addr(n) .. ">" }) do
            assert.is_true(core.check("from", form), #form)
        end
        for _, form in ipairs({ addr(n + 1), "<" .. addr(n + 1) .. ">", "Jane <" .. addr(n + 1) .. ">" }) do
            local ok, msg, name = core.check("from", form)
            assert.is_nil(ok, #form)
            assert.are.equal("EARG_TOO_LONG", name)
            assert.are.equal("is too long", msg)
        end
    end)

    it("RCPT TO: a line of exactly 512 bytes passes, 513 is too long", function()
        local n = MAX - 12
        assert.is_true(core.check("rcpt", addr(n)))
        assert.is_true(core.check("rcpt", "<" .. addr(n) .. ">"))
        local ok, _, name = core.check("rcpt", addr(n + 1))
        assert.is_nil(ok)
        assert.are.equal("EARG_TOO_LONG", name)
    end)

    it("the engine takes what core.check passes and refuses what it refuses", function()
        local c = core.new()
        c:greeting(); c:next(); c:feed("220 hi\r\n"); c:next()
        c:ehlo("client.test"); c:next(); c:next()
        c:feed("250-hi\r\n250 PIPELINING\r\n")
        assert.are.equal("reply", (c:next()))
        local ok, line = c:mail(addr(MAX - 14))
        assert.is_true(ok)
        assert.are.equal(MAX - 2, #line)
        ok, line = c:rcpt(addr(MAX - 12))
        assert.is_true(ok)
        assert.are.equal(MAX - 2, #line)
        local _, _, name = c:rcpt(addr(MAX - 11))
        assert.are.equal("EARG_TOO_LONG", name)
    end)

    for _, pipelining in ipairs({ false, true }) do
        it(("s:send (%s): an over-long second recipient sends no envelope at all"):format(
            pipelining and "PIPELINING" or "no PIPELINING"), function()
            local srv = H.scripted(M.greet_then_quit(pipelining))
            finally(function() srv:stop() end)
            local s
            local r = socket.protect(function()
                s = smtp.open("127.0.0.1", srv.port)
                s:greet("client.test")
                s:send({ from = "<a@example.com>", rcpt = { "<ok@example.com>", addr(MAX - 11) },
                         source = ltn12.source.string("Subject: x\r\n\r\nhello\r\n") })
                return 1
            end)()
            assert.is_nil(r)
            assert.are.same({ stage = "argument", field = "rcpt[2]", name = "EARG_TOO_LONG" }, s.error)
            srv:assert_clean()
            assert.are.equal("EHLO client.test\r\nQUIT\r\n", srv:transcript())
        end)
    end
end)
