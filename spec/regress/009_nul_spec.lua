-- Issue 9: nothing malformed may reach the wire -- a NUL byte.
--
-- A NUL is never valid in DATA content: RFC 5322 3.5 excludes it from a
-- message's text, RFC 2045 2.7 and 2.8 (and RFC 6152) from 7bit and 8bit
-- data; only BINARYMIME over BDAT (RFC 3030) carries it, which
-- smtp-native does not offer. A string body with a NUL and no encoding is
-- encoded by the generator (item 3). Before this, a NUL still passed the
-- DATA filter from a Lua source body, a plain source given to smtp.send
-- or s:data, a part whose encoding (or Content-Transfer-Encoding header)
-- was given as 7bit or 8bit, and a preamble or epilogue. Now the DATA
-- filter refuses it as it refuses a line over 998 octets: the send fails
-- before the end-of-data marker, naming the NUL's octet, and the
-- connection is cut, so the server accepts nothing. A preamble or
-- epilogue with a NUL is refused when the message is built.
local H = require("helper")
local smtp = require("socket.smtp")
local ltn12 = require("ltn12")

local FROM, TO = "<a@example.com>", "<b@example.com>"
local NUL_MSG = "^message content has a NUL byte at octet (%d+) %(RFC 5322 3%.5; "
    .. "send binary data encoded, e%.g%. encoding = \"base64\"%)$"

local function nul_msg(at)
    return "message content has a NUL byte at octet " .. at .. " (RFC 5322 3.5; "
        .. "send binary data encoded, e.g. encoding = \"base64\")"
end

-- The whole output of a message source.
local R = require("support.regress8")
local function drain(src) return assert(R.drain(src)) end

local send = require("support.mailspec").send_source

-- The send fails naming the NUL, the server got DATA but no end of it,
-- and no NUL reached the wire. Returns the octet the error names.
local function assert_refused(srv, r, err, det)
    assert.is_nil(r)
    assert.is_string(err)
    local at = err:match(NUL_MSG)
    assert.is_not_nil(at, err)
    assert.are.same({ stage = "body", name = "ECONTENT_NUL" }, det)
    local wire = H.assert_data_cut(srv)
    assert.is_nil(wire:find("\0", 1, true))
    return tonumber(at), wire
end

