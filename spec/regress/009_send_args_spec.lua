-- Issue 9, item 2: smtp.send never raises on its table's content.
--
-- LuaSocket's manual says send returns nil and an error message on
-- failure, but a missing rcpt or from, an empty recipient list, a wrong
-- type or a missing source raised "bad argument #1 to 'send' (field 'rcpt'
-- must be a string or a list, got nil)". Now each returns nil, err,
-- details with an EARG* code and the field, and nothing is connected. Only
-- a mailt that is not a table still raises. The low-level object keeps its
-- contract (it raises LuaSocket exceptions) with the same messages, before
-- any command of the message is sent.
local H = require("helper")
local smtp = require("socket.smtp")
local socket = require("socket")

local FROM, TO = "<a@example.com>", "<b@example.com>"
local function src() return nil end

-- Each case: the fields that differ from a good table, the error, the field
-- and the code.
local cases = {
    { "a missing rcpt", { rcpt = false },
      "invalid rcpt: must be a string or a list of strings, got nil", "rcpt", "EARG" },
    { "a missing from", { from = false },
      "invalid from: must be a string, got nil", "from", "EARG" },
    { "an empty recipient list", { rcpt = {} },
      "invalid rcpt: is an empty list", "rcpt", "EARG_EMPTY" },
    { "a recipient of a wrong type in a list", { rcpt = { TO, 5 } },
      "invalid rcpt[2]: must be a string, got number", "rcpt[2]", "EARG" },
    { "a hole in the recipient list", { rcpt = { TO, nil, "<c@example.com>" } },
      "invalid rcpt[2]: must be a string, got nil", "rcpt[2]", "EARG" },
    { "rcpt of a wrong type", { rcpt = 5 },
      "invalid rcpt: must be a string or a list of strings, got number", "rcpt", "EARG" },
    { "from of a wrong type", { from = { FROM } },
      "invalid from: must be a string, got table", "from", "EARG" },
    -- (s:send raised these two already; smtp.send did not return them)
    { "a missing source", { source = false },
      "invalid source: must be an LTN12 source (a function), got nil", "source", "EARG", "send only" },
    { "a source of a wrong type", { source = "Subject: x\r\n\r\nx\r\n" },
      "invalid source: must be an LTN12 source (a function), got string", "source", "EARG", "send only" },
}

-- Cases only smtp.send has (its other fields).
local send_only = {
    { "user of a wrong type", { user = 5, password = "pw" },
      "invalid user: must be a string, got number", "user", "EARG" },
    { "password of a wrong type", { user = "u", password = 5 },
      "invalid password: must be a string, got number", "password", "EARG" },
    { "insecure_auth of a wrong type", { insecure_auth = "yes" },
      "invalid insecure_auth: must be a boolean, got string", "insecure_auth", "EARG" },
    { "debug of a wrong type", { debug = 5 },
      "invalid debug: must be a function, got number", "debug", "EARG" },
    { "tlspolicy of a wrong type", { tlspolicy = "insecure" },
      "invalid tlspolicy: must be a function, got string", "tlspolicy", "EARG" },
}

local function mailt(extra, more)
    local t = { from = FROM, rcpt = TO, source = src }
    for k, v in pairs(more or {}) do t[k] = v end
    for k, v in pairs(extra) do
        if v == false then t[k] = nil else t[k] = v end
    end
    return t
end

