-- Issue 8, finding 11: a chunk that is not a string.
--
-- A body source of smtp.message that returned a number or a table raised
-- "message.lua:100: bad argument #1 to 'feed'"; a bad chunk from the
-- `source` or `step` given to smtp.send raised in the middle of DATA and
-- left the connection open without QUIT (and a number was even sent, as
-- its digits). Now each one is a failure of the source, returned as
-- nil, err, details, with a message about the caller's value. Once DATA
-- has begun, the end-of-data marker would make the server accept a
-- truncated message, so the connection is closed without it (as for a
-- source that fails with nil, err); QUIT cannot be said inside DATA either.
local H = require("helper")
local smtp = require("socket.smtp")
local ltn12 = require("ltn12")
local R = require("support.regress8")

local FROM, TO = "<a@example.com>", "<b@example.com>"

local function send(port, extra)
    local t = { from = FROM, rcpt = TO, server = "127.0.0.1", port = port, domain = "client.test" }
    for k, v in pairs(extra) do t[k] = v end
    return smtp.send(t)
end

-- A source: the chunks of `list` in turn (holes are ends).
local function chunks(list)
    local i = 0
    return function()
        i = i + 1
        return list[i]
    end
end

-- The whole output of a message source: text, err.
local drain = R.drain_text

-- The server was given DATA and some content, but no end-of-data marker
-- and no QUIT, and it accepted nothing.
local assert_cut = H.assert_data_cut

describe("issue 8 (11): a body source of smtp.message gives a bad chunk", function()
    it("a number: nil, err naming the part, no raise", function()
        local text, err = drain(smtp.message{ body = chunks({ "one\r\n", 42 }) })
        assert.are.equal("bad chunk from mesgt.body (string or nil expected, got number)", err)
        assert.matches("one\r\n$", text)
    end)

    it("a table, in the second part of a multipart", function()
        local _, err = drain(smtp.message{ body = {
            { body = "first part\r\n" },
            { headers = { ["content-type"] = "text/plain" }, body = chunks({ {} }) },
        } })
        assert.are.equal("bad chunk from mesgt.body[2].body (string or nil expected, got table)", err)
    end)

    it("a boolean, from a source used by two parts: the part cannot be told", function()
        local src = chunks({ true })
        local _, err = drain(smtp.message{ body = { { body = src }, { body = src } } })
        assert.are.equal("bad chunk from a body source (string or nil expected, got boolean)", err)
    end)

    it("the failure sticks: the message source keeps returning it", function()
        local src = smtp.message{ body = chunks({ 1 }) }
        local _, err = drain(src)
        local c, again = src()
        assert.is_nil(c)
        assert.are.equal(err, again)
    end)

    it("through smtp.send: the DATA is cut, no marker, nothing delivered", function()
        local srv = H.capture()
        finally(function() srv:stop() end)
        local r, err, det = send(srv.port, {
            source = smtp.message{ headers = { subject = "cut" }, body = chunks({ "line one\r\n", 7 }) },
        })
        assert.is_nil(r)
        assert.are.equal("bad chunk from mesgt.body (string or nil expected, got number)", err)
        assert.are.same({ stage = "source", name = "ESOURCE" }, det)
        assert_cut(srv)
    end)
end)

describe("issue 8 (11): the source or step given to smtp.send gives a bad chunk", function()
    teardown(H.stop_all)

    it("a number in the middle of the content: not sent as digits, DATA cut", function()
        local srv = H.capture()
        finally(function() srv:stop() end)
        local r, err, det = send(srv.port, { source = chunks({ "Subject: x\r\n\r\nfirst\r\n", 12345 }) })
        assert.is_nil(r)
        assert.are.equal("bad chunk from source (string or nil expected, got number)", err)
        assert.are.same({ stage = "source", field = "source", name = "ESOURCE" }, det)
        local wire = assert_cut(srv)
        assert.is_nil(wire:find("12345", 1, true))
    end)

    it("a table in the middle of the content", function()
        local srv = H.capture()
        finally(function() srv:stop() end)
        local r, err = send(srv.port, { source = chunks({ "Subject: x\r\n\r\nfirst\r\n", {} }) })
        assert.is_nil(r)
        assert.are.equal("bad chunk from source (string or nil expected, got table)", err)
        assert_cut(srv)
    end)

    it("a bad first chunk: refused before connecting", function()
        local srv = H.capture()
        finally(function() srv:stop() end)
        local r, err, det = send(srv.port, { source = chunks({ {} }) })
        assert.is_nil(r)
        assert.are.equal("bad chunk from source (string or nil expected, got table)", err)
        assert.are.equal("ESOURCE", det.name)
        H.assert_not_connected(srv)
    end)

    it("a step that hands the sink a table: DATA cut", function()
        local srv = H.capture()
        finally(function() srv:stop() end)
        local n = 0
        local r, err, det = send(srv.port, {
            source = ltn12.source.string("Subject: x\r\n\r\nbody\r\n"),
            step = function(src, snk)
                n = n + 1
                if n == 2 then return snk({ "not a chunk" }) end
                return ltn12.pump.step(src, snk)
            end,
        })
        assert.is_nil(r)
        assert.are.equal("bad chunk from step (string or nil expected, got table)", err)
        assert.are.same({ stage = "source", field = "step", name = "ESOURCE" }, det)
        assert_cut(srv)
    end)

    it("a step that drops the source's error and ends: no truncated message is delivered", function()
        local srv = H.capture()
        finally(function() srv:stop() end)
        local failing = 0
        local r, err, det = send(srv.port, {
            source = function()
                failing = failing + 1
                if failing == 1 then return "Subject: y\r\n\r\nhalf of it\r\n" end
                return nil, "disk on fire"
            end,
            step = function(src, snk)
                local chunk = src()
                if chunk == nil then return nil end -- the error is dropped
                return snk(chunk)
            end,
        })
        assert.is_nil(r)
        assert.are.equal("disk on fire", err)
        assert.are.same({ stage = "source", name = "ESOURCE" }, det)
        assert_cut(srv)
    end)

    it("a step that is not a function: refused before connecting", function()
        local srv = H.capture()
        finally(function() srv:stop() end)
        local r, err, det = send(srv.port, { source = ltn12.source.string("x"), step = 5 })
        assert.is_nil(r)
        assert.are.equal("invalid step: must be an LTN12 pump step (a function), got number", err)
        assert.are.same({ stage = "argument", field = "step", name = "EARG" }, det)
        H.assert_not_connected(srv)
    end)
end)
