-- Issue 9 attack on item 9: a positive reply is never the server's last word.
--
-- After a failed write the client reads what the server already sent and
-- reports the next complete reply as a refusal (item 9). A server that said
-- "250 2.0.0 Ok: queued" in the middle of the content and then reset the
-- connection made the send return nil, "250 2.0.0 Ok: queued ... (message
-- content)" with details.code = 250: a caller that classifies errors by
-- code reads a 2xx as a success, and the message was not sent. With "250
-- ok" then "421 bye" the 250 was reported, not the 421. A reply below 400
-- cannot be why the connection broke: it is passed over (the debug
-- transcript still shows it, as the server said it) and only a 4xx or 5xx
-- is the last word; without one the send fails with the socket's own error,
-- as before item 9. At most a few positive replies are passed over.
--
-- The scripted server reads the first 64 KiB of the 8 MiB content, answers
-- and closes without reading the rest (RST), so the write really fails.
local H = require("helper")
local M = require("support.mailspec")
local smtp = require("socket.smtp")
local socket = require("socket")

local FROM, TO = "<a@example.com>", "<b@example.com>"
local BIG = string.rep(string.rep("x", 76) .. "\r\n", 107546) -- 8 MiB
local QUEUED = "250 2.0.0 Ok: queued as 4Bc1Xy0Zq9z1"

local function gives_up(said)
    return M.to_content({
        { read = 65536 },
        { send = said },
        { close = true, unread = true },
    })
end

local function send(said)
    local srv = H.scripted(gives_up(said))
    local lines = {}
    local t0 = socket.gettime()
    local r, err, det = smtp.send{
        from = FROM, rcpt = TO, server = "127.0.0.1", port = srv.port, domain = "client.test",
        timeout = 10, source = smtp.message{ headers = { subject = "big" }, body = BIG },
        debug = function(dir, line) lines[#lines + 1] = dir .. " " .. line end,
    }
    local took = socket.gettime() - t0
    srv:assert_clean()
    srv:stop()
    return r, err, det, lines, took
end

-- The lines the server said after the content, in the transcript.
local function said_after_content(lines)
    local out, seen = {}, false
    for _, l in ipairs(lines) do
        if seen and l:sub(1, 2) == "S " then out[#out + 1] = l:sub(3) end
        if l:match("^C %[message content: %d+ bytes, incomplete: closed%]$") then seen = true end
    end
    return out
end

describe("issue 9 attack: a positive reply is not the last word", function()
    teardown(H.stop_all)

    it("\"250 Ok: queued\" in the middle of the content, then a reset: \"closed\", no code 250", function()
        local r, err, det, lines, took = send(QUEUED .. "\r\n")
        assert.is_nil(r)
        assert.are.equal("closed", err)
        assert.are.same({ stage = "body", name = "ESOCKET" }, det)
        assert.is_true(took < 5, "took " .. took .. " s")
        -- the transcript shows what the server said
        assert.are.same({ QUEUED }, said_after_content(lines))
    end)

    it("\"250 ok\" then \"421 bye\": the 421 is the last word", function()
        local r, err, det, lines = send("250 ok\r\n421 4.4.2 bye\r\n")
        assert.is_nil(r)
        assert.are.equal("421 4.4.2 bye (message content)", err)
        assert.are.equal(421, det.code)
        assert.are.equal("4.4.2", det.enhanced)
        assert.are.equal("421 4.4.2 bye", det.reply)
        assert.are.equal("EREFUSED", det.name)
        assert.are.equal("body", det.stage)
        assert.are.equal("closed", det.socket_error)
        assert.are.same({ "250 ok", "421 4.4.2 bye" }, said_after_content(lines))
    end)

    it("a multi-line 250 and a 354, then a 554: the 554 is the last word", function()
        local r, err, det = send("250-one\r\n250 two\r\n354 go on\r\n554 5.3.4 too big\r\n")
        assert.is_nil(r)
        assert.are.equal("554 5.3.4 too big (message content)", err)
        assert.are.equal(554, det.code)
        assert.are.equal("closed", det.socket_error)
    end)

    it("a stream of 250s, then a 421: passed over a few times only, \"closed\", at once", function()
        local r, err, det, lines, took = send(string.rep("250 ok\r\n", 20000) .. "421 4.4.2 bye\r\n")
        assert.is_nil(r)
        assert.are.equal("closed", err)
        assert.are.same({ stage = "body", name = "ESOCKET" }, det)
        assert.is_true(took < 5, "took " .. took .. " s")
        local said = said_after_content(lines)
        assert.is_true(#said >= 1 and #said <= 8, #said .. " replies passed over")
        for _, l in ipairs(said) do assert.are.equal("250 ok", l) end
    end)

    it("low-level API: a 250 then a reset while idle; the next command: \"closed\", no code", function()
        local ok, err, s = M.noop_after_reset("250 2.0.0 Ok")
        assert.is_nil(ok)
        assert.are.equal("closed", err)
        assert.is_nil(s.error and s.error.code)
    end)
end)