describe("issue 9: a NUL in content the generator cannot encode", function()
    teardown(H.stop_all)

    it("a Lua source body: nil, the NUL's octet, ECONTENT_NUL; nothing delivered", function()
        local srv = H.capture()
        finally(function() srv:stop() end)
        local function mesgt()
            return { headers = { subject = "source", date = "Sun, 06 Dec 2026 00:00:00 +0000",
                                 ["message-id"] = "<nul@client.test>" },
                     body = ltn12.source.string("first line\r\nnul \0 here\r\nlast line\r\n") }
        end
        -- the generator passes the source's bytes on: the octet counts the
        -- whole content, headers included
        local text = drain(smtp.message(mesgt()))
        local r, err, det = send(srv.port, smtp.message(mesgt()))
        local at = assert_refused(srv, r, err, det)
        assert.are.equal(text:find("\0", 1, true), at)
    end)

    it("a plain LTN12 source given to smtp.send: the exact octet", function()
        local srv = H.capture()
        finally(function() srv:stop() end)
        local content = "Subject: plain\r\n\r\nok\r\n" .. ("ab\r\n"):rep(1000) .. "a\0b\r\n"
        local r, err, det = send(srv.port, ltn12.source.string(content))
        local at = assert_refused(srv, r, err, det)
        assert.are.equal(nul_msg(content:find("\0", 1, true)), err)
        assert.are.equal(content:find("\0", 1, true), at)
    end)

    it("a NUL as the very first octet, and one split from its line over chunks", function()
        local srv = H.capture()
        finally(function() srv:stop() end)
        local r, err, det = send(srv.port, ltn12.source.string("\0Subject: x\r\n\r\nbody\r\n"))
        assert_refused(srv, r, err, det)
        assert.are.equal(nul_msg(1), err)
        srv:stop()

        srv = H.capture()
        local chunks, i = { "Subject: split\r\n\r\n.", "abc", "\r", "\n.", "\0", "more\r\n" }, 0
        r, err, det = send(srv.port, function()
            i = i + 1
            return chunks[i]
        end)
        assert_refused(srv, r, err, det)
        assert.are.equal(nul_msg(#table.concat(chunks, "", 1, 4) + 1), err)
    end)

    it("s:data of the low-level object: raises the same error, and the server accepts nothing", function()
        local srv = H.capture()
        finally(function() srv:stop() end)
        local r, err, s = H.low_level_data(srv.port, FROM, TO,
            ltn12.source.string("Subject: low\r\n\r\nbinary \0\1\2\r\n"))
        assert.is_nil(r)
        assert.are.equal(nul_msg(#"Subject: low\r\n\r\nbinary " + 1), err)
        assert.are.equal("ECONTENT_NUL", s.error and s.error.name)
        local wire = H.assert_data_cut(srv)
        assert.is_nil(wire:find("\0", 1, true))
    end)

    it("encoding = \"8bit\" on a string body with a NUL: the same", function()
        local srv = H.capture()
        finally(function() srv:stop() end)
        local r, err, det = send(srv.port, smtp.message{
            headers = { subject = "8bit" }, encoding = "8bit", body = "a\0b\r\n" })
        assert_refused(srv, r, err, det)
    end)

    it("an smtp.file given encoding = \"8bit\", with a NUL past its first block: the same", function()
        local dir = H.tmpdir()
        local srv = H.capture()
        finally(function()
            srv:stop()
            H.rmdir(dir)
        end)
        local path = dir .. "/late_nul.txt"
        H.write_file(path, ("plain text line\r\n"):rep(5000) .. "\0" .. "end\r\n")
        local r, err, det = send(srv.port, smtp.message{
            headers = { subject = "file" }, body = smtp.file(path, { encoding = "8bit" }) })
        assert_refused(srv, r, err, det)
    end)

    it("a caller-given Content-Transfer-Encoding: 7bit on a part with a NUL: the same", function()
        local srv = H.capture()
        finally(function() srv:stop() end)
        local r, err, det = send(srv.port, smtp.message{
            body = {
                { body = "fine\r\n" },
                { headers = { ["content-transfer-encoding"] = "7bit" }, body = "x\0y\r\n" },
            } })
        assert_refused(srv, r, err, det)
    end)

    it("encoding = \"auto\" on a Lua source whose NUL comes after its first chunk: "
        .. "the send fails, the part never goes out labelled 7bit with it", function()
        local srv = H.capture()
        finally(function() srv:stop() end)
        local chunks, i = { "plain ASCII text\r\n", "then \0 a NUL\r\n" }, 0
        local hdrs = { date = "Sun, 06 Dec 2026 00:00:00 +0000", ["message-id"] = "<auto@client.test>" }
        local r, err, det = send(srv.port, smtp.message{
            headers = hdrs, encoding = "auto", body = function()
                i = i + 1
                return chunks[i]
            end })
        assert_refused(srv, r, err, det)
        -- what the generator makes of it: labelled 7bit from the first chunk
        i = 0
        local text = drain(smtp.message{ headers = hdrs, encoding = "auto", body = function()
            i = i + 1
            return chunks[i]
        end })
        assert.matches("\r\nContent%-Transfer%-Encoding: 7bit\r\n", text)
        assert.are.equal(text:find("\0", 1, true), tonumber(err:match(NUL_MSG)))
    end)

    it("encoding = \"auto\" on a Lua source whose first chunk has the NUL: base64, arrives intact",
        function()
        local srv = H.capture()
        finally(function() srv:stop() end)
        local chunks, i = { "bin \0\1\2\r\n", "more\r\n" }, 0
        local r, err = send(srv.port, smtp.message{
            encoding = "auto", body = function()
                i = i + 1
                return chunks[i]
            end })
        assert.is_truthy(r, err)
        local msgs = srv:wait_messages(1)
        assert.are.equal(1, #msgs)
        local e = H.parse_email(msgs[1].data)
        assert.are.equal("base64", H.header(e, "Content-Transfer-Encoding"))
        assert.are.equal(table.concat(chunks), e.payload)
    end)
end)

describe("issue 9: a NUL the generator can deal with before anything is sent", function()
    teardown(H.stop_all)

    it("a preamble with a NUL: refused before connecting, naming it", function()
        local srv = H.capture()
        finally(function() srv:stop() end)
        local mesgt = { body = { preamble = "intro\r\nnul\0", { body = "x" } } }
        local c, err = smtp.message(mesgt)()
        assert.is_nil(c)
        assert.are.equal("bad mesgt.body.preamble (a NUL byte at octet 11: RFC 5322 3.5)", err)
        local r, err2 = send(srv.port, smtp.message(mesgt))
        assert.is_nil(r)
        assert.are.equal(err, err2)
        H.assert_not_connected(srv)
    end)

    it("an epilogue of a nested multipart with a NUL: the same", function()
        local _, err = smtp.message{ body = { { body = { epilogue = "\0", { body = "x" } } } } }()
        assert.are.equal("bad mesgt.body[1].body.epilogue (a NUL byte at octet 1: RFC 5322 3.5)", err)
    end)

    it("a header value with a NUL: refused before connecting", function()
        local srv = H.capture()
        finally(function() srv:stop() end)
        local r, err = send(srv.port, smtp.message{ headers = { subject = "a\0b" }, body = "x" })
        assert.is_nil(r)
        assert.are.equal("invalid header Subject in mesgt: CR, LF and NUL are not allowed in a value",
            err)
        H.assert_not_connected(srv)
    end)

    it("a string body with a NUL and no encoding: encoded, and arrives intact", function()
        local srv = H.capture()
        finally(function() srv:stop() end)
        local body = "before\r\nnul \0 here\r\n\0\0\r\nafter\r\n"
        local r, err = send(srv.port, smtp.message{ headers = { subject = "nul" }, body = body })
        assert.is_truthy(r, err)
        local msgs = srv:wait_messages(1)
        assert.are.equal(1, #msgs)
        assert.is_nil(msgs[1].data:find("\0", 1, true))
        local e = H.parse_email(msgs[1].data)
        assert.are.same({}, e.defects)
        assert.are.equal("base64", H.header(e, "Content-Transfer-Encoding"))
        assert.are.equal(body, e.payload)
    end)
end)
