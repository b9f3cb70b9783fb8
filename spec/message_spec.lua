-- smtp.message: LuaSocket's message structure, compared with LuaSocket's
-- own smtp.message through Python's email parser, plus what we do better
-- (caller's tables untouched, stable header order, canonical names, Date in
-- its zone, random boundaries, refused header injection).
local H = require("helper")
local smtp = require("socket.smtp")
local socket = require("socket")
local ltn12 = require("ltn12")
local mime = require("mime")

local lsmtp
do
    local ver = H.lua_version == "jit" and "5.1" or H.lua_version
    local saved = socket.smtp
    lsmtp = dofile("/usr/share/lua/" .. ver .. "/socket/smtp.lua")
    socket.smtp = saved
end

local function drain(src)
    local t = {}
    while true do
        local chunk, err = src()
        if chunk == nil then
            assert(err == nil, err)
            break
        end
        t[#t + 1] = chunk
    end
    return table.concat(t)
end

local function deepcopy(v)
    if type(v) ~= "table" then return v end
    local t = {}
    for k, x in pairs(v) do t[k] = deepcopy(x) end
    return t
end

-- The parsed structure, without what legitimately differs (boundaries,
-- Date, X-Mailer), headers sorted by name so order does not matter.
local function shape(node)
    local hs = {}
    for _, h in ipairs(node.headers) do
        local name = h.name:lower()
        local value = h.value
        if name == "content-type" then value = value:gsub(';%s*boundary="[^"]*"', "") end
        if name ~= "date" and name ~= "x-mailer" then hs[#hs + 1] = name .. ": " .. value end
    end
    table.sort(hs)
    local parts = {}
    for i, p in ipairs(node.parts or {}) do parts[i] = shape(p) end
    return { headers = hs, content_type = node.content_type, preamble = node.preamble,
             epilogue = node.epilogue, payload = node.payload, parts = parts, defects = node.defects }
end

-- Each message table is built twice (sources are one-shot): by a factory.
local corpus = {
    ["a string body"] = function()
        return { headers = { subject = "s", to = "x@example.com" }, body = "hello\r\nworld\r\n" }
    end,
    ["no headers, no body"] = function() return {} end,
    ["a source body"] = function()
        return { headers = { subject = "src" },
                 body = ltn12.source.table({ "chunk one\r\n", "", "chunk two\r\n" }) }
    end,
    ["user headers overriding the defaults"] = function()
        return { headers = { ["Content-Type"] = "text/html; charset=utf-8", ["X-Mailer"] = "mine",
                             date = "Tue, 01 Jan 2030 00:00:00 +0000", ["MIME-Version"] = "2.0" },
                 body = "<p>hi</p>" }
    end,
    ["nested multipart with preamble and epilogue"] = function()
        return {
            headers = { subject = "nested", from = "a@example.com" },
            body = {
                preamble = "preamble text",
                [1] = { body = "first part\r\n" },
                [2] = {
                    headers = { ["content-type"] = "multipart/alternative" },
                    body = {
                        [1] = { headers = { ["content-type"] = "text/plain" }, body = "plain\r\n" },
                        [2] = { headers = { ["content-type"] = "text/html" }, body = "<b>html</b>\r\n" },
                    },
                },
                [3] = {
                    headers = { ["content-type"] = 'application/octet-stream; name="b.bin"',
                                ["content-transfer-encoding"] = "base64",
                                ["content-disposition"] = 'attachment; filename="b.bin"' },
                    body = ltn12.source.chain(ltn12.source.string(("\0\1\2\255"):rep(1000)),
                        ltn12.filter.chain(mime.encode("base64"), mime.wrap())),
                },
                epilogue = "epilogue text",
            },
        }
    end,
    ["an unknown header"] = function()
        return { headers = { ["x-custom-header"] = "v", ["x-a-b-c"] = "w" }, body = "x" }
    end,
}

describe("smtp.message", function()
    for name, make in pairs(corpus) do
        it("means what LuaSocket's does: " .. name, function()
            local ours = H.parse_email(drain(smtp.message(make())))
            local theirs = H.parse_email(drain(lsmtp.message(make())))
            assert.are.same(shape(theirs), shape(ours))
            assert.are.same({}, ours.defects)
        end)
    end

    it("never modifies the caller's tables", function()
        local m = corpus["nested multipart with preamble and epilogue"]()
        m.zone = "+0100"
        local before = deepcopy(m)
        drain(smtp.message(m))
        -- sources are consumed, everything else is as it was
        before.body[3].body, m.body[3].body = nil, nil
        assert.are.same(before, m)
    end)

    it("writes headers in a stable order with canonical names", function()
        local function headers_of(raw)
            local block = raw:match("^(.-)\r\n\r\n")
            return (block:gsub("Date: [^\r]*\r\n", ""))
        end
        local m = { headers = { ["x-zeta"] = "1", subject = "s", to = "t@example.com", from = "f@example.com",
                                ["message-id"] = "<1@example.com>", cc = "c@example.com", ["x-alpha"] = "2",
                                ["reply-to"] = "r@example.com", ["content-id"] = "<c>" }, body = "x" }
        local first = headers_of(drain(smtp.message(m)))
        for _ = 1, 5 do assert.are.equal(first, headers_of(drain(smtp.message(m)))) end
        assert.are.equal("From: f@example.com\r\nReply-To: r@example.com\r\nTo: t@example.com\r\n" ..
            "Cc: c@example.com\r\nSubject: s\r\nMessage-ID: <1@example.com>\r\nMIME-Version: 1.0\r\n" ..
            'Content-Type: text/plain; charset="iso-8859-1"\r\nContent-ID: <c>\r\n' ..
            "X-Mailer: " .. smtp._VERSION .. "\r\nX-Alpha: 2\r\nX-Zeta: 1", first)
    end)

    it("labels Date with the zone whose time it carries", function()
        local function epoch(date)
            local d, mon, y, hh, mm, ss, sign, zh, zm =
                date:match("^%a%a%a, (%d%d) (%a%a%a) (%d%d%d%d) (%d%d):(%d%d):(%d%d) ([+-])(%d%d)(%d%d)$")
            local months = { Jan = 1, Feb = 2, Mar = 3, Apr = 4, May = 5, Jun = 6, Jul = 7, Aug = 8,
                             Sep = 9, Oct = 10, Nov = 11, Dec = 12 }
            local yy, mo = tonumber(y), months[mon]
            if mo <= 2 then yy, mo = yy - 1, mo + 12 end
            -- days from the civil calendar (proleptic Gregorian)
            local days = 365 * yy + math.floor(yy / 4) - math.floor(yy / 100) + math.floor(yy / 400)
                + math.floor((153 * (mo - 3) + 2) / 5) + tonumber(d) - 719469
            local off = (tonumber(zh) * 3600 + tonumber(zm) * 60) * (sign == "-" and -1 or 1)
            return days * 86400 + tonumber(hh) * 3600 + tonumber(mm) * 60 + tonumber(ss) - off
        end
        for _, zone in ipairs({ "+0200", "-0530", "+0000", "-0000", "+1245" }) do
            local raw = drain(smtp.message{ zone = zone, body = "x" })
            local date = raw:match("Date: ([^\r]*)\r\n")
            assert.matches(zone:gsub("%+", "%%+") .. "$", date)
            assert.is_true(math.abs(epoch(date) - os.time()) <= 5, zone .. ": " .. date)
        end
        local saved = smtp.ZONE
        smtp.ZONE = "+0300"
        local raw = drain(smtp.message{ body = "x" })
        smtp.ZONE = saved
        assert.matches("Date: [^\r]* %+0300\r\n", raw)
    end)

    it("uses random boundaries that occur in no string body", function()
        local seen = {}
        for _ = 1, 20 do
            local raw = drain(smtp.message{ body = { [1] = { body = "--=_ looks like ours" } } })
            local bd = raw:match('boundary="([^"]+)"')
            assert.is_nil(seen[bd])
            seen[bd] = true
            assert.matches("^=_%x+$", bd)
        end
    end)

    it("refuses header values with CR, LF or NUL before emitting anything", function()
        for _, bad in ipairs({ "a\r\nBcc: x@example.com", "a\nb", "a\rb", "a\0b" }) do
            local src = smtp.message{ body = { [1] = { headers = { subject = bad }, body = "x" } } }
            local chunk, err = src()
            assert.is_nil(chunk)
            assert.are.equal("invalid header Subject in mesgt.body[1]: CR, LF and NUL are not allowed in a value",
                err)
            assert.is_nil((src()))
        end
    end)

    it("passes body source errors through, at once, and stays failed", function()
        local src = smtp.message{ body = function() return nil, "read error" end }
        -- the headers gathered before the failing call are not emitted
        assert.are.same({ nil, "read error" }, { src() })
        assert.are.same({ nil, "read error" }, { src() })
        local n = 0
        src = smtp.message{ body = function()
            n = n + 1
            if n == 1 then return "some text" end
            return nil, "read error"
        end }
        assert.matches("\r\n\r\nsome text$", (src()))
        assert.are.same({ nil, "read error" }, { src() })
    end)
end)
