-- Issue 9 attack: the last reply after a failed write, from a hostile
-- server. After the write of the content fails, the client reads what the
-- server already sent (item 9). A server that sends no reply at all but
-- 64 KiB of bytes without a line end, or lines that are no reply, must not
-- make the send hang, crash, or report those bytes: the send returns the
-- socket's own error ("closed"), quickly. No finding: these pass on the
-- code of 2f662bb and 59b02b6.
local H = require("helper")
local M = require("support.mailspec")
local smtp = require("socket.smtp")
local socket = require("socket")

local FROM, TO = "<a@example.com>", "<b@example.com>"
local BIG = string.rep(string.rep("x", 76) .. "\r\n", 107546) -- 8 MiB, more than the socket buffers

local function gives_up(last_steps)
    return M.to_content(M.steps({ { read = 65536 } }, last_steps, { { close = true, unread = true } }), "354 go")
end

local function send_big(port)
    local t0 = socket.gettime()
    local r, err, det = smtp.send{
        from = FROM, rcpt = TO, server = "127.0.0.1", port = port, domain = "client.test", timeout = 5,
        source = smtp.message{ headers = { subject = "big" }, body = BIG },
    }
    return r, err, det, socket.gettime() - t0
end

describe("issue 9 attack: a hostile server's last word", function()
    teardown(H.stop_all)

    for _, case in ipairs({
        { "64 KiB without a line end", { { flood = 65536 } } },
        { "lines that are no reply", { { send = string.rep("hello world\r\n", 5000) } } },
        { "a multi-line reply cut in its middle", { { send = "421-4.4.2 first\r\n421-4.4.2 second\r\n421 4.4" } } },
        { "a reply with a code out of range", { { send = "999 9.9.9 weird\r\n" } } },
    }) do
        it(case[1] .. ", then a close: \"closed\", at once", function()
            local srv = H.scripted(gives_up(case[2]))
            local r, err, det, took = send_big(srv.port)
            srv:assert_clean()
            srv:stop()
            assert.is_nil(r)
            assert.are.equal("closed", err)
            assert.are.same({ stage = "body", name = "ESOCKET" }, det)
            assert.is_true(took < 3, "took " .. took .. " s")
        end)
    end
end)
