-- No CR/LF injection through any argument; no end-of-data smuggling
-- through any body. Each case shows the exact bytes the server received.
local H = require("helper")
local smtp = require("socket.smtp")
local socket = require("socket")
local ltn12 = require("ltn12")

local function base(port, extra)
    local t = {
        from = "<a@example.com>", rcpt = "<b@example.com>",
        server = "127.0.0.1", port = port, domain = "client.test",
        source = ltn12.source.string("Subject: x\r\n\r\nhello\r\n"),
    }
    for k, v in pairs(extra or {}) do t[k] = v end
    return t
end

describe("argument injection", function()
    teardown(H.stop_all)

    local cases = {
        { "from", { from = "<a@example.com>\r\nRCPT TO:<evil@example.net>" },
          'invalid from "<a@example.com>\\r\\nRCPT TO:<evil@example.net>": contains CR or LF' },
        { "from (bare LF)", { from = "<a@example.com>\nRCPT TO:<evil@example.net>" },
          'invalid from "<a@example.com>\\nRCPT TO:<evil@example.net>": contains CR or LF' },
        { "from (NUL)", { from = "<a@example.com>\0" },
          'invalid from "<a@example.com>\\x00": contains NUL' },
        { "rcpt", { rcpt = "<b@example.com>\r\nDATA" },
          'invalid rcpt "<b@example.com>\\r\\nDATA": contains CR or LF' },
        { "rcpt in a list", { rcpt = { "<b@example.com>", "<c@example.com>\rDATA" } },
          'invalid rcpt[2] "<c@example.com>\\rDATA": contains CR or LF' },
        { "domain", { domain = "client.test\r\nMAIL FROM:<evil@example.net>" },
          'invalid domain "client.test\\r\\nMAIL FROM:<evil@example.net>": contains CR or LF' },
        { "user", { user = "joe\r\nAUTH PLAIN x", password = "secret" },
          "invalid user: contains CR or LF" },
        { "an address with a space", { rcpt = "b@example.com NOTIFY=NEVER" },
          'invalid rcpt "b@example.com NOTIFY=NEVER": is not a valid address' },
        { "an unclosed bracket", { from = "<a@example.com" },
          'invalid from "<a@example.com": is not a valid address' },
        { "an empty recipient", { rcpt = "" }, 'invalid rcpt "": is empty' },
        { "an over-long address", { rcpt = "<" .. ("x"):rep(600) .. "@example.com>" },
          'invalid rcpt "<' .. ("x"):rep(600) .. '@example.com>": is too long' },
    }
    for _, case in ipairs(cases) do
        it("through " .. case[1] .. " is refused before connecting", function()
            local srv = H.capture()
            finally(function() srv:stop() end)
            local r, err, det = smtp.send(base(srv.port, case[2]))
            assert.is_nil(r)
            assert.are.equal(case[3], err)
            assert.are.equal("argument", det.stage)
            H.sleep(0.1)
            assert.are.same({}, srv:sessions())
            assert.are.same({}, srv:messages())
        end)
    end

    it("never echoes a password", function()
        local r, err = smtp.send(base(1, { user = "joe\n", password = "hunter2" }))
        assert.is_nil(r)
        assert.is_nil(err:find("hunter2", 1, true))
    end)

    it("through the low-level API is refused before anything is written", function()
        local srv = H.capture()
        finally(function() srv:stop() end)
        local f = socket.protect(function()
            local s = smtp.open("127.0.0.1", srv.port)
            s:greet("client.test")
            s:mail("<a@example.com>")
            s:rcpt("<b@example.com>\r\nDATA\r\n")
        end)
        local r, err = f()
        assert.is_nil(r)
        assert.are.equal('invalid rcpt "<b@example.com>\\r\\nDATA\\r\\n": contains CR or LF', err)
        H.sleep(0.2)
        local wire = srv:sessions()[1]
        assert.are.equal("EHLO client.test\r\nMAIL FROM:<a@example.com>\r\nQUIT\r\n", wire)
    end)

    it("through a header value is refused before connecting", function()
        local srv = H.capture()
        finally(function() srv:stop() end)
        local r, err, det = smtp.send(base(srv.port, {
            source = smtp.message{ headers = { subject = "hi\r\nBcc: evil@example.net" }, body = "x" },
        }))
        assert.is_nil(r)
        assert.are.equal("invalid header Subject in mesgt: CR, LF and NUL are not allowed in a value", err)
        assert.are.equal("source", det.stage)
        H.sleep(0.1)
        assert.are.same({}, srv:sessions())
    end)

    it("through a header name is refused", function()
        local src = smtp.message{ headers = { ["x-a\r\nbcc"] = "evil@example.net" }, body = "x" }
        local chunk, err = src()
        assert.is_nil(chunk)
        assert.are.equal('invalid header name "x-a\\r\\nbcc" in mesgt', err)
    end)
end)

describe("end-of-data smuggling", function()
    teardown(H.stop_all)

    -- body as the source gives it -> bytes between DATA's 354 and the end
    local cases = {
        { "LF.LF", "a\n.\nMAIL FROM:<evil@example.net>\n", "a\r\n..\r\nMAIL FROM:<evil@example.net>\r\n.\r\n" },
        { "CR.CR", "a\r.\rRSET\r", "a\r\n..\r\nRSET\r\n.\r\n" },
        { "LF.CRLF", "a\n.\r\nQUIT\r\n", "a\r\n..\r\nQUIT\r\n.\r\n" },
        { "CRLF.LF", "a\r\n.\nQUIT\n", "a\r\n..\r\nQUIT\r\n.\r\n" },
        { "CR.LF", "a\r.\nb", "a\r\n..\r\nb\r\n.\r\n" },
        { "CRLF.CRLF", "a\r\n.\r\nDATA\r\n", "a\r\n..\r\nDATA\r\n.\r\n" },
        { "a dot first", ".\r\nMAIL FROM:<x@y>\r\n", "..\r\nMAIL FROM:<x@y>\r\n.\r\n" },
        { "dots", "..\r\n...x\n", "...\r\n....x\r\n.\r\n" },
        { "CR CR LF", "a\r\r\nb\r\n", "a\r\n\r\nb\r\n.\r\n" },
        { "no final line break", "a\r\nb", "a\r\nb\r\n.\r\n" },
        { "a final CR", "a\r", "a\r\n.\r\n" },
        { "a final LF", "a\n", "a\r\n.\r\n" },
        { "a final CRLF (no extra blank line)", "a\r\n", "a\r\n.\r\n" },
        { "an empty body", "", ".\r\n" },
    }
    for _, case in ipairs(cases) do
        it(case[1], function()
            local srv = H.capture()
            finally(function() srv:stop() end)
            -- split the body everywhere, one byte per chunk
            local i = 0
            local body = case[2]
            local src = function()
                i = i + 1
                if i <= #body then return body:sub(i, i) end
            end
            local r, report = smtp.send(base(srv.port, { source = src }))
            assert.are.equal(1, r, report)
            local msgs = srv:wait_messages(1)
            assert.are.equal(1, #msgs)
            local wire = srv:sessions()[1]
            local content = wire:match("\r\nDATA\r\n(.*)QUIT\r\n$")
            assert.are.equal(case[3], content)
            -- what the server stored: the content, dots un-stuffed
            local stored = case[3]:sub(1, -4):gsub("\r\n%.", "\r\n"):gsub("^%.", "")
            assert.are.equal(stored, msgs[1].data)
        end)
    end
end)
