-- Issue 9, item 3: no line longer than 998 octets is ever sent
-- (RFC 5321 4.5.3.1.6).
--
-- A part whose string body was one 64 KiB line went out as one line;
-- aiosmtpd answered "500 Line too long" after the whole message had been
-- transmitted. Now:
--   - a leaf given no `encoding` and no Content-Transfer-Encoding header,
--     whose string body has a line over 998 octets or a NUL, is encoded as
--     `encoding = "auto"` would do it, with its header; text that is fine
--     keeps the bytes LuaSocket sends;
--   - content whose lines cannot be known before the headers are written
--     (a Lua source body), and any source given to smtp.send or s:data,
--     passes the DATA filter, which fails the send at the first octet past
--     998 on a line (counted before dot-stuffing), before the end-of-data
--     marker; the connection is then cut, so the server accepts nothing.
local H = require("helper")
local smtp = require("socket.smtp")
local ltn12 = require("ltn12")
local socket = require("socket")

local FROM, TO = "<a@example.com>", "<b@example.com>"
local LIMIT_MSG = "^message content has a line of (%a* ?%a* ?)(%d+) octets, over the limit of 998 "
    .. "%(RFC 5321 4%.5%.3%.1%.6%)$"

local send = require("support.mailspec").send_source

-- The whole output of a message source.
local R = require("support.regress8")
local function drain(src) return assert(R.drain(src)) end

-- The longest line of s (a CR or an LF ends a line).
local function longest_line(s)
    local longest = 0
    for line in (s .. "\n"):gmatch("([^\r\n]*)[\r\n]") do
        if #line > longest then longest = #line end
    end
    return longest
end

-- A line of n printable octets (all different over a long run).
local function line_of(n, first)
    local t, alphabet = {}, "abcdefghijklmnopqrstuvwxyz0123456789 ABCDEFGHIJKLMNOPQRSTUVWXYZ=-"
    for i = 1, n do
        local k = (i * 7 + math.floor(i / 65)) % #alphabet + 1
        t[i] = alphabet:sub(k, k)
    end
    if first then t[1] = first end
    t[n] = "x" -- no trailing space
    return table.concat(t)
end

-- One message through aiosmtpd: returns the message as it arrived, parsed.
local function deliver(mesgt)
    local srv = H.capture()
    local ok, r, err = pcall(send, srv.port, smtp.message(mesgt))
    local msgs = ok and r and srv:wait_messages(1) or srv:messages()
    srv:stop()
    assert(ok, r)
    assert(r, err)
    assert.are.equal(1, #msgs)
    return msgs[1], H.parse_email(msgs[1].data)
end

-- The body bytes of a generated message (after its header block).
local function body_of(text)
    local i = assert(text:find("\r\n\r\n", 1, true))
    return text:sub(i + 4)
end

-- LuaSocket's own smtp.lua (Debian's lua-socket), loaded beside ours.
local function luasocket_smtp()
    local ver = H.lua_version == "jit" and "5.1" or H.lua_version
    local path = "/usr/share/lua/" .. ver .. "/socket/smtp.lua"
    local f = io.open(path)
    if not f then return nil end
    f:close()
    local saved, loaded = socket.smtp, package.loaded["socket.smtp"]
    local ok, m = pcall(dofile, path)
    socket.smtp, package.loaded["socket.smtp"] = saved, loaded
    return ok and m or nil
end

