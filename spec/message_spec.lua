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
        local value = h.decoded or h.value
        if name == "content-type" then value = value:gsub(';%s*boundary="[^"]*"', ""):gsub("\r?\n[ \t]", " ") end
        if name == "content-disposition" then
            -- the file name as a reader gets it (plain, RFC 2047 or RFC 2231)
            value = value:match("^%s*([^;%s]+)"):lower() .. "; filename=" .. tostring(node.filename)
        end
        -- Date, X-Mailer and the Message-ID we add legitimately differ
        if name ~= "date" and name ~= "x-mailer" and name ~= "message-id" then
            hs[#hs + 1] = name .. ": " .. value
        end
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
    -- (LuaSocket sends these 8-bit; we send encoded-words; decoded, they are
    -- the same. A non-ASCII file name is not compared: LuaSocket's raw
    -- 8-bit parameter does not survive a parser, see the extension specs.)
    ["non-ASCII headers"] = function()
        return {
            headers = { subject = "Gr\195\188\195\159e aus K\195\182ln \226\128\148 " .. ("und mehr "):rep(10),
                        from = "J\195\188rgen M\195\188ller <j@example.com>" },
            body = { [1] = { headers = { ["content-type"] = "application/pdf",
                                         ["content-disposition"] = 'attachment; filename="report.pdf"' },
                             body = "%PDF" } },
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

    it("passes body source errors through and stays failed", function()
        local src = smtp.message{ body = function() return nil, "read error" end }
        local first = src()
        assert.matches("\r\n\r\n$", first) -- the headers, then the error
        assert.are.same({ nil, "read error" }, { src() })
        assert.are.same({ nil, "read error" }, { src() })
        local n = 0
        src = smtp.message{ body = function()
            n = n + 1
            if n == 1 then return "some text" end
            return nil, "read error"
        end }
        local got = src() .. src()
        assert.matches("\r\n\r\nsome text$", got)
        assert.are.same({ nil, "read error" }, { src() })
    end)
end)

describe("smtp.message extensions", function()
    local function random_bytes(n, seed)
        local t = {}
        local x = seed or 12345
        for i = 1, n do
            x = (x * 1103515245 + 12345) % 2147483648
            t[i] = string.char(math.floor(x / 65536) % 256)
        end
        return table.concat(t)
    end

    it("encodes a part when it says how (base64, quoted-printable, 7bit, 8bit, auto)", function()
        local bin = random_bytes(5000, 1)
        local text = "Caf\195\169 au lait = 3\226\130\172\r\n.leading dot\r\nFrom here\r\ntrailing space \r\n" ..
            ("long line "):rep(30) .. "\r\n"
        local e = H.parse_email(drain(smtp.message{ body = {
            [1] = { body = bin, encoding = "base64" },
            [2] = { headers = { ["content-type"] = "text/plain; charset=utf-8" }, body = text,
                    encoding = "quoted-printable" },
            [3] = { body = "plain ascii\nwith bare LF\n", encoding = "7bit" },
            [4] = { body = ltn12.source.string(bin), encoding = "auto" },
            [5] = { body = "ascii only\r\n", encoding = "auto" },
            [6] = { body = "caf\195\169\r\n", encoding = "8bit" },
        } }))
        assert.are.same({}, e.defects)
        local p = e.parts
        assert.are.equal("base64", H.header(p[1], "Content-Transfer-Encoding"))
        assert.is_true(bin == p[1].payload)
        assert.are.equal("quoted-printable", H.header(p[2], "Content-Transfer-Encoding"))
        assert.are.equal(text, p[2].payload)
        assert.matches("\n=2Eleading dot", p[2].raw_payload) -- dot protected
        assert.matches("\n=46rom here", p[2].raw_payload)    -- "From " protected
        for line in p[2].raw_payload:gmatch("[^\n]*") do assert.is_true(#line <= 77, line) end
        assert.are.equal("7bit", H.header(p[3], "Content-Transfer-Encoding"))
        assert.are.equal("plain ascii\r\nwith bare LF\r\n", p[3].payload)
        assert.are.equal("base64", H.header(p[4], "Content-Transfer-Encoding"))
        assert.is_true(bin == p[4].payload)
        assert.are.equal("7bit", H.header(p[5], "Content-Transfer-Encoding"))
        assert.are.equal("8bit", H.header(p[6], "Content-Transfer-Encoding"))
    end)

    it("reads smtp.file bodies in C, with attachment headers by default", function()
        local dir = H.tmpdir()
        finally(function() H.rmdir(dir) end)
        local bin = random_bytes(300000, 2)
        H.write_file(dir .. "/r\195\169sum\195\169 file.pdf", bin)
        H.write_file(dir .. "/notes.txt", "note\r\n")
        local f1 = assert(smtp.file(dir .. "/r\195\169sum\195\169 file.pdf"))
        local f2 = assert(smtp.file(dir .. "/notes.txt", { content_type = "text/plain", filename = "n.txt",
                                                             encoding = "quoted-printable" }))
        local e = H.parse_email(drain(smtp.message{ body = { [1] = { body = f1 }, [2] = { body = f2 } } }))
        assert.are.same({}, e.defects)
        local a, b = e.parts[1], e.parts[2]
        assert.are.equal("application/octet-stream", a.content_type)
        assert.are.equal("base64", H.header(a, "Content-Transfer-Encoding"))
        assert.are.equal("r\195\169sum\195\169 file.pdf", a.filename)
        assert.is_true(bin == a.payload)
        assert.are.equal("text/plain", b.content_type)
        assert.are.equal("n.txt", b.filename)
        assert.are.equal("note\r\n", b.payload)
        -- a file body can be used again: it is reopened
        local again = H.parse_email(drain(smtp.message{ body = f1 }))
        assert.is_true(bin == again.payload)
    end)

    it("smtp.file of a missing file fails as io.open does", function()
        local f, err = smtp.file("/nonexistent/x.bin")
        assert.is_nil(f)
        assert.are.equal("/nonexistent/x.bin: No such file or directory", err)
    end)

    it("keeps the order of headers given as a list, repeated names included", function()
        local raw = drain(smtp.message{ headers = {
            { "Subject", "list" }, { "x-tag", "one" }, { "X-Tag", "two" }, { "From", "a@example.com" },
        }, body = "x" })
        assert.matches("^Subject: list\r\nX%-Tag: one\r\nX%-Tag: two\r\nFrom: a@example.com\r\n", raw)
        assert.matches("\r\nMIME%-Version: 1%.0\r\n", raw)
    end)

    it("encodes non-ASCII header text (RFC 2047) and display names only", function()
        local subject = "Gr\195\188\195\159e aus K\195\182ln \226\128\148 \230\151\165\230\156\172\232\170\158 " ..
            ("und mehr "):rep(12)
        local raw = drain(smtp.message{ headers = {
            subject = subject,
            from = "J\195\188rgen M\195\188ller <juergen@example.com>",
            to = "\"Bj\195\182rk, G.\" <bjork@example.com>, plain@example.com",
        }, body = "x" })
        local head = raw:match("^(.-\r\n)\r\n")
        assert.is_nil(head:find("[\128-\255]"), "8-bit bytes in the header block")
        for line in head:gmatch("([^\r]*)\r\n") do assert.is_true(#line <= 78, line) end
        local e = H.parse_email(raw)
        assert.are.same({}, e.defects)
        local ok, out = H.sh(H.python .. " -c " .. H.quote([[
import sys, email, email.policy
m = email.message_from_bytes(open(sys.argv[1], "rb").read(), policy=email.policy.default)
sys.stdout.buffer.write(("%s\n%s\n%s\n" % (m["Subject"], m["From"], m["To"])).encode("utf-8"))
]]) .. " " .. (function()
            local dir = H.tmpdir()
            H.write_file(dir .. "/m.eml", raw)
            return dir .. "/m.eml"
        end)())
        assert.is_true(ok, out)
        local s, f, t = out:match("^(.-)\n(.-)\n(.-)\n$")
        assert.are.equal(subject, s)
        assert.are.equal("J\195\188rgen M\195\188ller <juergen@example.com>", f)
        assert.are.equal("\"Bj\195\182rk, G.\" <bjork@example.com>, plain@example.com", t)
        assert.matches("<juergen@example.com>", head, 1, true) -- the address is not encoded
    end)

    it("adds a Message-ID with the sender's domain, unless given", function()
        local a = drain(smtp.message{ headers = { from = "Me <me@mail.example.org>" }, body = "x" })
        local b = drain(smtp.message{ headers = { from = "Me <me@mail.example.org>" }, body = "x" })
        local ida = a:match("\r\nMessage%-ID: (<[^>]+>)\r\n")
        local idb = b:match("\r\nMessage%-ID: (<[^>]+>)\r\n")
        assert.matches("^<%x+@mail%.example%.org>$", ida)
        assert.are_not.equal(ida, idb)
        local c = drain(smtp.message{ headers = { ["message-id"] = "<mine@x>" }, body = "x" })
        assert.matches("\r\nMessage%-ID: <mine@x>\r\n", c)
        assert.are.equal(1, select(2, c:gsub("Message%-ID", "")))
    end)

    it("writes many parts right however their header names, values and bodies repeat", function()
        -- The compiler reuses a header line it wrote before when the same
        -- value string comes again, and copies short bodies into its
        -- program: each part must still carry exactly its own headers and
        -- body. 130 distinct names overflow its cache of prepared names.
        local shared = 'text/plain; charset="us-ascii"'
        local disposition = 'attachment; filename="' .. ("n"):rep(25) .. '.txt"' -- a long string
        local folded = ("word "):rep(30) .. "end" -- folded: never reused as it is
        local sizes = { 0, 1, 2047, 2048, 2049, 16383, 16384, 20000 }
        local parts, want = {}, {}
        for i = 1, 130 do
            local size = sizes[i % #sizes + 1]
            -- lines of 98 octets: a body given no encoding is sent as it is
            -- only while no line is over 998 (issue 9, item 3)
            local lines = (("b"):rep(98) .. "\r\n"):rep(math.floor(size / 100) + 1)
            local body = (string.format("%04d|", i) .. lines):sub(1, size)
            -- equal content in another string object every other part
            local disp = i % 2 == 0 and disposition or disposition:sub(1, 30) .. disposition:sub(31)
            parts[i] = { headers = { ["content-type"] = shared, ["content-disposition"] = disp,
                                     ["x-name-" .. i] = "same", ["x-seq"] = tostring(i % 3),
                                     ["x-long"] = folded } }
            if i % 10 ~= 0 then parts[i].body = body end
            want[i] = { "Content-Type: " .. shared, "Content-Disposition: " .. disposition,
                        "X-Long: " .. folded, "X-Name-" .. i .. ": same", "X-Seq: " .. tostring(i % 3),
                        body = i % 10 ~= 0 and body or "" }
        end
        local e = H.parse_email(drain(smtp.message{ headers = { subject = "many" }, body = parts }))
        assert.are.same({}, e.defects)
        assert.are.equal(#parts, #e.parts)
        for i, p in ipairs(e.parts) do
            local got = {}
            for _, h in ipairs(p.headers) do got[#got + 1] = h.name .. ": " .. h.decoded end
            assert.are.same({ want[i][1], want[i][2], want[i][3], want[i][4], want[i][5] }, got)
            assert.matches("\r\n ", H.header(p, "x-long")) -- it was folded
            assert.are.equal(want[i].body, p.raw_payload, "part " .. i)
        end
    end)

    it("keeps answering nil once the message is complete", function()
        local core = require("socket.smtp.core")
        local g = assert(core.message({ body = { [1] = { body = ("x"):rep(5000) } } }, {}))
        local n = 0
        while g:next() do n = n + 1 end
        assert.is_true(n >= 1)
        for _ = 1, 3 do assert.is_nil(g:next()) end
    end)

    it("refuses header injection in the list form too, emitting nothing", function()
        local src = smtp.message{ headers = { { "Subject", "ok" }, { "X-A", "v\r\nBcc: evil@example.net" } },
                                  body = "x" }
        assert.are.same({ nil, "invalid header X-A in mesgt: CR, LF and NUL are not allowed in a value" }, { src() })
    end)
end)
