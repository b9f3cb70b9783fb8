-- Issue 10: what is wrong with a message smtp.message builds reaches
-- details.name with its own name from the one list (smtp_errors.h), no
-- longer only ESOURCE: a header the generator cannot write (EHDR_CRLF,
-- EHDR_NAME, EHDR_8BIT, EHDR_SYNTAX), a field of the wrong type (EMSG_TYPE), an encoding
-- a body cannot take (EMSG_ENCODING), too many headers (EHDR_TOO_MANY), a
-- NUL or a line over 998 octets in a preamble or epilogue (ECONTENT_NUL,
-- ELINE_TOO_LONG), a number no header can carry (EHDR_SYNTAX), multiparts
-- nested too deeply (EARG_TOO_LONG, the engine's code), a file body that
-- cannot be read (EFILE) or that changed since encoding = "auto" judged it
-- (EFILE_CHANGED). The message (err), the stage ("source") and what the
-- source returns (nil, err) are unchanged. A source's own error (a body
-- source's, a metamethod's) stays ESOURCE.
local H = require("helper")
local core = require("socket.smtp.core")
local smtp = require("socket.smtp")
local native = require("smtp_native")
local message = require("socket.smtp.message")

local FROM, TO = "<a@example.com>", "<b@example.com>"

local function deep(n)
    local t = { body = "x" }
    for _ = 1, n do t = { body = { t } } end
    return t
end
local many = {}
for i = 1, 129 do many["x-h" .. i] = "v" end
local ENC = '("base64", "quoted-printable", "7bit", "8bit" or "auto" expected, got '

local cases = {
    { "EHDR_CRLF", "a CRLF in a value", { headers = { subject = "a\r\nBcc: evil@example.com" }, body = "x" },
      "invalid header Subject in mesgt: CR, LF and NUL are not allowed in a value" },
    { "EHDR_NAME", "a CRLF in a name", { headers = { ["x-a\r\nbcc"] = "x" }, body = "x" },
      'invalid header name "x-a\\r\\nbcc" in mesgt' },
    { "EHDR_8BIT", "8-bit text in Message-ID",
      { headers = { ["message-id"] = "<caf\195\169@example.com>" }, body = "x" },
      "invalid header Message-ID in mesgt: non-ASCII text is not allowed in this header" },
    { "EHDR_SYNTAX", "an unterminated quote in From",
      { headers = { from = '"unterminated <a@example.com>' }, body = "x" },
      "invalid header From in mesgt: is not valid for this header" },
    { "EMSG_TYPE", "headers", { headers = 5, body = "x" },
      "bad mesgt.headers (table expected, got number)" },
    { "EMSG_TYPE", "a header value", { headers = { subject = {} }, body = "x" },
      "bad header Subject in mesgt (string expected, got table)" },
    { "EMSG_TYPE", "a header name", { headers = { [5] = "v" }, body = "x" },
      "bad header name in mesgt (string expected, got number)" },
    { "EMSG_TYPE", "a listed header", { headers = { { "subject", "s" }, 5 }, body = "x" },
      "bad mesgt.headers[2] (table {name, value} expected, got number)" },
    { "EMSG_TYPE", "a listed header's name", { headers = { { 5, "v" } }, body = "x" },
      "bad mesgt.headers[1][1] (string expected, got number)" },
    { "EMSG_TYPE", "the body", { body = true },
      "bad mesgt.body (string, function, table or smtp.file expected, got boolean)" },
    { "EMSG_TYPE", "a part", { body = { { body = "x" }, 5 } },
      "bad mesgt.body[2] (table expected, got number)" },
    { "EMSG_TYPE", "a preamble", { body = { preamble = {}, { body = "x" } } },
      "bad mesgt.body.preamble (string expected, got table)" },
    { "EMSG_ENCODING", "an unknown encoding", { body = "x", encoding = "rot13" },
      "bad mesgt.encoding " .. ENC .. '"rot13")' },
    { "EMSG_ENCODING", "an encoding that is not a string", { body = "x", encoding = 5 },
      "bad mesgt.encoding " .. ENC .. "number)" },
    { "EMSG_ENCODING", "a multipart encoded", { body = { { body = "x" } }, encoding = "base64" },
      "bad mesgt.encoding (a multipart body is not encoded)" },
    { "EHDR_TOO_MANY", "129 headers", { headers = many, body = "x" },
      "too many headers in mesgt (at most 128)" },
    { "EHDR_SYNTAX", "a NaN header", { headers = { subject = 0 / 0 }, body = "x" },
      "invalid header Subject in mesgt: not a finite number" },
    { "ECONTENT_NUL", "a NUL in a preamble", { body = { preamble = "a\0b", { body = "x" } } },
      "bad mesgt.body.preamble (a NUL byte at octet 2: RFC 5322 3.5)" },
    { "ELINE_TOO_LONG", "a long line in an epilogue",
      { body = { epilogue = string.rep("z", 1200), { body = "x" } } },
      "bad mesgt.body.epilogue (a line of 1200 octets, over the limit of 998: RFC 5321 4.5.3.1.6)" },
    { "EARG_TOO_LONG", "multiparts nested too deeply", deep(40),
      "mesgt" .. string.rep(".body[1]", 32) .. ": is too long" },
}

