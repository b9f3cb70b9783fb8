-- Issue 9, item 6: generic sockets keep the documented timeout.
--
-- With a `create` that returns neither a LuaSocket tcp object nor a
-- cosocket, doc/smtp.md ("Sockets") says what `timeout` means: smtp-native
-- keeps a deadline per network step and checks it before every socket call
-- and between the bytes of a reply; an object with settimeout gets
-- settimeout(timeout) before connect and the step's remaining time before
-- every read and write. An object without settimeout cannot be interrupted:
-- only the checks between calls hold, and a call that blocks lasts as long
-- as the object lets it.
--
-- The objects here are Lua tables wrapping a real LuaSocket tcp connected
-- to the scripted server on 127.0.0.1, whose script stops answering (or
-- reading) at some point.
local H = require("helper")
local smtp = require("socket.smtp")
local socket = require("socket")

local FROM, TO = "<a@example.com>", "<b@example.com>"

-- A generic socket over socket.tcp(). With `own` (seconds) it has no
-- settimeout method and uses that fixed timeout on every call instead.
-- log.settimeout collects the values it was given.
local function generic(log, own)
    local real = socket.tcp()
    local obj = {
        connect = function(_, host, port) return real:connect(host, port) end,
        send = function(_, data) return real:send(data) end,
        receive = function(_, pattern) return real:receive(pattern) end,
        close = function() return real:close() end,
    }
    if own then
        real:settimeout(own)
    else
        obj.settimeout = function(_, t)
            log.settimeout[#log.settimeout + 1] = t
            return real:settimeout(t)
        end
    end
    return obj
end

local function hello(rest)
    local script = {
        { send = "220 mx.example.com ESMTP\r\n" },
        { expect = "EHLO" }, { send = "250-mx.example.com\r\n250 8BITMIME\r\n" },
    }
    for _, s in ipairs(rest) do script[#script + 1] = s end
    return script
end

local function send(port, timeout, create, body)
    local t0 = socket.gettime()
    local r, err, det = smtp.send{
        from = FROM, rcpt = TO, server = "127.0.0.1", port = port, domain = "client.test",
        timeout = timeout, create = create,
        source = smtp.message{ headers = { subject = "t" }, body = body or "hello\r\n" },
    }
    return r, err, det, socket.gettime() - t0
end

describe("issue 9 (6): generic sockets and the timeout", function()
    it("with settimeout: a server that stops answering gives \"timeout\" after about the timeout", function()
        local srv = H.scripted(hello({ { expect = "MAIL FROM:" }, { hang = true } }))
        local log = { settimeout = {} }
        local r, err, det, took = send(srv.port, 1, function() return generic(log) end)
        srv:assert_clean()
        srv:stop()
        assert.is_nil(r)
        assert.are.equal("timeout", err)
        assert.are.equal("ETIMEOUT", det.name)
        assert.are.equal("mail", det.stage)
        assert.is_true(took >= 0.9 and took < 2, "took " .. took .. " s")
        -- settimeout(timeout) before connect, then the remaining time of
        -- each step: never more than the timeout
        assert.are.equal(1, log.settimeout[1])
        for _, t in ipairs(log.settimeout) do assert.is_true(t > 0 and t <= 1, tostring(t)) end
    end)

    it("with settimeout: a server that stops reading the content gives \"timeout\" after about the timeout",
        function()
            -- 8 MiB of content; the server reads none of it and never closes
            local srv = H.scripted(hello({
                { expect = "MAIL FROM:" }, { send = "250 ok\r\n" },
                { expect = "RCPT TO:" }, { send = "250 ok\r\n" },
                { expect = "DATA" }, { send = "354 go\r\n" },
                { sleep = 4 },
            }))
            local log = { settimeout = {} }
            local big = string.rep(string.rep("y", 78) .. "\r\n", 104858)
            local r, err, det, took = send(srv.port, 1, function() return generic(log) end, big)
            srv:stop()
            assert.is_nil(r)
            assert.are.equal("timeout", err)
            assert.are.equal("ETIMEOUT", det.name)
            assert.are.equal("body", det.stage)
            assert.is_nil(det.socket_error)
            assert.is_true(took >= 0.9 and took < 2, "took " .. took .. " s")
        end)

    it("without settimeout: a reply that dribbles in still ends in \"timeout\" at about the timeout",
        function()
            -- one byte every 0.2 s: each call of the object returns in time
            -- (its own timeout is 1 s), the step as a whole does not
            local srv = H.scripted({
                { send = "220 mx.example.com ESMTP a greeting that takes a while\r\n", split = 1, gap = 0.2 },
            })
            local r, err, det, took = send(srv.port, 1, function() return generic(nil, 1) end)
            srv:stop()
            assert.is_nil(r)
            assert.are.equal("timeout", err)
            assert.are.equal("greeting", det.stage)
            assert.is_true(took >= 0.9 and took < 1.6, "took " .. took .. " s")
        end)

    it("without settimeout: a call that blocks lasts as long as the object lets it (documented)", function()
        -- the object's own timeout is 2 s, smtp-native's 0.5 s: the silent
        -- greeting is waited for 2 s, then the deadline says "timeout"
        local srv = H.scripted({ { hang = true } })
        local r, err, _, took = send(srv.port, 0.5, function() return generic(nil, 2) end)
        srv:stop()
        assert.is_nil(r)
        assert.are.equal("timeout", err)
        assert.is_true(took >= 1.9 and took < 3, "took " .. took .. " s")
    end)
end)