describe("issue 9 (2): smtp.send returns what is wrong with its table", function()
    local srv
    setup(function() srv = H.capture() end)
    teardown(H.stop_all) -- srv among them

    local all = {}
    for _, c in ipairs(cases) do all[#all + 1] = c end
    for _, c in ipairs(send_only) do all[#all + 1] = c end

    for _, c in ipairs(all) do
        it(c[1] .. ": nil, err, details, nothing connected", function()
            local made = 0
            local t = mailt(c[2], {
                server = "127.0.0.1", port = srv.port, domain = "client.test", timeout = 2,
                create = function() made = made + 1; return socket.tcp() end,
            })
            local ok, r, err, det = pcall(smtp.send, t)
            assert.is_true(ok, "raised: " .. tostring(r))
            assert.is_nil(r)
            assert.are.equal(c[3], err)
            assert.are.same({ stage = "argument", field = c[4], name = c[5] }, det)
            assert.are.equal(0, made)
            H.assert_not_connected(srv)
        end)
    end

    it("a mailt that is not a table still raises, as with LuaSocket", function()
        assert.has_error(function() smtp.send() end, "bad argument #1 to 'send' (table expected, got nil)")
        local before = #srv:sessions()
        assert.has_error(function() smtp.send("x") end, "bad argument #1 to 'send' (table expected, got string)")
        H.sleep(0.1)
        assert.are.equal(before, #srv:sessions())
    end)
end)

describe("issue 9 (2): the low-level object raises the same messages", function()
    local srv
    setup(function() srv = H.capture() end)
    teardown(H.stop_all) -- srv among them

    -- Runs f(s) on a fresh session after EHLO: the exception's message,
    -- s.error, and what the client sent on that session.
    local function run(f)
        local s = smtp.open("127.0.0.1", srv.port, nil, { timeout = 2 })
        s:greet("client.test")
        local ok, e = pcall(f, s)
        assert.is_false(ok, "did not raise")
        if type(e) == "table" then e = e[1] end
        pcall(s.close, s)
        H.sleep(0.2)
        local sessions = srv:sessions()
        return e, s.error, sessions[#sessions]
    end

    local lowlevel = {}
    for _, c in ipairs(cases) do
        if not c[6] then lowlevel[#lowlevel + 1] = c end
    end
    for _, c in ipairs(lowlevel) do
        it("s:send with " .. c[1] .. ": raises before MAIL", function()
            local err, det, wire = run(function(s) return s:send(mailt(c[2])) end)
            assert.are.equal(c[3], err)
            assert.are.same({ stage = "argument", field = c[4], name = c[5] }, det)
            assert.are.equal("EHLO client.test\r\nQUIT\r\n", wire)
        end)
    end

    it("s:send with a mailt that is not a table raises a bad argument", function()
        local err, _, wire = run(function(s) return s:send() end)
        assert.matches("bad argument #1 to 'send' %(table expected, got nil%)$", err)
        assert.are.equal("EHLO client.test\r\n", wire)
    end)

    local singles = {
        { "s:mail(nil)", function(s) return s:mail() end, "invalid from: must be a string, got nil", "from" },
        { "s:mail(5)", function(s) return s:mail(5) end, "invalid from: must be a string, got number", "from" },
        { "s:rcpt({})", function(s) return s:rcpt({}) end, "invalid rcpt: must be a string, got table", "rcpt" },
        { "s:plain(nil, pw)", function(s) return s:plain(nil, "pw") end,
          "invalid user: must be a string, got nil", "user" },
        { "s:login(u, nil)", function(s) return s:login("u") end,
          "invalid password: must be a string, got nil", "password" },
    }
    for _, c in ipairs(singles) do
        it(c[1] .. " names the field, sends nothing of it", function()
            local err, det, wire = run(c[2])
            assert.are.equal(c[3], err)
            assert.are.same({ stage = "argument", field = c[4], name = "EARG" }, det)
            assert.are.equal("EHLO client.test\r\nQUIT\r\n", wire)
        end)
    end

    it("smtp.open with a port of a wrong type raises, nothing connected", function()
        local before = #srv:sessions()
        local ok, e = pcall(smtp.open, "127.0.0.1", {})
        assert.is_false(ok)
        if type(e) == "table" then e = e[1] end
        assert.are.equal("invalid port: must be a number, got table", e)
        H.sleep(0.1)
        assert.are.equal(before, #srv:sessions())
    end)
end)
