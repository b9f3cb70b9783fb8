-- Issue 8, finding 9: a number as a header value went through
-- (long long)v, undefined for NaN, +-inf and values >= 2^63 (written as
-- "-nan", "inf" or a wrong number), and Lua 5.4 integers passed through a
-- double (9007199254740993 written as ...992). Contract: NaN and +-inf are
-- refused with nil, err naming the header and "not a finite number";
-- integral values are written in full; integers exactly.
local H = require("helper")
local R = require("support.regress8")

local math_type = rawget(math, "type")
local tointeger = rawget(math, "tointeger")
local maxinteger, mininteger = rawget(math, "maxinteger"), rawget(math, "mininteger")

-- The value the X-Num header is written with (via smtp.message).
local function written(v)
    local text, err = R.generate({ headers = { ["x-num"] = v }, body = "x" })
    assert(text, "the message failed: " .. tostring(err))
    return H.header(H.parse_email(text), "X-Num")
end

local function assert_refused(v)
    for _, form in ipairs({ "keyed", "listed" }) do
        local headers = form == "keyed" and { ["x-num"] = v } or { { "x-num", v } }
        local text, err = R.generate({ headers = headers, body = "x" })
        assert(text == nil, ("%s was written: %s"):format(tostring(v),
            tostring(text and text:match("X%-Num:[^\r\n]*"))))
        assert.equal("string", type(err))
        assert.truthy(err:find("X-Num", 1, true), "the error does not name the header: " .. err)
        assert.truthy(err:find("not a finite number", 1, true), err)
        -- core.message too: nil, err (no raise)
        local cerr = R.core_error({ headers = headers, body = "x" })
        assert.truthy(tostring(cerr):find("not a finite number", 1, true), tostring(cerr))
    end
end

describe("issue 8 finding 9: numbers as header values", function()
    it("NaN is refused, naming the header", function() assert_refused(0 / 0) end)
    it("math.huge is refused, naming the header", function() assert_refused(math.huge) end)
    it("-math.huge is refused, naming the header", function() assert_refused(-math.huge) end)

    it("2^63 (a float) is written 9223372036854775808", function()
        assert.equal("9223372036854775808", written(2 ^ 63))
    end)

    it("-2^63 (a float) is written -9223372036854775808", function()
        assert.equal("-9223372036854775808", written(-(2 ^ 63)))
    end)

    it("2^53 + 2 (a float) is written 9007199254740994", function()
        assert.equal("9007199254740994", written(2 ^ 53 + 2))
    end)

    it("3, -7, 0 and 1.5 are written 3, -7, 0 and 1.5", function()
        assert.equal("3", written(3))
        assert.equal("-7", written(-7))
        assert.equal("0", written(0))
        assert.equal("1.5", written(1.5))
    end)

    -- Lua 5.3+ integers (LuaJIT has doubles only)
    if math_type and math_type(1) == "integer" then
        it("the integer 9007199254740993 is written exactly", function()
            local v = tointeger(9007199254740992) + 1
            assert.equal("integer", math_type(v))
            assert.equal("9007199254740993", written(v))
        end)

        it("math.maxinteger and math.mininteger are written exactly", function()
            assert.equal("9223372036854775807", written(maxinteger))
            assert.equal("-9223372036854775808", written(mininteger))
        end)
    end
end)
