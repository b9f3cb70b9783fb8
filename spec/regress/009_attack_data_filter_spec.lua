-- Issue 9 attack: the DATA filter's line count, over the wire.
--
-- The C tests cut lines of 997..1000 octets at every position inside the
-- engine. Here the same rule is checked end to end, through the binding
-- (c:body, which holds the tail of each chunk back) and the driver, against
-- aiosmtpd: messages made of lines of 0..2000 octets (some opening with a
-- dot, ended by CRLF, LF, CR, CR CRLF or nothing), cut into chunks of 1 to
-- 100000 octets with empty chunks between. Each send must fail with
-- ELINE_TOO_LONG exactly when a line is over 998 octets (counted before
-- dot-stuffing; a CR or an LF ends a line), and then the server must have
-- nothing; otherwise the server must get the content, line ends made CRLF.
-- No finding: these pass on the code of f613f4b and f0fae66.
local H = require("helper")
local smtp = require("socket.smtp")
local ltn12 = require("ltn12")
local socket = require("socket")

local FROM, TO = "<a@example.com>", "<b@example.com>"

-- A small deterministic generator (the same on every interpreter).
local function lcg(seed)
    local x = seed
    return function(n)
        x = (x * 1103515245 + 12345) % 2147483648
        return x % n + 1
    end
end

local function too_long(s)
    for line in (s .. "\n"):gmatch("([^\r\n]*)[\r\n]") do
        if #line > 998 then return true end
    end
    return false
end

-- What the server stores: every line end CRLF, and a final CRLF.
local function stored(s)
    s = s:gsub("\r\n", "\n"):gsub("\r", "\n"):gsub("\n", "\r\n")
    if s ~= "" and s:sub(-2) ~= "\r\n" then s = s .. "\r\n" end
    return s
end

describe("issue 9 attack: the DATA filter over the wire", function()
    teardown(H.stop_all)

    it("fails exactly on a line over 998 octets, however the content is cut", function()
        local rnd = lcg(9)
        local srv = H.capture()
        finally(function() srv:stop() end)
        local lens = { 996, 997, 998, 999, 1000, 0, 1, 50, 2000 }
        local ends = { "\r\n", "\n", "\r", "\r\r\n", "" }
        local sizes = { 1, 2, 3, 997, 998, 999, 4096, 100000 }
        local accepted, refused = 0, 0
        for iter = 1, 60 do
            local parts = { "Subject: cut " .. iter .. "\r\n\r\n" }
            for _ = 1, rnd(6) do
                local n = lens[rnd(#lens)]
                local lead = rnd(10) <= 3 and "." or ""
                parts[#parts + 1] = lead .. ("x"):rep(math.max(0, n - #lead)) .. ends[rnd(#ends)]
            end
            local content = table.concat(parts)
            local chunks, i = {}, 1
            while i <= #content do
                local k = sizes[rnd(#sizes)]
                chunks[#chunks + 1] = content:sub(i, i + k - 1)
                if rnd(10) == 1 then chunks[#chunks + 1] = "" end
                i = i + k
            end
            local j = 0
            local r, err, det = smtp.send{
                from = FROM, rcpt = TO, server = "127.0.0.1", port = srv.port, timeout = 5,
                source = function() j = j + 1; return chunks[j] end,
            }
            if too_long(content) then
                assert.is_nil(r, "message " .. iter .. " has a line over 998 octets")
                assert.are.same({ stage = "body", name = "ELINE_TOO_LONG" }, det, err)
                refused = refused + 1
            else
                assert.is_truthy(r, "message " .. iter .. ": " .. tostring(err))
                accepted = accepted + 1
                local msgs = srv:wait_messages(accepted)
                assert.are.equal(stored(content), msgs[accepted].data, "message " .. iter)
            end
        end
        assert.is_true(accepted >= 10 and refused >= 10, accepted .. " accepted, " .. refused .. " refused")
        H.sleep(0.3)
        assert.are.equal(accepted, #srv:messages())
        -- no session that was refused ever sent the end-of-data marker
        local markers = 0
        for _, wire in ipairs(srv:sessions()) do
            local _, k = wire:gsub("\r\n%.\r\n", "")
            markers = markers + k
        end
        assert.are.equal(accepted, markers)
    end)

    it("the low-level object: after a too long line, no later message reaches the server", function()
        local srv = H.capture()
        finally(function() srv:stop() end)
        local s = smtp.open("127.0.0.1", srv.port, nil, { timeout = 5 })
        s:greet("client.test")
        local send = socket.protect(function(text)
            return s:send{ from = FROM, rcpt = TO, source = ltn12.source.string(text) }
        end)
        assert.is_truthy(send("Subject: 1\r\n\r\nfirst\r\n"))
        local r, err = send("Subject: 2\r\n\r\n" .. ("y"):rep(999))
        assert.is_nil(r)
        assert.are.equal("message content has a line of at least 999 octets, over the limit of 998 "
            .. "(RFC 5321 4.5.3.1.6)", err)
        assert.are.equal("ELINE_TOO_LONG", s.error.name)
        -- the object is closed: every later call fails, nothing more is sent
        for _, call in ipairs({
            function() return send("Subject: 3\r\n\r\nthird\r\n") end,
            socket.protect(function() return s:data(ltn12.source.string("x\r\n")) end),
            socket.protect(function() return s:rset() end),
            socket.protect(function() return s:quit() end),
        }) do
            assert.is_nil((call()))
        end
        s:close()
        s:close()
        H.sleep(0.3)
        local msgs = srv:messages()
        assert.are.equal(1, #msgs)
        assert.are.equal("Subject: 1\r\n\r\nfirst\r\n", msgs[1].data)
        local wire = srv:sessions()[1]
        assert.is_nil(wire:find("third", 1, true))
        assert.is_nil(wire:find("QUIT", 1, true))
        local _, markers = wire:gsub("\r\n%.\r\n", "")
        assert.are.equal(1, markers)
        assert.is_nil(wire:find(("y"):rep(999), 1, true))
    end)
end)
