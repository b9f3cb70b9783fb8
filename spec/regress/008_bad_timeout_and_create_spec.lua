-- Issue 8, finding 11: a bad `timeout` or socket object blamed our code.
--
-- smtp.send with timeout = "x", or a `create` that is not a function or
-- returns something that is not a socket, raised from inside the module
-- ("transport.lua:113: bad argument #1 to 'settimeout'", "attempt to call
-- a nil value (method 'connect')"), and a NaN or negative timeout went on
-- to the socket. They are checked first now: smtp.send returns nil, err,
-- details naming the field, before anything is connected; smtp.open
-- raises the same message, as it raises every failure.
local H = require("helper")
local smtp = require("socket.smtp")
local socket = require("socket")

local FROM, TO = "<a@example.com>", "<b@example.com>"

local function send(port, extra)
    local t = {
        from = FROM, rcpt = TO, server = "127.0.0.1", port = port, domain = "client.test",
        source = smtp.message{ body = "x" },
    }
    for k, v in pairs(extra) do t[k] = v end
    return smtp.send(t)
end

local saved
before_each(function() saved = smtp.TIMEOUT end)
after_each(function() smtp.TIMEOUT = saved end)

describe("issue 8 (11): bad timeout and create values", function()
    local srv
    setup(function() srv = H.capture() end)
    teardown(H.stop_all) -- srv among them

    -- nothing reached the server
    local function none_connected() H.assert_not_connected(srv) end

    local timeouts = {
        { "a string", "5", "got string" },
        { "a table", {}, "got table" },
        { "negative", -1, "got -1" },
        { "zero", 0, "got 0" },
        { "NaN", 0 / 0, "got NaN" },
        { "infinite", math.huge, "got inf" },
    }
    for _, case in ipairs(timeouts) do
        it("timeout " .. case[1] .. ": nil, err naming timeout, nothing connected", function()
            local r, err, det = send(srv.port, { timeout = case[2] })
            assert.is_nil(r)
            assert.are.equal("invalid timeout: must be a positive number of seconds, " .. case[3], err)
            assert.are.same({ stage = "argument", field = "timeout", name = "EARG" }, det)
            none_connected()
        end)
    end

    it("a bad smtp.TIMEOUT is named as such", function()
        smtp.TIMEOUT = "60"
        local r, err, det = send(srv.port, {})
        assert.is_nil(r)
        assert.are.equal("invalid smtp.TIMEOUT: must be a positive number of seconds, got string", err)
        assert.are.equal("smtp.TIMEOUT", det.field)
        none_connected()
    end)

    local creates = {
        { "a number as create", 5, "invalid create: must be a function, got number" },
        { "create returning a number", function() return 5 end,
          "invalid create: it returned a number (a socket object expected)" },
        { "create returning a string", function() return "tcp" end,
          "invalid create: it returned a string (a socket object expected)" },
        { "create returning an empty table", function() return {} end,
          "invalid create: the socket it returned has no connect method" },
        { "a socket without receive", function()
              local real = socket.tcp()
              return { connect = function(_, h, p) return real:connect(h, p) end,
                       send = function(_, d) return real:send(d) end,
                       close = function() return real:close() end }
          end,
          "invalid create: the socket it returned has no receive method" },
        { "a file handle", function() return io.tmpfile() end,
          "invalid create: the socket it returned has no connect method" },
    }
    for _, case in ipairs(creates) do
        it(case[1] .. ": nil, err naming create, nothing connected", function()
            local r, err, det = send(srv.port, { create = case[2] })
            assert.is_nil(r)
            assert.are.equal(case[3], err)
            assert.are.same({ stage = "argument", field = "create", name = "EARG" }, det)
            none_connected()
        end)
    end

    it("server, port and domain of the wrong type: nil, err naming the field", function()
        local cases = {
            { { server = {} }, "invalid server: must be a string, got table", "server" },
            { { port = {} }, "invalid port: must be a number, got table", "port" },
            { { domain = 5 }, "invalid domain: must be a string, got number", "domain" },
            { { auth = { "PLAIN", {} }, user = "u", password = "p" },
              "invalid auth[2]: must be a mechanism name, got table", "auth[2]" },
        }
        for _, case in ipairs(cases) do
            local r, err, det = send(srv.port, case[1])
            assert.is_nil(r)
            assert.are.equal(case[2], err)
            assert.are.same({ stage = "argument", field = case[3], name = "EARG" }, det)
        end
        none_connected()
    end)

    it("smtp.open raises the same messages", function()
        local open = socket.protect(function(create, options)
            return smtp.open("127.0.0.1", srv.port, create, options)
        end)
        local r, err = open(nil, { timeout = -5 })
        assert.is_nil(r)
        assert.are.equal("invalid timeout: must be a positive number of seconds, got -5", err)
        r, err = open(function() return {} end)
        assert.is_nil(r)
        assert.are.equal("invalid create: the socket it returned has no connect method", err)
        r, err = open(42)
        assert.is_nil(r)
        assert.are.equal("invalid create: must be a function, got number", err)
        none_connected()
    end)
end)
