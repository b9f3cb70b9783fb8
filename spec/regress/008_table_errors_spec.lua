-- Issue 8, finding 11 (the C binding's part): a preamble or epilogue that
-- is not a string gave "bad argument #-1 to 'socket.smtp.core.message'",
-- and a body of a wrong type raised out of smtp.message. Contract: such
-- tables give nil, err with a message about the caller's value (naming the
-- field, e.g. "mesgt.preamble ... string expected"), never "bad argument
-- #-1"; smtp.message's source returns them, it does not raise.
local R = require("support.regress8")
local core = require("socket.smtp.core")

local function assert_error(mesgt, needles)
    local text, err = R.generate(mesgt)
    assert(text == nil, "the message was made")
    assert.equal("string", type(err))
    assert.falsy(err:find("bad argument #-1", 1, true), err)
    assert.falsy(err:find("%.lua:%d+:"), "the error names our code: " .. err)
    for _, needle in ipairs(needles) do
        if type(needle) == "table" then
            local found = false
            for _, alt in ipairs(needle) do found = found or err:find(alt, 1, true) ~= nil end
            assert(found, "none of " .. table.concat(needle, " | ") .. " in: " .. err)
        else
            assert.truthy(err:find(needle, 1, true), "no " .. needle .. " in: " .. err)
        end
    end
    -- core.message: nil, err or a raise, about the caller's value either way
    local ok, g, cerr = pcall(core.message, mesgt, {})
    if ok then
        assert.is_nil(g)
        err = cerr
    else
        err = g
    end
    err = tostring(err)
    assert.falsy(err:find("bad argument #-1", 1, true), err)
    assert.truthy(err:find("mesgt", 1, true), err)
end

-- Where a multipart's preamble lives: mesgt.body.preamble, and the error
-- names it so.
local function where(part, field)
    return { part .. ".body." .. field }
end

describe("issue 8 finding 11: bad values in the message table give nil, err", function()
    it("preamble = {}: nil, err naming mesgt.body.preamble, string expected", function()
        assert_error({ body = { preamble = {}, { body = "a" } } }, { where("mesgt", "preamble"), "string expected" })
    end)

    it("epilogue = {}: nil, err naming mesgt.body.epilogue, string expected", function()
        assert_error({ body = { epilogue = {}, { body = "a" } } }, { where("mesgt", "epilogue"), "string expected" })
    end)

    it("preamble = true in a nested multipart", function()
        assert_error({ body = { { body = "a" }, { body = { preamble = true, { body = "b" } } } } },
            { where("mesgt.body[2]", "preamble"), "string expected" })
    end)

    it("a boolean body: nil, err naming mesgt.body", function()
        assert_error({ body = true }, { "mesgt.body" })
    end)

    it("a boolean body in a part: nil, err naming mesgt.body[2].body", function()
        assert_error({ body = { { body = "a" }, { body = false } } }, { "mesgt.body[2].body" })
    end)
end)
