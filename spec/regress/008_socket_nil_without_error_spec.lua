-- Issue 8, finding 11: a socket that returns nil with no error.
--
-- A `create` socket whose receive returned nil without an error made
-- smtp.send return nil, nil: a failure nobody could print. Every socket
-- call that fails without saying why is now reported as such, with the
-- call named, and other odd returns (not a string, more bytes than asked
-- for) are named too. The connection is closed once.
local H = require("helper")
local smtp = require("socket.smtp")
local socket = require("socket")
local R = require("support.regress8")

local FROM, TO = "<a@example.com>", "<b@example.com>"

-- A generic socket over a real tcp one; `odd` = { method = name, call = n,
-- ret = { values } } makes the n-th call of that method return `ret`.
local function wrapped(odd, log)
    local names = { "connect", "settimeout", "send", "receive", "close" }
    if odd.any then names[#names + 1] = "receiveany" end
    return R.odd_socket(names, odd, log)
end

local function send(port, odd, log)
    return smtp.send{
        from = FROM, rcpt = TO, server = "127.0.0.1", port = port, domain = "client.test", timeout = 2,
        create = function() return wrapped(odd, log) end,
        source = smtp.message{ headers = { subject = "x" }, body = "hello\r\n" },
    }
end

describe("issue 8 (11): a socket that says nil without an error", function()
    teardown(H.stop_all)

    local cases = {
        { "receive returns nil", { method = "receive", ret = {} },
          "socket receive returned nil without an error", "ESOCKET", "greeting" },
        { "receiveany returns nil", { method = "receiveany", ret = {}, any = true },
          "socket receiveany returned nil without an error", "ESOCKET", "greeting" },
        { "send returns nil", { method = "send", ret = {} },
          "socket send returned nil without an error", "ESOCKET", "ehlo" },
        { "connect returns nil", { method = "connect", ret = {} },
          "socket connect returned nil without an error", "ECONNECT", "connect" },
        { "receive returns a number", { method = "receive", ret = { 250 } },
          "socket receive returned a number (string expected)", "ESOCKET", "greeting" },
        { "receive returns more than the one byte asked for", { method = "receive", ret = { "220 hi\r\n" } },
          "socket receive(1) returned 8 bytes", "ESOCKET", "greeting" },
        { "receive returns an empty string", { method = "receive", ret = { "" } },
          "socket receive(1) returned 0 bytes", "ESOCKET", "greeting" },
        { "receiveany returns a table", { method = "receiveany", ret = { {} }, any = true },
          "socket receiveany returned a table (string expected)", "ESOCKET", "greeting" },
    }
    for _, case in ipairs(cases) do
        it(case[1] .. ": nil, err, details, the socket closed", function()
            local srv = H.capture()
            finally(function() srv:stop() end)
            local log = {}
            local r, err, det = send(srv.port, case[2], log)
            assert.is_nil(r)
            assert.are.equal(case[3], err)
            assert.are.equal(case[4], det.name)
            assert.are.equal(case[5], det.stage)
            assert.are.equal(1, log.close)
        end)
    end

    it("create returns nil without an error", function()
        local r, err, det = smtp.send{
            from = FROM, rcpt = TO, server = "127.0.0.1", port = 1,
            create = function() return nil end,
            source = smtp.message{ body = "x" },
        }
        assert.is_nil(r)
        assert.are.equal("create returned nil without an error", err)
        assert.are.equal("ECONNECT", det.name)
    end)

    it("the low-level API raises the same message (through socket.protect)", function()
        local srv = H.capture()
        finally(function() srv:stop() end)
        local log = {}
        local r, err = socket.protect(function()
            local s = smtp.open("127.0.0.1", srv.port, function()
                return wrapped({ method = "receive", ret = {} }, log)
            end)
            return s:greet("client.test")
        end)()
        assert.is_nil(r)
        assert.are.equal("socket receive returned nil without an error", err)
        assert.are.equal(1, log.close)
    end)
end)
