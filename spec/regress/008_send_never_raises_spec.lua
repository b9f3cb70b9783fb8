-- Issue 8, "Errors": smtp.send never raises on a bad chunk, table or socket
-- once the call has started.
--
-- A sweep: a socket (from `create`) that answers one of its calls with a
-- value it should not (nil and no error, a number, a table, "", false),
-- at several points of the session, and sources that give a bad value at
-- several points of the content. Each send returns nil, err, details: err
-- is a string about the value and never one of our file names and line
-- numbers, details.name is a code, and the socket is closed exactly once.
-- No message is ever delivered cut short.
local H = require("helper")
local smtp = require("socket.smtp")
local R = require("support.regress8")

local FROM, TO = "<a@example.com>", "<b@example.com>"

-- A socket whose odd.call-th call of odd.method returns odd.ret; the real
-- call is made; its result is replaced by the odd one.
local function hostile(odd, log)
    return R.odd_socket({ "connect", "settimeout", "setoption", "send", "receive", "close" }, odd, log, true)
end

local function check_failure(what, ok, r, err, det)
    assert.is_true(ok, what .. " raised: " .. tostring(r))
    if r == 1 then return end -- the odd value came where it did no harm
    assert.is_nil(r, what)
    assert.is_string(err, what .. ": err is " .. type(err))
    assert.is_nil(err:find("%.lua:%d+"), what .. ": " .. err)
    assert.is_table(det, what)
    assert.is_string(det.name, what)
end

describe("issue 8: smtp.send returns what goes wrong, never raises", function()
    local srv
    setup(function() srv = H.capture() end)
    teardown(H.stop_all) -- srv among them

    local odd_values = {
        { "nil", {} }, { "a number", { 5 } }, { "a table", { {} } },
        { "an empty string", { "" } }, { "false", { false } }, { "nil and a table", { nil, {} } },
    }

    it("a socket that answers one call oddly, anywhere in the session", function()
        local sessions = 0
        for _, m in ipairs({ { "connect", { 1 } }, { "send", { 1, 2, 3, 4, 5 } },
                             { "receive", { 1, 5, 60, 120, 200 } } }) do
            for _, call in ipairs(m[2]) do
                for _, v in ipairs(odd_values) do
                    local what = ("%s call %d returns %s"):format(m[1], call, v[1])
                    local log = {}
                    local ok, r, err, det = pcall(smtp.send, {
                        from = FROM, rcpt = TO, server = "127.0.0.1", port = srv.port,
                        domain = "client.test", timeout = 2,
                        create = function() return hostile({ method = m[1], call = call, ret = v[2] }, log) end,
                        source = smtp.message{ headers = { subject = what }, body = "whole\r\n" },
                    })
                    check_failure(what, ok, r, err, det)
                    assert.are.equal(1, log.close, what .. ": closed " .. tostring(log.close) .. " times")
                    sessions = sessions + 1
                end
            end
        end
        -- whatever was delivered was delivered whole
        H.sleep(0.2)
        for _, msg in ipairs(srv:messages()) do
            assert.matches("\r\n\r\nwhole\r\n$", msg.data)
        end
        assert.is_true(sessions > 60)
    end)

    it("sources and steps that give an odd value at any point of the content", function()
        local before = #srv:messages()
        local bad = { 5, {}, true, false, print }
        for at = 1, 4 do
            for _, v in ipairs(bad) do
                local what = ("chunk %d is a %s"):format(at, type(v))
                local n = 0
                local src = function()
                    n = n + 1
                    if n == at then return v end
                    if n == 1 then return "Subject: cut\r\n\r\n" end
                    if n < 6 then return "line " .. n .. "\r\n" end
                    return nil
                end
                local ok, r, err, det = pcall(smtp.send, {
                    from = FROM, rcpt = TO, server = "127.0.0.1", port = srv.port,
                    domain = "client.test", timeout = 2, source = src,
                })
                check_failure(what, ok, r, err, det)
                assert.is_nil(r, what)
                assert.are.equal(("bad chunk from source (string or nil expected, got %s)"):format(type(v)), err)
                -- the same value from a body source of smtp.message
                n = 0
                ok, r, err, det = pcall(smtp.send, {
                    from = FROM, rcpt = TO, server = "127.0.0.1", port = srv.port,
                    domain = "client.test", timeout = 2,
                    source = smtp.message{ headers = { subject = "cut" }, body = src },
                })
                check_failure(what, ok, r, err, det)
                assert.is_nil(r, what)
                assert.are.equal(("bad chunk from mesgt.body (string or nil expected, got %s)"):format(type(v)),
                    err)
            end
        end
        H.sleep(0.2)
        assert.are.equal(before, #srv:messages()) -- nothing cut short was accepted
    end)
end)
