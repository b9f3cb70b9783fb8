-- Issue 8, finding 6: a part holds at most 128 header fields, the
-- generated ones included. With 126 to 128 caller headers, the generated
-- headers were silently dropped (Content-Type and its boundary,
-- MIME-Version, Date, Message-ID, Content-Transfer-Encoding): the message
-- went out broken. At 129 the call raised. Contract: up to 128 caller
-- headers and every generated header is still written; 129 is refused
-- with nil, err ("too many headers ... mesgt"), never a raise.
local H = require("helper")
local R = require("support.regress8")
local core = require("socket.smtp.core")

local DEFAULTS = { date = "Mon, 01 Jan 2024 00:00:00 +0000", ["message-id"] = "<count@example.com>" }

local function name(i) return ("X-H-%03d"):format(i) end
local function value(i) return "value " .. i end

local function keyed(n)
    local h = {}
    for i = 1, n do h[name(i)] = value(i) end
    return h
end

local function listed(n)
    local h = {}
    for i = 1, n do h[i] = { name(i), value(i) } end
    return h
end

local function assert_callers(tree, n)
    for i = 1, n do assert.equal(value(i), H.header(tree, name(i)), name(i)) end
end

local function assert_generated(tree)
    assert.truthy(H.header(tree, "Date"), "no Date")
    assert.truthy(H.header(tree, "Message-ID"), "no Message-ID")
    assert.equal("1.0", H.header(tree, "MIME-Version"))
    assert.truthy(H.header(tree, "Content-Type"), "no Content-Type")
end

describe("issue 8 finding 6: 126 to 129 caller headers", function()
    for _, n in ipairs({ 126, 127, 128 }) do
        it(n .. " caller headers, smtp.message, base64 leaf: every generated header is there", function()
            local text = assert(R.generate({ headers = keyed(n), body = "hello\r\n", encoding = "base64" }))
            local tree = H.parse_email(text)
            assert_callers(tree, n)
            assert_generated(tree)
            assert.equal("text/plain", tree.content_type)
            assert.equal("base64", (H.header(tree, "Content-Transfer-Encoding") or ""):lower())
            assert.equal("hello\r\n", tree.payload)
        end)

        it(n .. " caller headers (a list), core.message with date and message-id in defaults", function()
            local text = assert(R.core_generate({ headers = listed(n), body = "hi", encoding = "base64" },
                DEFAULTS))
            local tree = H.parse_email(text)
            assert_callers(tree, n)
            assert_generated(tree)
            assert.equal(DEFAULTS.date, H.header(tree, "Date"))
            assert.equal(DEFAULTS["message-id"], H.header(tree, "Message-ID"))
            assert.equal("base64", (H.header(tree, "Content-Transfer-Encoding") or ""):lower())
            assert.equal("hi", tree.payload)
        end)

        it(n .. " caller headers on a multipart: Content-Type keeps its boundary", function()
            local text = assert(R.generate({ headers = keyed(n), body = { { body = "one" }, { body = "two" } } }))
            local tree = H.parse_email(text)
            assert_callers(tree, n)
            assert_generated(tree)
            assert.is_true(tree.is_multipart)
            assert.truthy(tree.boundary, "no boundary")
            assert.equal(2, #tree.parts)
            assert.equal("one", tree.parts[1].payload)
            assert.equal("two", tree.parts[2].payload)
        end)

        it(n .. " caller headers on a nested base64 part", function()
            local text = assert(R.generate({ body = { { headers = keyed(n), body = "one", encoding = "base64" } } }))
            local tree = H.parse_email(text)
            local part = tree.parts[1]
            assert.truthy(part, "no part")
            assert_callers(part, n)
            assert.equal("text/plain", part.content_type)
            assert.equal("base64", (H.header(part, "Content-Transfer-Encoding") or ""):lower())
            assert.equal("one", part.payload)
        end)
    end

    local function assert_too_many(msg, err)
        assert.is_nil(msg)
        assert.equal("string", type(err))
        assert.truthy(err:find("too many headers", 1, true), err)
        assert.truthy(err:find("mesgt", 1, true), err)
    end

    for _, form in ipairs({ "keyed", "listed" }) do
        local make = form == "keyed" and keyed or listed
        it("129 caller headers (" .. form .. "): smtp.message's source returns nil, err", function()
            assert_too_many(R.generate({ headers = make(129), body = "x" }))
        end)

        it("129 caller headers (" .. form .. "): core.message returns nil, err", function()
            local ok, g, err = pcall(core.message, { headers = make(129), body = "x" }, DEFAULTS)
            assert(ok, "core.message raised: " .. tostring(g))
            assert_too_many(g, err)
        end)

        it("129 caller headers (" .. form .. ") in a nested part: nil, err", function()
            assert_too_many(R.generate({ body = { { body = "a" }, { headers = make(129), body = "x" } } }))
        end)
    end
end)
