-- Issue 10: a header the message generator cannot write reaches
-- details.name with its own name (EHDR_*, smtp_errname), no longer only
-- ESOURCE; the message (err), the stage ("source") and what the source
-- returns (nil, err) are unchanged, and nothing is connected (the source
-- is primed first). Any other failure of a source stays ESOURCE.
local core = require("socket.smtp.core")
local smtp = require("socket.smtp")
local native = require("smtp_native")
local message = require("socket.smtp.message")

local cases = {
    { "EHDR_CRLF", { subject = "a\r\nBcc: evil@example.com" },
      "invalid header Subject in mesgt: CR, LF and NUL are not allowed in a value" },
    { "EHDR_NAME", { ["x-a\r\nbcc"] = "x" }, 'invalid header name "x-a\\r\\nbcc" in mesgt' },
    { "EHDR_8BIT", { ["message-id"] = "<caf\195\169@example.com>" },
      "invalid header Message-ID in mesgt: non-ASCII text is not allowed in this header" },
    { "EHDR_SYNTAX", { from = '"unterminated <a@example.com>' },
      "invalid header From in mesgt: is not valid for this header" },
}

-- port 1 on 127.0.0.1: nothing listens there, and nothing is connected
local function send(mod, headers)
    return mod.send{ from = "<a@example.com>", rcpt = "<b@example.com>", server = "127.0.0.1",
                     port = 1, timeout = 5, source = mod.message{ headers = headers, body = "x\r\n" } }
end

describe("header errors are named (issue 10)", function()
    for _, c in ipairs(cases) do
        local name, headers, msg = c[1], c[2], c[3]
        it(name .. ": core.message gives nil, err, name", function()
            local g, err, ename = core.message({ headers = headers, body = "x" }, {})
            assert.is_nil(g)
            assert.are.equal(msg, err)
            assert.are.equal(name, ename)
        end)
        it(name .. ": smtp.message's source gives nil, err as before; error_name names it", function()
            local src = smtp.message{ headers = headers, body = "x" }
            assert.are.same({ nil, msg }, { src() })
            assert.are.equal(name, message.error_name(src))
        end)
        for _, mod in ipairs({ { "socket.smtp", smtp }, { "smtp_native", native } }) do
            it(name .. ": " .. mod[1] .. ".send: details.name, stage source, nothing connected", function()
                local r, err, det = send(mod[2], headers)
                assert.is_nil(r)
                assert.are.equal(msg, err)
                assert.are.same({ stage = "source", name = name }, det)
            end)
        end
    end

    it("any other error of the source stays ESOURCE, whatever a third value it gives", function()
        local r, err, det = smtp.send{ from = "<a@example.com>", rcpt = "<b@example.com>",
            server = "127.0.0.1", port = 1, timeout = 5,
            source = function() return nil, "disk on fire", "EHDR_MADE_UP_BY_A_SOURCE" end }
        assert.is_nil(r)
        assert.are.equal("disk on fire", err)
        assert.are.same({ stage = "source", name = "ESOURCE" }, det)
        local r2, err2, det2 = smtp.send{ from = "<a@example.com>", rcpt = "<b@example.com>",
            server = "127.0.0.1", port = 1, timeout = 5,
            source = function() return nil, "disk on fire", 42 end }
        assert.is_nil(r2)
        assert.are.equal("disk on fire", err2)
        assert.are.same({ stage = "source", name = "ESOURCE" }, det2)
        local _, _, det3 = smtp.send{ from = "<a@example.com>", rcpt = "<b@example.com>",
            server = "127.0.0.1", port = 1, timeout = 5, source = smtp.message{ body = { { body = "x" } },
            headers = { ["content-type"] = "text/plain" } } }
        assert.are_not.equal("source", det3 and det3.stage) -- a valid message: past the source
    end)
end)
