-- Issue 9 attack: an smtp.file that changes after encoding = "auto" chose
-- 7bit for it.
--
-- With encoding = "auto" the whole file is scanned when the message is
-- built (smtp.message), so that a NUL or a long line anywhere never goes
-- out as 7bit (item 3). The file is read again when the message is sent,
-- possibly much later: a log file appended to in between went out as
-- "7bit" with a NUL or 8-bit bytes in it (a long line was at least
-- stopped by the DATA filter, with an error that did not name the file).
-- A file that "auto" found 7bit is now scanned again as it is sent; if
-- what it holds by then cannot be 7bit, the message source fails, naming
-- the file, and the connection is cut before the end-of-data marker.
local H = require("helper")
local smtp = require("socket.smtp")

local FROM, TO = "<a@example.com>", "<b@example.com>"
local LINES = string.rep("a plain 7bit log line\r\n", 20000) -- 460 KB, read in several blocks

local function append(path, data)
    local f = assert(io.open(path, "ab"))
    f:write(data)
    f:close()
end

describe("issue 9 attack: a file found 7bit, then changed", function()
    teardown(H.stop_all)
    local dir, path
    before_each(function()
        dir = H.tmpdir()
        path = dir .. "/app.log"
        H.write_file(path, LINES)
    end)
    after_each(function() H.rmdir(dir) end)

    local function send_changed(extra)
        local srv = H.capture()
        local source = smtp.message{ body = smtp.file(path, { encoding = "auto", content_type = "text/plain" }) }
        append(path, extra)
        local r, err, det = smtp.send{ from = FROM, rcpt = TO, server = "127.0.0.1", port = srv.port,
                                       timeout = 5, source = source }
        return srv, r, err, det
    end

    for _, case in ipairs({
        { "a NUL", "more\0\r\n" },
        { "8-bit data", "caf\233\r\n" },
        { "a line over 998 octets", string.rep("z", 2000) .. "\r\n" },
    }) do
        it("appended " .. case[1] .. ": the send fails, naming the file; the server accepts nothing", function()
            local srv, r, err, det = send_changed(case[2])
            finally(function() srv:stop() end)
            assert.is_nil(r)
            assert.are.equal(path .. ": changed since encoding = \"auto\" found it 7bit: it now has a NUL, "
                .. "8-bit data or a line over 998 octets", err)
            assert.are.same({ stage = "source", name = "EFILE_CHANGED" }, det) -- issue 10: its own name
            local wire = H.assert_data_cut(srv)
            assert.matches("\r\nContent%-Transfer%-Encoding: 7bit\r\n", wire)
            assert.is_nil(wire:find("\0", 1, true))
            assert.is_nil(wire:find("\233", 1, true))
        end)
    end

    it("appended 7bit text: sent whole, as 7bit", function()
        local srv, r, err = send_changed("one more plain line\r\n")
        finally(function() srv:stop() end)
        assert.is_truthy(r, err)
        local msgs = srv:wait_messages(1)
        assert.are.equal(1, #msgs)
        local e = H.parse_email(msgs[1].data)
        assert.are.equal("7bit", H.header(e, "Content-Transfer-Encoding"))
        assert.are.equal(LINES .. "one more plain line\r\n", e.payload)
    end)
end)