-- port 1 on 127.0.0.1: nothing listens there, and nothing is connected
local function send(mod, source, port)
    return mod.send{ from = FROM, rcpt = TO, server = "127.0.0.1", port = port or 1, timeout = 5,
                     source = source }
end

describe("message errors are named (issue 10)", function()
    teardown(H.stop_all)

    for _, c in ipairs(cases) do
        local name, what, mesgt, msg = c[1], c[2], c[3], c[4]
        it(name .. " (" .. what .. "): core.message gives nil, err, name", function()
            local g, err, ename = core.message(mesgt, {})
            assert.is_nil(g)
            assert.are.equal(msg, err)
            assert.are.equal(name, ename)
        end)
        it(name .. " (" .. what .. "): the source gives nil, err as before; error_name names it", function()
            local src = smtp.message(mesgt)
            assert.are.same({ nil, msg }, { src() })
            assert.are.equal(name, message.error_name(src))
        end)
        for _, mod in ipairs({ { "socket.smtp", smtp }, { "smtp_native", native } }) do
            it(name .. " (" .. what .. "): " .. mod[1] .. ".send: details.name, nothing connected", function()
                local r, err, det = send(mod[2], mod[2].message(mesgt))
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

    it("EFILE: a file body that cannot be read, found when encoding = \"auto\" reads it", function()
        local f = smtp.file("/proc/self/mem", { encoding = "auto", content_type = "text/plain" })
        if not f then return pending("no /proc/self/mem") end
        local r, err, det = send(smtp, smtp.message{ body = f })
        assert.is_nil(r)
        assert.matches("^mesgt: /proc/self/mem: ", err)
        assert.are.same({ stage = "source", name = "EFILE" }, det)
    end)

    it("EFILE: a file body that cannot be read as it is sent: DATA cut", function()
        local f = smtp.file("/proc/self/mem", { encoding = "base64", content_type = "text/plain" })
        if not f then return pending("no /proc/self/mem") end
        local srv = H.capture()
        finally(function() srv:stop() end)
        -- a first part long enough to go out before the file is read
        local r, err, det = send(smtp, smtp.message{ body = { { body = string.rep("line\r\n", 50000) },
                                                                { body = f } } }, srv.port)
        assert.is_nil(r)
        assert.matches("^/proc/self/mem: ", err)
        assert.are.same({ stage = "source", name = "EFILE" }, det)
        H.assert_data_cut(srv)
    end)

    it("EFILE_CHANGED: a file changed since encoding = \"auto\" found it 7bit: DATA cut", function()
        local dir = H.tmpdir()
        finally(function() H.rmdir(dir) end)
        local path = dir .. "/app.log"
        H.write_file(path, string.rep("a plain 7bit log line\r\n", 20000))
        for _, mod in ipairs({ smtp, native }) do
            local srv = H.capture()
            finally(function() srv:stop() end)
            local source = mod.message{ body = smtp.file(path, { encoding = "auto", content_type = "text/plain" }) }
            local fh = assert(io.open(path, "ab"))
            fh:write("more\0\r\n")
            fh:close()
            local r, err, det = send(mod, source, srv.port)
            assert.is_nil(r)
            assert.are.equal(path .. ": changed since encoding = \"auto\" found it 7bit: it now has a NUL, "
                .. "8-bit data or a line over 998 octets", err)
            assert.are.same({ stage = "source", name = "EFILE_CHANGED" }, det)
            H.assert_data_cut(srv)
            srv:stop()
            H.write_file(path, string.rep("a plain 7bit log line\r\n", 20000))
        end
    end)

    it("a metamethod's own error, a body source's error and a bad chunk stay ESOURCE", function()
        local mt = setmetatable({}, { __index = function(_, k)
            if k == "body" then error("table on fire", 0) end
        end })
        local r, err, det = send(smtp, smtp.message(mt))
        assert.is_nil(r)
        assert.are.equal("table on fire", err)
        assert.are.same({ stage = "source", name = "ESOURCE" }, det)
        local srv = H.capture()
        finally(function() srv:stop() end)
        local n = 0
        local r2, err2, det2 = send(smtp, smtp.message{ body = function()
            n = n + 1
            if n == 1 then return "first\r\n" end
            return nil, "disk on fire"
        end }, srv.port)
        assert.is_nil(r2)
        assert.are.equal("disk on fire", err2)
        assert.are.same({ stage = "source", name = "ESOURCE" }, det2)
        local r3, err3, det3 = send(smtp, smtp.message{ body = function() return 5 end }, srv.port)
        assert.is_nil(r3)
        assert.are.equal("bad chunk from mesgt.body (string or nil expected, got number)", err3)
        assert.are.same({ stage = "source", name = "ESOURCE" }, det3)
    end)
end)
