-- Issue 8, finding 1: core.verify_host built its error message with a
-- luaL_Buffer while a table of its own sat on the stack above it. Once the
-- text outgrew the buffer's first block, the buffer moved the wrong slot:
-- heap bytes in the message under Lua 5.4 (or a segfault), a segfault under
-- LuaJIT with a 7,000-byte host name. A certificate's SAN names come from
-- the peer, so a server (or a man in the middle) could crash the client.
--
-- Each case runs in a child process: a crash fails the case, not busted.
local H = require("helper")
local R = require("support.regress8")

-- Runs verify_host(host, {dns = names}) in a child; returns ok, msg, code
-- as the child saw them (msg exactly, whatever bytes it holds).
local function verify_in_child(host_expr, names_expr)
    local dir = H.tmpdir()
    local out = R.assert_child(([[
local core = require("socket.smtp.core")
local host, dns = %s, %s
local ok, msg, code = core.verify_host(host, { dns = dns })
local f = assert(io.open(DIR .. "/result", "wb"))
f:write(tostring(ok), "\n", tostring(code), "\n", tostring(msg))
f:close()
-- the same call again after a full collection: still the same answer
collectgarbage("collect")
local ok2, msg2, code2 = core.verify_host(host, { dns = dns })
assert(ok2 == ok and msg2 == msg and code2 == code, "a second call answered differently")
print("CHILD OK")
]]):format(host_expr, names_expr), dir)
    local text = H.read_file(dir .. "/result")
    H.rmdir(dir)
    assert(text, "the child wrote no result:\n" .. out)
    local ok, code, msg = text:match("^([^\n]*)\n([^\n]*)\n(.*)$")
    return ok, msg, code
end

-- The names the message lists after "it holds ", split on ", ".
local function listed_names(msg)
    local list = msg:match('": it holds (.*)$')
    assert(list, "no list of names in: " .. msg:sub(1, 200))
    local names = {}
    for item in (list .. ", "):gmatch("(.-), ") do names[#names + 1] = item end
    return names
end

local function assert_printable(msg)
    local at = msg:find("[^\32-\126]")
    assert(at == nil, ("byte %d of the message is %d (not printable ASCII): %q")
        :format(at or 0, at and msg:byte(at) or 0, msg:sub(1, 120)))
end

-- Names of 251 bytes, each different in its last three characters.
local LONG_NAMES = [[(function(n)
    local t = {}
    for i = 1, n do t[i] = ("a"):rep(248) .. ("%03d"):format(i) end
    return t
end)]]

local function long_name(i) return ("a"):rep(248) .. ("%03d"):format(i) end

-- verify_in_child(host, names) refused with ETLS_HOST and a printable
-- message; returns the message.
local function refused(host, names)
    local ok, msg, code = verify_in_child(host, names)
    assert.equal("nil", ok)
    assert.equal("ETLS_HOST", code)
    assert_printable(msg)
    return msg
end

-- msg lists exactly the first 20 long names, intact.
local function assert_first_20(msg)
    local names = listed_names(msg)
    assert.equal(20, #names)
    for i = 1, 20 do assert.equal("DNS:" .. long_name(i), names[i]) end
end

describe("issue 8 finding 1: verify_host with long names", function()
    it("20 names of 251 bytes: a clean ETLS_HOST message listing each of them", function()
        local msg = refused('"mail.example.com"', LONG_NAMES .. "(20)")
        assert.equal(1, (msg:find('certificate does not match host "', 1, true)))
        assert.truthy(msg:find('certificate does not match host "mail.example.com": it holds DNS:', 1, true))
        assert_first_20(msg)
    end)

    it("40 names: at most 20 of them are listed, the first 20, intact", function()
        local msg = refused('"mail.example.com"', LONG_NAMES .. "(40)")
        assert.equal(1, (msg:find('certificate does not match host "mail.example.com": it holds DNS:',
            1, true)))
        assert_first_20(msg)
        assert.falsy(msg:find(long_name(21), 1, true))
    end)

    it("a 7,000-byte host name (no crash under LuaJIT)", function()
        local msg = refused('("h"):rep(7000)', '{ "a.example", "b.example" }')
        assert.equal(1, (msg:find('certificate does not match host "', 1, true)))
        assert.truthy(msg:find('": it holds DNS:a.example, DNS:b.example', 1, true))
    end)

    it("a 7,000-byte host name and 20 long names", function()
        local msg = refused('("h"):rep(7000) .. ".example.com"', LONG_NAMES .. "(20)")
        assert.equal(1, (msg:find('certificate does not match host "', 1, true)))
        assert_first_20(msg)
    end)

    it("a name longer than 255 bytes is shown cut to 255, unprintable bytes replaced", function()
        local msg = refused('"mail.example.com"',
            '{ ("b"):rep(300), "x\\0\\r\\n\\255y.example", ("c"):rep(251) }')
        local names = listed_names(msg)
        assert.equal(3, #names)
        for i, name in ipairs(names) do
            assert.truthy(#name <= #"DNS:" + 255, "name " .. i .. " shown with " .. #name - 4 .. " bytes")
        end
        assert.equal("DNS:" .. ("b"):rep(255), names[1])
        assert.equal("DNS:" .. ("c"):rep(251), names[3])
        assert.truthy(names[2]:find("^DNS:x.+y%.example$"))
    end)
end)
