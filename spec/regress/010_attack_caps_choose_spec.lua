-- Issue 10, attack on the client object's new methods (helper E): a
-- hostile caller and a hostile server against c:sasl_choose(forced,
-- have_password, have_token) and c:caps() (now smtp_caps_next), and the
-- AUTH lines smtp_caps reads (every line counts; names separated by
-- spaces, tabs or commas). No finding: these pin what the suite lacked.
-- Contract: wrong argument types raise (an argument error, never a
-- crash); a client before any EHLO offers nothing (c:caps() {}, c:mechs()
-- {}, c:sasl_choose ESASL_NO_MECH); whatever the EHLO holds (many AUTH
-- lines, comma lists, a thousand unknown names, more than the raw caps
-- keep), c:sasl_choose picks only what c:mechs() lists, and for one AUTH
-- line it agrees with core.sasl_choose on that line's text.
local core = require("socket.smtp.core")
local set = require("helper").set

-- Runs the engine's events, feeding `input` as it asks for bytes; stops
-- at "idle", "error", or "read" with nothing left to feed.
local function pump(c, input)
    local last
    while true do
        local ev, a, b = c:next()
        if ev == "read" then
            if #input == 0 then return last end
            local k = math.min(a, #input)
            assert(c:feed(input:sub(1, k)))
            input = input:sub(k + 1)
        elseif ev == "idle" then
            return last
        elseif ev == "error" then
            return { ev, a, b }
        elseif ev == "reply" then
            last = { ev, a, b }
        end
    end
end

-- A client after the greeting and an EHLO answered with `lines` (the
-- extension lines, without codes). Returns it and the last event.
local function after_ehlo(lines)
    local c = core.new()
    assert(c:greeting())
    pump(c, "220 mx.example.com ESMTP\r\n")
    assert(c:ehlo("client.example.com"))
    local t = { "250" .. (#lines > 0 and "-" or " ") .. "mx.example.com" }
    for i, l in ipairs(lines) do t[#t + 1] = (i < #lines and "250-" or "250 ") .. l end
    return c, pump(c, table.concat(t, "\r\n") .. "\r\n")
end

describe("c:sasl_choose and c:caps under attack (issue 10)", function()
    it("wrong argument types raise an argument error", function()
        local c = core.new()
        for _, bad in ipairs({ {}, true, false, function() end, c, io.stdout }) do
            local ok, err = pcall(c.sasl_choose, c, bad, true, true)
            assert.is_false(ok)
            assert.matches("bad argument #2", err)
        end
        -- a number is a string to Lua's string arguments
        local m, _, name = c:sasl_choose(5, true)
        assert.is_nil(m)
        assert.are.equal("ESASL_BAD_MECH", name)
        for _, self in ipairs({ "x", 1, {}, false, core.message({ body = "x" }, {}) }) do
            local ok, err = pcall(c.sasl_choose, self, nil, true)
            assert.is_false(ok)
            assert.matches("socket.smtp.core.client expected", err)
            ok, err = pcall(c.caps, self)
            assert.is_false(ok)
            assert.matches("socket.smtp.core.client expected", err)
        end
        assert.is_false((pcall(c.sasl_choose)))
        assert.is_false((pcall(c.caps)))
    end)

    it("before EHLO nothing is offered", function()
        local c = core.new()
        assert.are.same({}, c:caps())
        assert.are.same({}, c:mechs())
        assert.is_nil(c:has("AUTH"))
        for _, forced in ipairs({ false, "PLAIN" }) do
            local m, msg, name = c:sasl_choose(forced or nil, true, true)
            assert.is_nil(m)
            assert.are.equal("string", type(msg))
            assert.are.equal("ESASL_NO_MECH", name)
        end
        -- and after a one-line EHLO reply (no extensions) still nothing
        c = after_ehlo({})
        assert.are.same({}, c:caps())
        assert.are.same({}, c:mechs())
        assert.are.equal("ESASL_NO_MECH", select(3, c:sasl_choose(nil, true, true)))
    end)

    it("every AUTH line counts, comma and tab lists too; c:caps keeps the first line's words",
       function()
        local c, last = after_ehlo({ "auth login", "AUTH=PLAIN,CRAM-MD5", "SIZE 1000",
                                     "AUTH XOAUTH2\t,, SCRAM-SHA-1" })
        assert.are.same({ "reply", "ehlo", true }, last)
        assert.are.same(set({ "LOGIN", "PLAIN", "CRAM-MD5", "XOAUTH2", "SCRAM-SHA-1" }),
                        set(c:mechs()))
        local caps = c:caps()
        assert.are.equal("1000", caps.SIZE)
        assert.is_string(caps.AUTH)
        assert.are.equal("login", c:has("AUTH")) -- the first AUTH line
        assert.are.equal("SCRAM-SHA-1", c:sasl_choose(nil, true, false))
        assert.are.equal("XOAUTH2", c:sasl_choose(nil, false, true))
        assert.are.equal("LOGIN", c:sasl_choose("LOGIN", true, false))
        assert.are.equal("CRAM-MD5", c:sasl_choose("DIGEST-MD5, CRAM-MD5", true, false))
        assert.are.equal("ESASL_BAD_MECH", select(3, c:sasl_choose("NOPE-X, CRAM-MD5", true, false)))
        local m, _, name = c:sasl_choose("DIGEST-MD5", true, false)
        assert.is_nil(m)
        assert.are.equal("ESASL_NO_MECH", name)
        -- no credentials: nothing usable
        assert.is_nil((c:sasl_choose(nil, false, false)))
    end)

    it("a thousand unknown mechanisms over many lines, past what c:caps keeps", function()
        local names = {}
        for i = 1, 1000 do names[i] = "X" .. i end
        local lines = {}
        for i = 1, 1000, 100 do lines[#lines + 1] = "AUTH " .. table.concat(names, ",", i, i + 99) end
        for i = 1, 60 do lines[#lines + 1] = "AUTH=F" .. i .. " LOGIN" end
        lines[#lines + 1] = "PIPELINING"
        local c, last = after_ehlo(lines)
        assert.are.same({ "reply", "ehlo", true }, last)
        -- the caps text overflowed (2048 bytes): later keywords are lost
        -- there, but the AUTH bits of every line are kept
        assert.are.same({ "LOGIN" }, c:mechs())
        assert.are.equal("LOGIN", c:sasl_choose(nil, true, false))
        assert.are.equal("LOGIN", c:sasl_choose(("PLAIN,"):rep(2000) .. "LOGIN", true, false))
        local n = 0
        for k, v in pairs(c:caps()) do
            n = n + 1
            assert.are.equal("string", type(k))
            assert.are.equal("string", type(v))
        end
        assert.is_true(n >= 1)
        local forced = ("NOPE "):rep(20000)
        local m, _, name = c:sasl_choose(forced, true, true)
        assert.is_nil(m)
        assert.are.equal("ESASL_BAD_MECH", name)
    end)

    it("for one AUTH line, c:sasl_choose agrees with core.sasl_choose on its text", function()
        local offers = { "PLAIN LOGIN", "PLAIN,LOGIN", "login\tcram-md5", "XOAUTH2 OAUTHBEARER PLAIN",
                         "SCRAM-SHA-256 SCRAM-SHA-1 DIGEST-MD5", ",,,", "X-UNKNOWN", "" }
        local forceds = { false, "PLAIN", "LOGIN,PLAIN", "NOPE", "XOAUTH2", "" }
        for _, offer in ipairs(offers) do
            local c = after_ehlo({ "AUTH " .. offer })
            for _, forced in ipairs(forceds) do
                for _, pw in ipairs({ true, false }) do
                    for _, tok in ipairs({ true, false }) do
                        local a = { c:sasl_choose(forced or nil, pw, tok) }
                        local b = { core.sasl_choose(offer, forced or nil, pw, tok) }
                        assert.are.same(b, a, ("offer %q forced %s"):format(offer, tostring(forced)))
                    end
                end
            end
        end
    end)
end)