describe("issue 9 (3): a string body given no encoding", function()
    teardown(H.stop_all)

    it("one line of 64 KiB: encoded, with its header, and arrives intact", function()
        local body = line_of(65536)
        local m, e = deliver{ headers = { subject = "one long line" }, body = body }
        assert.are.same({}, e.defects)
        assert.are.equal("quoted-printable", H.header(e, "Content-Transfer-Encoding"))
        assert.are.equal(body .. "\r\n", e.payload) -- the marker's CRLF ends the line
        assert.is_true(longest_line(m.data) <= 998)
    end)

    it("a long line after short ones, mostly 8-bit: base64 (as auto chooses)", function()
        local body = "short\r\n" .. ("\233"):rep(1500) .. "\r\n"
        local _, e = deliver{ body = body }
        assert.are.equal("base64", H.header(e, "Content-Transfer-Encoding"))
        assert.are.equal(body, e.payload)
    end)

    it("a NUL: base64, and arrives intact", function()
        local body = "before\r\nnul \0 here\r\nafter\r\n"
        local m, e = deliver{ headers = { subject = "nul" }, body = body }
        assert.are.equal("base64", H.header(e, "Content-Transfer-Encoding"))
        assert.are.equal(body, e.payload)
        assert.is_nil(m.data:find("\0", 1, true))
    end)

    it("a part of a multipart: only that part is encoded", function()
        local long = line_of(3000)
        local m, e = deliver{ body = {
            { body = "fine\r\n" },
            { headers = { ["content-type"] = "text/html" }, body = long },
        } }
        assert.are.same({}, e.defects)
        assert.is_nil(H.header(e.parts[1], "Content-Transfer-Encoding"))
        assert.are.equal("fine\r\n", e.parts[1].payload)
        assert.are.equal("quoted-printable", H.header(e.parts[2], "Content-Transfer-Encoding"))
        assert.are.equal(long, e.parts[2].payload)
        assert.is_true(longest_line(m.data) <= 998)
    end)

    it("a line of exactly 998 octets (and one starting with a dot) is sent as given", function()
        local body = line_of(998) .. "\r\n" .. line_of(998, ".") .. "\r\n"
        local text = drain(smtp.message{ body = body })
        assert.is_nil(text:find("Content-Transfer-Encoding", 1, true))
        assert.are.equal(body, body_of(text))
        local m, e = deliver{ body = body }
        assert.is_nil(H.header(e, "Content-Transfer-Encoding"))
        assert.are.equal(body, e.payload)
        assert.matches("\r\n" .. line_of(998):gsub("%p", "%%%0") .. "\r\n", m.data)
    end)

    it("a line of 999 octets is encoded", function()
        local text = drain(smtp.message{ body = line_of(999) })
        assert.matches("\r\nContent%-Transfer%-Encoding: quoted%-printable\r\n", text)
        assert.is_true(longest_line(text) <= 998)
    end)

    it("the caller's Content-Transfer-Encoding header is kept, and the DATA filter refuses the line", function()
        local srv = H.capture()
        finally(function() srv:stop() end)
        local r, err, det = send(srv.port, smtp.message{
            headers = { ["content-transfer-encoding"] = "8bit" }, body = line_of(2000) })
        assert.is_nil(r)
        -- the body has no final line break: the line goes on to the end
        assert.are.equal("message content has a line of at least 2000 octets, over the limit of 998 "
            .. "(RFC 5321 4.5.3.1.6)", err)
        assert.are.same({ stage = "body", name = "ELINE_TOO_LONG" }, det)
        H.assert_data_cut(srv)
    end)

    it("short lines keep exactly the bytes LuaSocket's own smtp.message sends", function()
        local lsmtp = luasocket_smtp()
        assert.is_table(lsmtp, "LuaSocket's smtp.lua (Debian lua-socket) is needed")
        local bodies = {
            "Hello,\r\n\r\n.a dot line\r\nFrom here\r\ntrailing space \r\n",
            "no final line break",
            "bare\nLF\rand CR\r\n\tand 8-bit \233\r\n",
            line_of(998) .. "\r\n" .. line_of(500),
            "",
        }
        for i, body in ipairs(bodies) do
            local ours = drain(smtp.message{ headers = { subject = "s" }, body = body })
            local theirs = drain(lsmtp.message{ headers = { subject = "s" }, body = body })
            assert.is_nil(ours:find("Content-Transfer-Encoding", 1, true), "body " .. i)
            assert.are.equal(body_of(theirs), body_of(ours), "body " .. i)
            assert.are.equal(body, body_of(ours), "body " .. i)
        end
    end)
end)

