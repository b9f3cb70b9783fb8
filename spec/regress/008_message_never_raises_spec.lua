-- Issue 8, finding 11 and "Errors": smtp.message never raises once called.
--
-- Only a mesgt that is not a table raises (as in LuaSocket). What is
-- wrong inside it comes back from the source as nil, err. The Lua side used
-- to raise on its own for a zone that is not a string ("message.lua:26:
-- bad argument #1 to 'match'"), an smtp.DOMAIN that is not a string, and
-- headers tables whose metamethods raise, which it ran while looking for
-- the From address of the Message-ID (the generator reads headers raw,
-- with rawget and next, and so does the Message-ID now).
local smtp = require("socket.smtp")
local R = require("support.regress8")

local drain = R.drain_text

local saved_zone, saved_domain
before_each(function() saved_zone, saved_domain = smtp.ZONE, smtp.DOMAIN end)
after_each(function() smtp.ZONE, smtp.DOMAIN = saved_zone, saved_domain end)

describe("issue 8 (11): smtp.message does not raise after the call", function()
    it("still raises for a mesgt that is not a table, as LuaSocket does", function()
        assert.has_error(function() smtp.message(5) end,
            "bad argument #1 to 'message' (table expected, got number)")
    end)

    it("a zone that is not a string: nil, err", function()
        local text, err = drain(smtp.message{ zone = {}, body = "x" })
        assert.are.equal("", text)
        assert.are.equal("bad mesgt.zone (string expected, got table)", err)
    end)

    it("an smtp.ZONE that is not a string: nil, err naming it", function()
        smtp.ZONE = true
        local _, err = drain(smtp.message{ body = "x" })
        assert.are.equal("bad smtp.ZONE (string expected, got boolean)", err)
    end)

    it("a number zone is written as LuaSocket writes it", function()
        local text, err = drain(smtp.message{ zone = 200, body = "x" })
        assert.is_nil(err)
        assert.matches("\r\nDate: [^\r]* 200\r\n", "\r\n" .. text)
    end)

    it("an smtp.DOMAIN that is not a string: the Message-ID falls back to localhost", function()
        smtp.DOMAIN = {}
        local text, err = drain(smtp.message{ body = "x" })
        assert.is_nil(err)
        assert.matches("\r\nMessage%-ID: <%x+@localhost>\r\n", "\r\n" .. text)
    end)

    it("headers with metamethods that raise: read raw, no metamethod runs", function()
        local calls = 0
        local meta = {
            __index = function() calls = calls + 1; error("__index ran") end,
            __pairs = function() calls = calls + 1; error("__pairs ran") end,
            __len = function() calls = calls + 1; error("__len ran") end,
        }
        local headers = setmetatable({ from = "<me@example.org>", subject = "hi" }, meta)
        local text, err = drain(smtp.message{ headers = headers, body = "x" })
        assert.is_nil(err)
        assert.are.equal(0, calls)
        assert.matches("\r\nMessage%-ID: <%x+@example%.org>\r\n", "\r\n" .. text)
        assert.matches("\r\nSubject: hi\r\n", "\r\n" .. text)
    end)

    it("a list of headers with a raising __index: read raw, as the generator reads it", function()
        local calls = 0
        -- (no From: the whole list is looked through)
        local headers = setmetatable({ { "Subject", "listed" }, { "To", "<you@example.net>" } },
            { __index = function() calls = calls + 1; error("__index ran") end })
        local text, err = drain(smtp.message{ headers = headers, body = "x" })
        assert.is_nil(err)
        assert.are.equal(0, calls)
        assert.matches("\r\nSubject: listed\r\n", "\r\n" .. text)
    end)
end)
