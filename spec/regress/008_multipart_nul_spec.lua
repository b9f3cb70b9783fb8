-- Issue 8, finding 10: the Content-Type of a multipart part was rebuilt
-- with lua_pushfstring("%s; boundary=..."), which stops at a NUL: a NUL in
-- that value silently cut it, where every other header value with a NUL
-- is refused. Contract: refused with nil, err naming Content-Type; never a
-- truncated value on the wire.
local R = require("support.regress8")

local function assert_refused(mesgt)
    local text, err = R.generate(mesgt)
    assert(text == nil, "the message was made: " .. tostring(text and text:match("[^\r\n]*multipart[^\r\n]*")))
    assert.equal("string", type(err))
    assert.truthy(err:find("Content-Type", 1, true), "the error does not name Content-Type: " .. err)
    -- core.message: nil, err too (no raise, no message)
    local cerr = R.core_error(mesgt)
    assert.truthy(tostring(cerr):find("Content-Type", 1, true), tostring(cerr))
end

describe("issue 8 finding 10: a NUL in a multipart Content-Type", function()
    it("top level: refused with an error naming Content-Type", function()
        assert_refused({ headers = { ["content-type"] = "multipart/mixed\0x" }, body = { { body = "a" } } })
    end)

    it("top level, the header given as a list", function()
        assert_refused({ headers = { { "Content-Type", "multipart/alternative\0; x=y" } },
            body = { { body = "a" }, { body = "b" } } })
    end)

    it("a nested multipart", function()
        assert_refused({ body = { { body = "a" },
            { headers = { ["content-type"] = "multipart/related\0" }, body = { { body = "b" } } } } })
    end)

    it("the same value on a leaf is refused as well (as before)", function()
        assert_refused({ headers = { ["content-type"] = "text/plain\0x" }, body = "a" })
    end)
end)