describe("issue 9 (3): content whose lines are not known before it is sent", function()
    teardown(H.stop_all)

    it("a Lua source body with a long line: the send fails, naming the length and the limit", function()
        local srv = H.capture()
        finally(function() srv:stop() end)
        local r, err, det = send(srv.port, smtp.message{
            headers = { subject = "source" },
            body = ltn12.source.string("first line\r\n" .. line_of(5000) .. "\r\nlast line\r\n"),
        })
        assert.is_nil(r)
        local words, len = err:match(LIMIT_MSG)
        assert.is_not_nil(len, err)
        assert.is_true(tonumber(len) >= 999 and tonumber(len) <= 5000, err)
        assert.is_true(words == "" or words == "at least ", err)
        assert.are.same({ stage = "body", name = "ELINE_TOO_LONG" }, det)
        local wire = H.assert_data_cut(srv)
        assert.is_nil(wire:find(line_of(999), 1, true)) -- not even the start of it
    end)

    it("a Lua source body whose long line comes in many small chunks", function()
        local srv = H.capture()
        finally(function() srv:stop() end)
        local n = 0
        local r, err, det = send(srv.port, smtp.message{
            body = function()
                n = n + 1
                if n > 2000 then return nil end
                return "abc" -- 6000 octets on one line, 3 at a time
            end,
        })
        assert.is_nil(r)
        assert.matches(LIMIT_MSG, err)
        assert.are.equal("ELINE_TOO_LONG", det.name)
        H.assert_data_cut(srv)
    end)

    it("a plain LTN12 source given to smtp.send: the same", function()
        local srv = H.capture()
        finally(function() srv:stop() end)
        -- ltn12.source.string hands out 2048 octets at a time: the filter
        -- stops in the chunk where the line goes over, and says how much
        -- of the line it saw (it never reads on to find the line's end)
        local r, err, det = send(srv.port, ltn12.source.string(
            "Subject: plain\r\n\r\nok\r\n" .. line_of(5000) .. "\r\nmore\r\n"))
        assert.is_nil(r)
        assert.are.equal("message content has a line of at least 2026 octets, over the limit of 998 "
            .. "(RFC 5321 4.5.3.1.6)", err)
        assert.are.same({ stage = "body", name = "ELINE_TOO_LONG" }, det)
        H.assert_data_cut(srv)
    end)

    it("a source whose chunk holds the whole line: its exact length", function()
        local srv = H.capture()
        finally(function() srv:stop() end)
        local done = false
        local r, err, det = send(srv.port, function()
            if done then return nil end
            done = true
            return "Subject: plain\r\n\r\nok\r\n" .. line_of(5000) .. "\r\nmore\r\n"
        end)
        assert.is_nil(r)
        assert.are.equal("message content has a line of 5000 octets, over the limit of 998 "
            .. "(RFC 5321 4.5.3.1.6)", err)
        assert.are.same({ stage = "body", name = "ELINE_TOO_LONG" }, det)
        H.assert_data_cut(srv)
    end)

    it("999 octets fail; 998 pass, also with a dot doubled in front", function()
        local srv = H.capture()
        finally(function() srv:stop() end)
        local r, err = send(srv.port, ltn12.source.string("Subject: 999\r\n\r\n" .. line_of(999) .. "\r\n"))
        assert.is_nil(r)
        assert.are.equal("message content has a line of 999 octets, over the limit of 998 "
            .. "(RFC 5321 4.5.3.1.6)", err)
        H.assert_data_cut(srv)
        srv:stop()

        srv = H.capture()
        local content = "Subject: 998\r\n\r\n" .. line_of(998) .. "\r\n" .. line_of(998, ".") .. "\r\n"
        r, err = send(srv.port, ltn12.source.string(content))
        assert.is_truthy(r, err)
        local msgs = srv:wait_messages(1)
        assert.are.equal(1, #msgs)
        assert.are.equal(content, msgs[1].data)
    end)

    it("a line split over chunks, with CRLF split too: counted across them", function()
        local srv = H.capture()
        finally(function() srv:stop() end)
        -- 998 octets in chunks of 10, CR and LF in chunks of their own: fine;
        -- then 999 in chunks of 10: refused
        local chunks = { "Subject: split\r\n\r\n" }
        local l998 = line_of(998)
        for i = 1, 998, 10 do chunks[#chunks + 1] = l998:sub(i, i + 9) end
        chunks[#chunks + 1] = "\r"
        chunks[#chunks + 1] = "\n"
        local l999 = line_of(999)
        for i = 1, 999, 10 do chunks[#chunks + 1] = l999:sub(i, i + 9) end
        local i = 0
        local r, err = send(srv.port, function()
            i = i + 1
            return chunks[i]
        end)
        assert.is_nil(r)
        assert.are.equal("message content has a line of at least 999 octets, over the limit of 998 "
            .. "(RFC 5321 4.5.3.1.6)", err)
        H.assert_data_cut(srv)
    end)

    it("s:data of the low-level object: raises the same error, and the server accepts nothing", function()
        local srv = H.capture()
        finally(function() srv:stop() end)
        local r, err, s = H.low_level_data(srv.port, FROM, TO,
            ltn12.source.string("Subject: low\r\n\r\n" .. line_of(1200) .. "\r\n"))
        assert.is_nil(r)
        assert.are.equal("message content has a line of 1200 octets, over the limit of 998 "
            .. "(RFC 5321 4.5.3.1.6)", err)
        assert.are.equal("ELINE_TOO_LONG", s.error and s.error.name)
        H.assert_data_cut(srv)
    end)
end)

describe("issue 9 (3): text that cannot be encoded", function()
    teardown(H.stop_all)

    it("a preamble with a long line: refused before anything is sent, naming it", function()
        local srv = H.capture()
        finally(function() srv:stop() end)
        local mesgt = { body = { preamble = "intro\r\n" .. line_of(2000), { body = "x" } } }
        local c, err = smtp.message(mesgt)()
        assert.is_nil(c)
        assert.are.equal("bad mesgt.body.preamble (a line of 2000 octets, over the limit of 998: "
            .. "RFC 5321 4.5.3.1.6)", err)
        local r, err2 = send(srv.port, smtp.message(mesgt))
        assert.is_nil(r)
        assert.are.equal(err, err2)
        H.assert_not_connected(srv)
    end)

    it("an epilogue of a nested multipart, the same; 998 octets pass", function()
        local _, err = smtp.message{ body = { { body = { epilogue = line_of(1000), { body = "x" } } } } }()
        assert.are.equal("bad mesgt.body[1].body.epilogue (a line of 1000 octets, over the limit of 998: "
            .. "RFC 5321 4.5.3.1.6)", err)
        local text = drain(smtp.message{ body = { preamble = line_of(998), epilogue = line_of(998),
                                                  { body = "x" } } })
        assert.matches(line_of(998), text, 1, true)
    end)

    it("headers are folded to at most 998 octets, or refused before anything is sent", function()
        local dir = H.tmpdir()
        finally(function() H.rmdir(dir) end)
        local path = dir .. "/f.txt"
        H.write_file(path, "attached\r\n")
        local m, e = deliver{
            headers = { subject = line_of(3000), ["x-long"] = ("word "):rep(1000) .. "end" },
            body = { { body = "text\r\n" },
                     { body = smtp.file(path, { filename = ("n"):rep(1500) .. ".txt" }) } },
        }
        assert.is_true(longest_line(m.data) <= 998)
        assert.are.same({}, e.defects)
        assert.are.equal(line_of(3000), (H.header(e, "Subject"):gsub("\r\n", ""))) -- unfolded
        assert.are.equal(("n"):rep(1500) .. ".txt", e.parts[2].filename)

        local srv = H.capture()
        finally(function() srv:stop() end)
        local r, err = send(srv.port, smtp.message{
            headers = { ["message-id"] = "<" .. ("m"):rep(1200) .. "@example.com>" }, body = "x" })
        assert.is_nil(r)
        assert.are.equal("invalid header Message-ID in mesgt: cannot be folded into lines of at most 998 octets",
            err)
        H.assert_not_connected(srv)
    end)
end)

describe("issue 9 (3): smtp.file with encoding = \"auto\"", function()
    it("decides from the whole file: a NUL after the first block gives base64", function()
        local dir = H.tmpdir()
        finally(function() H.rmdir(dir) end)
        local path = dir .. "/late_nul.txt"
        local content = ("plain text line\r\n"):rep(5000) .. "\0" .. "end\r\n"
        H.write_file(path, content)
        local text = drain(smtp.message{ body = smtp.file(path, { encoding = "auto" }) })
        assert.matches("\r\nContent%-Transfer%-Encoding: base64\r\n", text)
        local e = H.parse_email(text)
        assert.are.equal(content, e.payload)
    end)

    it("a long line after the first block gives quoted-printable", function()
        local dir = H.tmpdir()
        finally(function() H.rmdir(dir) end)
        local path = dir .. "/late_long.txt"
        local content = ("plain text line\r\n"):rep(5000) .. line_of(3000) .. "\r\n"
        H.write_file(path, content)
        local text = drain(smtp.message{ body = smtp.file(path, { encoding = "auto" }) })
        assert.matches("\r\nContent%-Transfer%-Encoding: quoted%-printable\r\n", text)
        assert.is_true(longest_line(text) <= 998)
        assert.are.equal(content, H.parse_email(text).payload)
    end)
end)
