-- Issue 8, finding 5: core.message kept pointers to header names and
-- values, then ran the caller's metamethods (`body`, `encoding`, the
-- `defaults` table) before writing them. A metamethod that drops a header
-- or returns a computed value, followed by a collection: use after free.
-- The name cache was keyed by string address and went stale too: a later
-- part's header came out under a dead part's name. Contract: the message
-- carries the headers as they were when read, intact.
--
-- The messages are made in a child process (a use after free may crash)
-- and checked here with Python's email parser.
local H = require("helper")
local R = require("support.regress8")

local PRELUDE = [[
local core = require("socket.smtp.core")
local smtp = require("socket.smtp")
JUNK = {}
-- A full collection, then fresh strings of many sizes in the freed memory.
local function collect_and_spray()
    collectgarbage("collect")
    collectgarbage("collect")
    for j = 1, 3000 do JUNK[#JUNK + 1] = ("#"):rep(j % 90) .. "!" .. j end
end
local function save(name, text, err)
    local f = assert(io.open(DIR .. "/" .. name, "wb"))
    if text then f:write(text) else f:write("ERROR: " .. tostring(err)) end
    f:close()
end
local function drain(g)
    local parts = {}
    for _ = 1, 1e5 do
        local chunk, src = g:next()
        if chunk == nil then
            if src ~= nil then return nil, src end
            return table.concat(parts)
        end
        if chunk == false then g:feed(src()) else parts[#parts + 1] = chunk end
    end
end
]]

-- Runs code (which calls save("message.eml", text, err)) in a child and
-- returns the parsed message.
local function make(code)
    local dir = H.tmpdir()
    local out = R.assert_child(PRELUDE .. code .. '\nprint("CHILD OK")\n', dir)
    local text = H.read_file(dir .. "/message.eml")
    H.rmdir(dir)
    assert(text, "no message written:\n" .. out)
    assert(not text:find("^ERROR: "), text)
    return H.parse_email(text), text
end

local function keep_name(i) return ("X-Keep-%02d"):format(i) end
local function keep_value(i) return ("value %02d "):format(i) .. ("v"):rep(20 + i) end

-- The 20 X-Keep headers, exactly, and nothing the metamethod added.
local function assert_kept(tree, raw)
    for i = 1, 20 do
        assert.equal(keep_value(i), H.header(tree, keep_name(i)), "header " .. keep_name(i))
    end
    assert.equal("subject " .. ("s"):rep(30), H.header(tree, "Subject"))
    assert.falsy(raw:find("X-New", 1, true), "a header added by the metamethod came out")
    assert.falsy(raw:find("#", 1, true), "bytes of the spray came out")
    assert.equal(0, #tree.defects)
end

-- A part whose `headers` (keyed or listed) is emptied and refilled with
-- fresh strings when `field` is looked up, then collected.
local MUTATING = [[
local function keyed()
    local h = { [("Sub" .. "ject")] = "subject " .. ("s"):rep(30) }
    for i = 1, 20 do h[("X-Keep-%02d"):format(i)] = ("value %02d "):format(i) .. ("v"):rep(20 + i) end
    return h
end
local function listed()
    local h = { { ("Sub" .. "ject"), "subject " .. ("s"):rep(30) } }
    for i = 1, 20 do
        h[#h + 1] = { ("X-Keep-%02d"):format(i), ("value %02d "):format(i) .. ("v"):rep(20 + i) }
    end
    return h
end
local function mutating(headers, field, value)
    return setmetatable({ headers = headers }, { __index = function(_, k)
        if k == field then
            local names = {}
            for name in pairs(headers) do names[#names + 1] = name end
            for _, name in ipairs(names) do headers[name] = nil end
            for i = 1, 20 do
                headers[("X-New-%02d"):format(i)] = ("new %02d "):format(i) .. ("n"):rep(40 + i)
            end
            collect_and_spray()
            return value
        end
        if k == "body" then return "the body\r\n" end
    end })
end
]]

describe("issue 8 finding 5: header strings outlive the caller's metamethods", function()
    for _, form in ipairs({ "keyed", "listed" }) do
        for _, field in ipairs({ "body", "encoding" }) do
            it(("%s headers emptied by the part's __index(%q)"):format(form, field), function()
                local value = field == "body" and '"the body\\r\\n"' or '"quoted-printable"'
                local tree, raw = make(MUTATING .. ([[
local mesgt = mutating(%s(), %q, %s)
local g = assert(core.message(mesgt, {}))
save("message.eml", drain(g))
]]):format(form, field, value))
                assert_kept(tree, raw)
                assert.equal("the body\r\n", tree.payload)
            end)
        end

        it(form .. " headers of a nested part, emptied by its __index, via smtp.message", function()
            local tree, raw = make(MUTATING .. ([[
local mesgt = { body = { { body = "first" }, mutating(%s(), "body", "the body\r\n"), { body = "last" } } }
local src, parts = smtp.message(mesgt), {}
while true do
    local chunk, err = src()
    if chunk == nil then assert(err == nil, err) break end
    parts[#parts + 1] = chunk
end
save("message.eml", table.concat(parts))
]]):format(form))
            assert.equal(3, #tree.parts)
            assert_kept(tree.parts[2], raw)
            assert.equal("the body\r\n", tree.parts[2].payload)
        end)
    end

    it("60 parts with names made at run time: each part has its own header (the name cache)", function()
        local tree, raw = make([[
local parts = {}
for i = 1, 60 do
    parts[i] = setmetatable({}, { __index = function(_, k)
        if k == "headers" then
            -- fresh strings each time: only this table anchors them
            return { [("X-Part-%02d"):format(i)] = ("value-%02d-"):format(i) .. ("p"):rep(i) }
        end
        if k == "body" then
            collect_and_spray()
            return "body " .. i
        end
    end })
end
local g = assert(core.message({ body = parts }, {}))
save("message.eml", drain(g))
]])
        assert.equal(60, #tree.parts)
        assert.falsy(raw:find("#", 1, true), "bytes of the spray came out")
        for i, part in ipairs(tree.parts) do
            local mine = ("X-Part-%02d"):format(i)
            assert.equal(("value-%02d-"):format(i) .. ("p"):rep(i), H.header(part, mine), "part " .. i)
            for _, h in ipairs(part.headers) do
                if h.name:find("^X%-Part%-") then
                    assert.equal(mine, h.name, "part " .. i .. " carries " .. h.name)
                end
            end
            assert.equal("body " .. i, part.payload)
        end
    end)

    it("a defaults table whose __index computes the values and collects", function()
        local tree, raw = make([[
local defaults = setmetatable({}, { __index = function(_, k)
    collect_and_spray()
    local v
    if k == "date" then v = "Mon, 01 Jan 2024 00:00:" .. ("%02d"):format(42) .. " +0000"
    elseif k == "message-id" then v = "<" .. ("%x"):format(0xabcdef) .. ".computed@example.com>"
    elseif k == "x-mailer" then v = "computed mailer " .. ("m"):rep(30)
    end
    collect_and_spray()
    return v
end })
local g = assert(core.message({ headers = { subject = "defaults" }, body = "x" }, defaults))
save("message.eml", drain(g))
]])
        assert.falsy(raw:find("#", 1, true), "bytes of the spray came out")
        assert.equal("Mon, 01 Jan 2024 00:00:42 +0000", H.header(tree, "Date"))
        assert.equal("<abcdef.computed@example.com>", H.header(tree, "Message-ID"))
        assert.equal("computed mailer " .. ("m"):rep(30), H.header(tree, "X-Mailer"))
        assert.equal("defaults", H.header(tree, "Subject"))
    end)
end)
