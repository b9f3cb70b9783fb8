-- Issue 8, finding 7: unbounded reads on generic sockets.
--
-- A `create` that returns neither a LuaSocket tcp object nor a cosocket
-- used to be read with receive("*l"), with no bound: a 400 MB line took the
-- client to 822 MB, and the error after it ("more input fed than
-- requested") did not say what was wrong. Generic sockets now get the
-- engine's bound (at most what c:next() asks for, 4 KiB): receiveany(max)
-- when the object has it, else receive(1) a byte at a time up to the end of
-- the line, so the line that never ends is refused as too long after a few
-- KiB, and no read ever waits for bytes the server will not send.
--
-- The sockets here are Lua tables wrapping a real LuaSocket tcp connected
-- to the scripted server on 127.0.0.1. Lua memory is sampled after every
-- socket call: the peak, not just the end state, must stay small.
local H = require("helper")
local smtp = require("socket.smtp")
local socket = require("socket")

local FROM, TO = "<a@example.com>", "<b@example.com>"

-- A LuaSocket-shaped table over a real tcp socket. `with` lists the
-- methods it has (receiveany is built from receive(1) plus a non-blocking
-- read of what is already there, as a cosocket's would behave). Records
-- every receive pattern and the peak of collectgarbage("count").
local function generic(with, log)
    local real = socket.tcp()
    local timeout
    local obj = {}
    local function sample()
        local kb = collectgarbage("count")
        if kb > log.peak then log.peak = kb end
    end
    local impl = {
        connect = function(_, host, port) return real:connect(host, port) end,
        settimeout = function(_, t) timeout = t; return real:settimeout(t) end,
        setoption = function(_, ...) return real:setoption(...) end,
        send = function(_, data) return real:send(data) end,
        close = function() return real:close() end,
        receive = function(_, pattern)
            log.patterns[#log.patterns + 1] = pattern
            local data, err, partial = real:receive(pattern)
            sample()
            return data, err, partial
        end,
        receiveany = function(_, max)
            log.patterns[#log.patterns + 1] = "any " .. max
            local first, err = real:receive(1)
            if not first then sample(); return nil, err end
            real:settimeout(0)
            local rest, _, partial = real:receive(max - 1)
            real:settimeout(timeout)
            sample()
            return first .. (rest or partial or "")
        end,
    }
    for _, name in ipairs(with) do obj[name] = impl[name] end
    return obj
end

local BASIC = { "connect", "settimeout", "setoption", "send", "close", "receive" }
local ANY = { "connect", "settimeout", "setoption", "send", "close", "receiveany" }

local function send(port, methods, log, extra)
    local t = {
        from = FROM, rcpt = TO, server = "127.0.0.1", port = port, domain = "client.test",
        timeout = 2,
        create = function() return generic(methods, log) end,
        source = smtp.message{ headers = { subject = "x" }, body = "hello\r\n" },
    }
    for k, v in pairs(extra or {}) do t[k] = v end
    return smtp.send(t)
end

local function new_log()
    collectgarbage("collect")
    collectgarbage("collect")
    return { patterns = {}, peak = collectgarbage("count") }
end

describe("issue 8 (7): generic sockets read replies with the engine's bound", function()
    teardown(H.stop_all)

    for _, kind in ipairs({ { "receive(1)", BASIC }, { "receiveany(max)", ANY } }) do
        it("a greeting line that never ends is refused after a few KiB (" .. kind[1] .. ")", function()
            local srv = H.scripted({ { send = "220 " }, { flood = 32 * 1024 * 1024 }, { hang = true } })
            finally(function() srv:stop() end)
            local log = new_log()
            local before = log.peak
            local t0 = socket.gettime()
            local r, err, det = send(srv.port, kind[2], log)
            -- the peak of Lua memory while reading: a few KiB, not 32 MiB
            local grew = log.peak - before
            assert.is_true(grew < 1024, ("Lua memory grew by %.0f KiB while reading"):format(grew))
            assert.is_nil(r)
            assert.are.equal("invalid server reply: reply line too long (greeting)", err)
            assert.are.equal("EREPLY_LINE_TOO_LONG", det.name)
            assert.is_true(socket.gettime() - t0 < 1.5, "took " .. (socket.gettime() - t0) .. " s")
            for _, p in ipairs(log.patterns) do
                assert.is_true(p == 1 or p == "any 4096", "asked for " .. tostring(p))
            end
        end)
    end

    it("a 16 MiB reply line with its line end: the bound, not 'more input fed than requested'", function()
        local srv = H.scripted({ { send = "220 " }, { flood = 16 * 1024 * 1024 }, { send = "\r\n" },
                                 { hang = true } })
        finally(function() srv:stop() end)
        local log = new_log()
        local before = log.peak
        local r, err, det = send(srv.port, BASIC, log)
        local grew = log.peak - before
        assert.is_true(grew < 1024, ("Lua memory grew by %.0f KiB while reading"):format(grew))
        assert.is_nil(r)
        assert.are.equal("invalid server reply: reply line too long (greeting)", err)
        assert.are.equal("EREPLY_LINE_TOO_LONG", det.name)
    end)

    for _, kind in ipairs({ { "receive(1)", BASIC }, { "receiveany(max)", ANY } }) do
        it("a whole session works and reads no byte past a reply (" .. kind[1] .. ")", function()
            -- each reply is followed by nothing until the client speaks: a
            -- read that asked for more than the line would wait for the
            -- timeout (2 s) at every reply
            local srv = H.capture()
            finally(function() srv:stop() end)
            local log = new_log()
            local t0 = socket.gettime()
            local r, report = send(srv.port, kind[2], log)
            assert.are.equal(1, r, report)
            assert.is_true(socket.gettime() - t0 < 1.5, "took " .. (socket.gettime() - t0) .. " s")
            local msgs = srv:wait_messages(1)
            assert.are.equal(1, #msgs)
            assert.are.same({ "b@example.com" }, msgs[1].rcpt)
            assert.are.equal("hello\r\n", H.parse_email(msgs[1].data).payload)
            for _, p in ipairs(log.patterns) do
                assert.is_true(p == 1 or p == "any 4096", "asked for " .. tostring(p))
            end
        end)
    end

    it("a reply that dribbles in slower than the timeout allows in total: 'timeout'", function()
        local srv = H.scripted({ { send = "220 a slow greeting that takes long\r\n", split = 1, gap = 0.05 },
                                 { hang = true } })
        finally(function() srv:stop() end)
        local t0 = socket.gettime()
        local r, err, det = send(srv.port, BASIC, new_log(), { timeout = 0.5 })
        assert.is_nil(r)
        assert.are.equal("timeout", err)
        assert.are.equal("ETIMEOUT", det.name)
        assert.is_true(socket.gettime() - t0 < 1.2, "elapsed " .. (socket.gettime() - t0))
    end)
end)
