-- Issue 9 attack: a composite body is never encoded.
--
-- Since item 3 a leaf given no `encoding` and no Content-Transfer-Encoding
-- header, whose string body has a NUL or a line over 998 octets, is
-- encoded as `encoding = "auto"` would. That also hit a leaf whose
-- Content-Type the caller set to a multipart or message type (a
-- multipart built by hand, a message forwarded as message/rfc822): its
-- body went out as base64 or quoted-printable, which RFC 2045 6.4 forbids
-- for composite types (RFC 2046 5.2.1 for message/rfc822). Python's email
-- then saw no parts at all (InvalidMultipartContentTransferEncodingDefect).
-- Such a body is sent as given now, as LuaSocket sends it; a line over 998
-- octets in it fails the send at the DATA filter, before the end-of-data
-- marker.
local H = require("helper")
local smtp = require("socket.smtp")

local FROM, TO = "<a@example.com>", "<b@example.com>"
local LONG = string.rep("h", 1500)

local R = require("support.regress8")
local function drain(src) return assert(R.drain(src)) end

local function cte_headers(text)
    local head = text:sub(1, (text:find("\r\n\r\n", 1, true)))
    return head:lower():find("content%-transfer%-encoding") ~= nil
end

describe("issue 9 attack: a composite body given no encoding", function()
    teardown(H.stop_all)

    it("a multipart built by hand, with a NUL in a part: sent as given, its parts intact", function()
        local body = "--b\r\nContent-Type: application/octet-stream\r\n\r\na\0b\r\n--b--\r\n"
        local text = drain(smtp.message{
            headers = { ["content-type"] = 'multipart/mixed; boundary="b"' }, body = body })
        assert.is_false(cte_headers(text))
        assert.are.equal(body, text:sub(-#body))
        local e = H.parse_email(text)
        assert.are.same({}, e.defects)
        assert.is_true(e.is_multipart)
        assert.are.equal(1, #e.parts)
        assert.are.equal("a\0b", e.parts[1].payload)
    end)

    it("a message/rfc822 part with a long line: not encoded; the send fails and the server accepts nothing",
        function()
        local srv = H.capture()
        finally(function() srv:stop() end)
        local inner = "From: x@example.com\r\nSubject: inner\r\n\r\n" .. LONG .. "\r\n"
        local r, err, det = smtp.send{
            from = FROM, rcpt = TO, server = "127.0.0.1", port = srv.port, timeout = 5,
            source = smtp.message{ body = {
                { body = "see the attached message\r\n" },
                { headers = { ["content-type"] = "message/rfc822" }, body = inner },
            } },
        }
        assert.is_nil(r)
        assert.are.equal("message content has a line of 1500 octets, over the limit of 998 "
            .. "(RFC 5321 4.5.3.1.6)", err)
        assert.are.same({ stage = "body", name = "ELINE_TOO_LONG" }, det)
        local wire = H.assert_data_cut(srv)
        assert.is_nil(wire:lower():find("content-transfer-encoding", 1, true))
    end)

    it("the type in any case, after white space; a type that only looks alike is still encoded", function()
        for _, ct in ipairs({ "Message/RFC822", " MULTIPART/alternative; boundary=b", "\tmessage/partial" }) do
            local text = drain(smtp.message{ headers = { ["content-type"] = ct }, body = "x\0y" })
            assert.is_false(cte_headers(text), ct)
            assert.are.equal("x\0y", text:sub(-3), ct)
        end
        for _, ct in ipairs({ "application/multipart", "text/message", "multipart", "messages/x" }) do
            local text = drain(smtp.message{ headers = { ["content-type"] = ct }, body = "x\0y" })
            assert.is_truthy(text:find("\r\nContent%-Transfer%-Encoding: base64\r\n"), ct)
            assert.are.equal("x\0y", H.parse_email(text).payload, ct)
        end
    end)
end)
