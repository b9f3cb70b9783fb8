-- Issue 10 attack (helper: hostile caller / hostile server) on the binding
-- code changed since 7982e00: the file-body table (lbind_files, lfile.c),
-- the generator (lmime_gen.c, g:next under lbind_guarded), encoding names
-- (lbind_cte), c:next's unguarded read/idle/error events (lsmtp.c).
--
-- Findings (fixed, KNOWN_OPEN = false):
--  1. A file object whose uservalue the debug library replaced by a
--     non-table (debug.setuservalue(f, 42) or nil): file_field,
--     file_take, file_push_error and __tostring (lfile.c) read it with
--     lua_rawgeti as if it were the fields table: SEGV (ASan: SEGV in
--     file_field <- file_leaf <- build_part; file_tostring), or garbage
--     taken for the path ("smtp file (1.1407347903358e-313)").
--  2. A generator whose uservalue (the bodies table) was replaced or
--     edited between two g:next() calls while it was in the middle of a
--     string body: gen_run (lmime_gen.c) took lua_tostring of the current
--     string (G_CUR) as it found it and read G->in_len bytes from it. A
--     shorter string there: an out-of-bounds read of up to 300000 bytes
--     that went out as the message (no error); no string there (the key
--     removed, or the uservalue replaced by a fresh table, which LuaJIT's
--     debug.setfenv allows too): p = NULL, SEGV; a non-table uservalue
--     (5.4): SEGV in lua_rawgeti.
--  3. An encoding name with a NUL byte was refused, but its error showed
--     the name cut at the NUL ('got "base64"' for "base64\0x"), naming a
--     valid encoding as the bad one: lbind_cte now shows the whole value
--     quoted as paths are (lbind_push_shown).
--  4. (open, KNOWN_OPEN_WRITE_LOST) see below.
--  5. A file body whose metatable was replaced (debug.setmetatable) after
--     core.message, or another userdata put in its place in the bodies
--     table: g:next() raised "bad argument #3 to '?' (socket.smtp.core.file
--     expected, got userdata)" from file_take's check, where it is
--     documented to raise only when re-entered; now nil, err.
-- Held (regression cases below): c:next()'s events pushed without the
-- protected call (read, idle, error; write and reply copied first) with
-- finalizers re-entering the client at that moment, or raising (LuaJIT);
-- g:next() retried after finalizer errors on a multipart with files (the
-- same bytes as a clean run); a file body closed, re-classed, emptied or
-- collected by a metamethod during core.message; encoding names that are
-- numbers, tables with __tostring, huge; a userdata of another class as a
-- body; 100000 parts.
local H = require("helper")
local core = require("socket.smtp.core")

local KNOWN_OPEN = false
-- Open finding 4 (lsmtp.c, not fixed here: another helper's file, and
-- older than 7982e00): under LuaJIT a finalizer's error raised by the
-- push of a "write" event escapes c:next() after the engine handed the
-- bytes out; the command is lost (the next c:next() says "read", waiting
-- for the reply to a command never sent). g:next() keeps such a chunk
-- pending (lmime_gen.c push_chunk); c:next() has no such rule. Telling an
-- error escaping the push from a finalizer re-entering during it takes a
-- protected call per event, which the copy-first pushes of 013ad5a
-- removed from the send path; documented as a limit in doc/core.md
-- (c:next) and carried into issue 11, where a message goes through one
-- call and the protected call costs once a message.
local KNOWN_OPEN_WRITE_LOST = true

local JIT_SO = H.root .. "/build/jit/socket/smtp/core.so"

-- Runs code in a child of the interpreter running this spec (its release
-- build: a crash must not take busted down); "CHILD OK" must end its output.
local function child(code, interp)
    local dir = H.tmpdir()
    H.write_file(dir .. "/child.lua", code)
    local cmd
    if interp == "jit" then
        local setup = string.format("package.path=%q..package.path package.cpath=%q..package.cpath",
            H.root .. "/lua/?.lua;", H.root .. "/build/jit/?.so;")
        cmd = "luajit -e " .. H.quote(setup) .. " " .. H.quote(dir .. "/child.lua")
    else
        cmd = H.lua_command(dir .. "/child.lua")
    end
    local ok, out, status = H.sh("cd " .. H.quote(dir) .. " && timeout -s KILL 120 " .. cmd)
    H.rmdir(dir)
    local last = out:match("([^\n]*)\n?$")
    assert(ok and status == 0 and last == "CHILD OK",
        ("child failed (exit status %s%s):\n%s"):format(tostring(status),
            status == 139 and ", SIGSEGV" or "", out))
end

local function have_jit()
    local f = io.open(JIT_SO, "rb")
    if f then f:close() end
    return f ~= nil and H.sh("command -v luajit >/dev/null")
end

-- Whether debug.setuservalue takes any value (5.3, 5.4), not only a table
-- or nil (5.2): probed on a client, whose user value nothing reads.
local function any_uservalue()
    local set = rawget(debug, "setuservalue")
    return set ~= nil and (pcall(set, core.new(), 42))
end

local function body_file()
    local dir = H.tmpdir()
    H.write_file(dir .. "/body.txt", "hello\r\nworld\r\n")
    return dir
end

describe("issue 10 attack: a file object's uservalue replaced (debug.setuservalue)", function()
    for _, case in ipairs({ { "42", "a number" }, { "nil", "nil" }, { "true", "a boolean" } }) do
        for _, enc in ipairs({ "base64", "auto" }) do
            it(("by %s, encoding %s: no crash, an error or the message"):format(case[2], enc), function()
                if KNOWN_OPEN then return pending("open finding 1") end
                if not rawget(debug, "setuservalue") then return pending("no debug.setuservalue") end
                if case[1] ~= "nil" and not any_uservalue() then
                    return pending("this debug.setuservalue takes only a table or nil")
                end
                local dir = body_file()
                child(([[
local core = require("socket.smtp.core")
local function mk() return assert(core.file(%q, { encoding = %q })) end
-- before core.message: refused with nil, err (or raised), never a crash
local f = mk()
debug.setuservalue(f, %s)
assert(type(tostring(f)) == "string")
local ok, g, err = pcall(core.message, { body = f }, {})
assert(not ok or g == nil or type(g) == "userdata", tostring(err))
if ok and g then
    for _ = 1, 100 do local c = g:next() if not c then break end end
end
-- after core.message, before and between g:next(); the file twice (the
-- second reader opens the path again)
f = mk()
g = assert(core.message({ body = { { body = f }, { body = f } } }, {}))
debug.setuservalue(f, %s)
for _ = 1, 100 do
    local okn, c = pcall(g.next, g)
    if not okn or not c then break end
end
assert(type(tostring(f)) == "string")
print("CHILD OK")
]]):format(dir .. "/body.txt", enc, case[1], case[1]))
                H.rmdir(dir)
            end)
        end
    end
end)

describe("issue 10 attack: a file body's metatable replaced after core.message", function()
    it("g:next() fails (nil, err), it does not raise a bad argument", function()
        if KNOWN_OPEN then return pending("open finding 5") end
        local dir = body_file()
        for _, enc in ipairs({ "base64", "auto" }) do
            for _, swap in ipairs({ "metatable", "body" }) do
                local f = assert(core.file(dir .. "/body.txt", { encoding = enc }))
                local g = assert(core.message({ body = { { body = "a" }, { body = f } } }, {}))
                if swap == "metatable" then
                    debug.setmetatable(f, {})
                else -- another userdata in its place in the bodies table
                    local uv = (rawget(debug, "getuservalue") or rawget(debug, "getfenv"))(g)
                    for k, v in pairs(uv) do if v == f then uv[k] = core.new() end end
                end
                local err
                for _ = 1, 100 do
                    local ok, c, e = pcall(g.next, g)
                    assert(ok, ("%s %s: g:next() raised %s"):format(enc, swap, tostring(c)))
                    if c == nil then err = e break end
                end
                assert.truthy(err, "no error")
                assert.are.equal("message generator: a file body is no longer a file", err)
            end
        end
        H.rmdir(dir)
    end)
end)

describe("issue 10 attack: a file body changed by a metamethod during core.message", function()
    it("closed, its metatable or uservalue replaced, a collection: nil, err or the message", function()
        local dir = body_file()
        local setuv = rawget(debug, "setuservalue") or rawget(debug, "setfenv")
        for _, act in ipairs({ "close", "mt", "uv", "gc" }) do
            -- at the first field looked up after the body (none but the
            -- body is there), or at a given one
            for _, key in ipairs({ "any", "encoding", "headers" }) do
                local f = assert(core.file(dir .. "/body.txt", { encoding = "auto" }))
                local done = false
                local mesgt = setmetatable({ body = f }, { __index = function(_, k)
                    if done or (key ~= "any" and k ~= key) then return end
                    done = true
                    if act == "close" then f:close()
                    elseif act == "mt" then debug.setmetatable(f, nil)
                    elseif act == "uv" then setuv(f, {})
                    else collectgarbage() end
                end })
                local ok, g, err = pcall(core.message, mesgt, {})
                assert(ok, ("%s in __index(%s): core.message raised %s"):format(act, key, tostring(g)))
                if act == "mt" then
                    assert.is_nil(g)
                    assert.are.equal("bad mesgt.body (string, function, table or smtp.file expected, "
                                     .. "got userdata)", err)
                else
                    assert(g, err)
                    local t = {}
                    for c in function() return g:next() end do t[#t + 1] = c end
                    local text = table.concat(t)
                    -- the body (7bit by auto), or for a path gone a failure
                    assert.truthy(text:find("\r\nhello\r\nworld\r\n", 1, true), act .. " " .. key)
                end
            end
        end
        H.rmdir(dir)
    end)
end)

-- The generator in the middle of a string body (base64 of 300000 bytes:
-- the first g:next() returns while the string is half fed).
local GEN_CUR = [[
local core = require("socket.smtp.core")
local getuv = debug.getuservalue or debug.getfenv
local setuv = debug.setuservalue or debug.setfenv
local mesgt = { body = ("x"):rep(300000), encoding = "base64" }
local function whole()
    local g, t = assert(core.message(mesgt, {})), {}
    for c in function() return g:next() end do t[#t + 1] = c end
    return table.concat(t)
end
local clean = whole()
local g = assert(core.message(mesgt, {}))
local got = { assert(g:next()) }
TAMPER
local err
for _ = 1, 1000 do
    local ok, c, e = pcall(g.next, g)
    if not ok then err = c break end
    if c == nil then err = e break end
    got[#got + 1] = c
end
local text = table.concat(got)
assert(err ~= nil, "g:next() went on with a body it no longer holds (" .. #text .. " bytes, "
    .. (text == clean and "as" or "not as") .. " a clean run)")
print("CHILD OK")
]]

describe("issue 10 attack: a generator's bodies table tampered with mid-body", function()
    local cases = {
        { "its current string swapped for a shorter one", "getuv(g)[-1] = 'y'" },
        { "its current string removed", "getuv(g)[-1] = nil" },
        { "its uservalue replaced by a fresh table", "setuv(g, {})" },
    }
    for _, case in ipairs(cases) do
        it(case[1] .. ": an error, no out-of-bounds read", function()
            if KNOWN_OPEN then return pending("open finding 2") end
            child((GEN_CUR:gsub("TAMPER", function() return case[2] end)))
        end)
        it("LuaJIT: " .. case[1] .. ": an error, no out-of-bounds read", function()
            if KNOWN_OPEN then return pending("open finding 2") end
            if not have_jit() then return pending("no luajit or no build/jit") end
            child((GEN_CUR:gsub("TAMPER", function() return case[2] end)), "jit")
        end)
    end
    it("its uservalue replaced by a number: an error, no crash", function()
        if KNOWN_OPEN then return pending("open finding 2") end
        if not any_uservalue() then return pending("no debug.setuservalue taking a number") end
        child((GEN_CUR:gsub("TAMPER", function() return "debug.setuservalue(g, 42)" end)))
    end)
end)

describe("issue 10 attack: encoding names", function()
    local ENC = '("base64", "quoted-printable", "7bit", "8bit" or "auto" expected, got '
    it("a NUL byte in the name: refused, and the error shows the whole name", function()
        if KNOWN_OPEN then return pending("open finding 3") end
        local g, err, name = core.message({ body = "x", encoding = "base64\0x" }, {})
        assert.is_nil(g)
        assert.are.equal("bad mesgt.encoding " .. ENC .. '"base64\\x00x")', err)
        assert.are.equal("EMSG_ENCODING", name)
        local ok, e = pcall(core.file, "/nonexistent-" .. tostring({}), { encoding = "7bit\0" })
        assert.is_false(ok)
        assert.truthy(tostring(e):find("bad option 'encoding' " .. ENC .. '"7bit\\x00")', 1, true),
                      tostring(e))
    end)

    it("numbers, tables with __tostring, huge strings: refused by type or name", function()
        local tbl = setmetatable({}, { __tostring = function() return "base64" end })
        for _, v in ipairs({ 7, 64, tbl, true }) do
            local g, err, name = core.message({ body = "x", encoding = v }, {})
            assert.is_nil(g)
            assert.are.equal("bad mesgt.encoding " .. ENC .. type(v) .. ")", err)
            assert.are.equal("EMSG_ENCODING", name)
        end
        local g, err = core.message({ body = "x", encoding = ("base64"):rep(200000) }, {})
        assert.is_nil(g)
        assert.truthy(err:find("bad mesgt.encoding", 1, true))
        for _, v in ipairs({ "Base64", "base64 ", " 7bit", "auto\n" }) do
            assert.is_nil((core.message({ body = "x", encoding = v }, {})))
        end
    end)
end)

describe("issue 10 attack: bodies of another class, huge multiparts", function()
    it("a userdata of another class (a client, a generator, a file handle) is no body", function()
        local g0 = assert(core.message({ body = "x" }, {}))
        for _, u in ipairs({ core.new(), g0, io.stdout }) do
            local g, err, name = core.message({ body = u }, {})
            assert.is_nil(g)
            assert.are.equal("bad mesgt.body (string, function, table or smtp.file expected, got userdata)",
                             err)
            assert.are.equal("EMSG_TYPE", name)
        end
    end)

    it("100000 parts: built and sent whole", function()
        local parts = {}
        for i = 1, 100000 do parts[i] = { body = "p" .. i } end
        local g = assert(core.message({ body = parts }, {}))
        local n, bodies = 0, 0
        while true do
            local c, err = g:next()
            assert(err == nil, tostring(err))
            if not c then break end
            n = n + #c
            for _ in c:gmatch("\r\np%d+\r\n") do bodies = bodies + 1 end
        end
        assert.is_true(n > 9000000)
        assert.is_true(bodies > 99000, bodies)
    end)
end)

-- c:next() pushes read, idle and error without the protected call: a
-- finalizer run by that push may re-enter the client (it is not busy).
-- The prelude of the re-entry children: a collection at every allocation,
-- and fin, a finalizer that runs action() once when armed.
local ACTION = [[
collectgarbage("setpause", 0)
collectgarbage("setstepmul", 1000)
local core = require("socket.smtp.core")
local armed, action = false, nil
local function fin() if armed then armed = false action() end end
]]
local REENTER = [[
local function proxies(n)
    for _ = 1, n do getmetatable(newproxy(true)).__gc = fin end
end
local function drive(c, input)
    while true do
        local e, a = c:next()
        if e == "read" then
            if #input == 0 then return e, a end
            assert(c:feed(input:sub(1, a)))
            input = input:sub(a + 1)
        elseif e ~= "write" and e ~= "reply" then
            return e, a
        end
    end
end
local hits = { read = 0, idle = 0, error = 0 }
-- read: the finalizer feeds a byte and asks again
for _ = 1, 200 do
    local c = core.new()
    c:greeting()
    local _, w0 = c:next()
    local fired
    action = function() pcall(c.feed, c, "2") pcall(c.next, c) fired = true end
    proxies(50)
    for _ = 1, 200 do
        armed = true
        local e, w = c:next()
        armed = false
        assert(e == "read" and w == w0, ("read event became %s %s"):format(tostring(e), tostring(w)))
        if fired then hits.read = hits.read + 1 break end
    end
    -- the conversation goes on from the byte the finalizer fed
    local e = drive(c, fired and "20 mx\r\n" or "220 mx\r\n")
    assert(e == "idle", tostring(e))
end
-- idle: the finalizer queues a NOOP; error: it asks again and queues
for _, kind in ipairs({ "idle", "error" }) do
    for _ = 1, 200 do
        local c = core.new()
        c:greeting()
        drive(c, kind == "idle" and "220 mx\r\n" or "garbage\r\n")
        local e0, m0 = c:next()
        assert(e0 == kind, e0)
        local fired
        action = function() pcall(c.next, c) pcall(c.noop, c) fired = true end
        proxies(50)
        for _ = 1, 200 do
            armed = true
            local e, m, name = c:next()
            armed = false
            if fired then
                assert(e == kind and m == m0, ("%s event became %s %s"):format(kind, tostring(e), tostring(m)))
                assert(kind == "idle" or type(name) == "string")
                hits[kind] = hits[kind] + 1
                break
            end
        end
        if kind == "idle" and fired then
            local e, bytes = c:next()
            assert(e == "write" and bytes == "NOOP\r\n", tostring(e) .. " " .. tostring(bytes))
        end
    end
end
assert(hits.read > 0 and hits.idle > 0 and hits.error > 0,
       ("finalizers never ran in c:next(): %d %d %d"):format(hits.read, hits.idle, hits.error))
print("CHILD OK")
]]

describe("issue 10 attack: finalizers re-entering the client in c:next()'s unguarded events", function()
    it("LuaJIT: read, idle, error: each call returns its own event; the client goes on", function()
        if not have_jit() then return pending("no luajit or no build/jit") end
        child(ACTION .. REENTER, "jit")
    end)
end)

-- A finalizer raising (LuaJIT) while c:next() pushes an event: the error
-- reaches the caller, and the next c:next() gives that event again.
local RAISE = [[
collectgarbage("setpause", 0)
collectgarbage("setstepmul", 1000)
local core = require("socket.smtp.core")
local KIND = ...
local armed = false
local function fin() if armed then armed = false error("finalizer bug") end end
local function at(kind)
    local c = core.new()
    c:greeting()
    assert(c:next() == "read")
    if kind == "read" then return c end
    assert(c:feed(kind == "error" and "garbage\r\n" or "220 mx\r\n"))
    local e = c:next()
    if kind == "error" then return c end
    assert(e == "reply")
    if kind == "idle" then return c end
    assert(c:noop()) -- write: "NOOP\r\n"
    return c
end
local want = { read = "read 4096", idle = "idle nil", error = "error", write = "write NOOP\r\n" }
local hits = 0
for _ = 1, 2000 do
    local c = at(KIND)
    for _ = 1, 30 do getmetatable(newproxy(true)).__gc = fin end
    -- (read, idle and error come again until something changes: asked
    -- until a finalizer runs inside; a write comes once)
    for _ = 1, KIND == "write" and 1 or 200 do
        armed = true
        local ok, e = pcall(c.next, c)
        armed = false
        if not ok then
            assert(tostring(e):find("finalizer bug", 1, true), tostring(e))
            local e2, a2 = c:next()
            local got = KIND == "error" and e2 or (tostring(e2) .. " " .. tostring(a2))
            assert(got == want[KIND], ("after the error c:next() gave %q, not %q"):format(got, want[KIND]))
            hits = hits + 1
            break
        end
    end
    if hits >= 5 then break end
end
assert(hits > 0, "the finalizer's error never escaped c:next()")
print("CHILD OK")
]]

describe("issue 10 attack: a finalizer's error escaping c:next() (LuaJIT)", function()
    for _, kind in ipairs({ "read", "idle", "error", "write" }) do
        it(kind .. ": the next c:next() gives the same event", function()
            if kind == "write" and KNOWN_OPEN_WRITE_LOST then
                return pending("open finding 4: the write is lost (see the header of this file)")
            end
            if not have_jit() then return pending("no luajit or no build/jit") end
            child("local function f(...)\n" .. RAISE .. "\nend\nf(" .. ("%q"):format(kind) .. ")", "jit")
        end)
    end
end)

-- A write pushed without the protected call (its bytes copied first,
-- lsmtp.c): a finalizer that queues a command and asks c:next() again at
-- that moment (not refused: the mark is cleared) changes nothing the outer
-- call returns, and the session goes on in order.
local WRITE_REENTER = [[
local hits = 0
for _ = 1, 3000 do
    local c = core.new()
    c:greeting(); c:next(); c:feed("220 mx\r\n"); c:next()
    c:ehlo("x"); c:next(); c:next(); c:feed("250-mx\r\n250 PIPELINING\r\n"); c:next()
    assert(c:mail("a@b.c"))
    local inner
    action = function()
        local ok, queued = pcall(c.noop, c)
        if ok and queued then inner = { c:next() } end
    end
    for _ = 1, 20 do getmetatable(newproxy(true)).__gc = fin end
    armed = true
    local e, b = c:next()
    armed = false
    assert(e == "write" and b == "MAIL FROM:<a@b.c>\r\n", tostring(e) .. " " .. tostring(b))
    if inner then
        hits = hits + 1
        -- (PIPELINING: the NOOP goes out at once, to the finalizer)
        assert(inner[1] == "write" and inner[2] == "NOOP\r\n", tostring(inner[1]) .. " " .. tostring(inner[2]))
        assert(c:feed("250 ok\r\n250 fine\r\n"))
        local e2, cmd = c:next()
        assert(e2 == "reply" and cmd == "mail", tostring(e2) .. " " .. tostring(cmd))
        local e3, cmd3 = c:next()
        assert(e3 == "reply" and cmd3 == "noop", tostring(e3) .. " " .. tostring(cmd3))
        assert(c:next() == "idle")
        if hits >= 50 then break end
    end
end
assert(hits > 0, "finalizers never ran in c:next()")
print("CHILD OK")
]]

describe("issue 10 attack: a finalizer re-entering the client while c:next() pushes a write", function()
    it("LuaJIT: the outer call returns its own bytes; the queued command follows in order", function()
        if not have_jit() then return pending("no luajit or no build/jit") end
        child(ACTION .. WRITE_REENTER, "jit")
    end)
end)

-- A reply is copied too before it is pushed: a finalizer that takes the
-- next reply at that moment changes nothing the outer call returns.
local REPLY_REENTER = [[
local hits, clean = 0, nil
local lines = {}
for i = 1, 60 do lines[i] = "250-2.1.0 line " .. i .. (" x"):rep(20) end
lines[61] = "250 2.1.0 last"
local REPLY = table.concat(lines, "\r\n") .. "\r\n"
for _ = 1, 3000 do
    local c = core.new()
    c:greeting(); c:next(); c:feed("220 mx\r\n"); c:next()
    c:ehlo("x"); c:next(); c:next(); c:feed("250-mx\r\n250-ENHANCEDSTATUSCODES\r\n250 PIPELINING\r\n"); c:next()
    assert(c:mail("a@b.c")); assert(c:next() == "write")
    assert(c:noop()); assert(c:next() == "write")
    assert(c:next() == "read")
    assert(c:feed(REPLY .. "550 5.7.1 no\r\n"))
    local inner
    action = function() inner = { c:next() } end
    for _ = 1, 20 do getmetatable(newproxy(true)).__gc = fin end
    armed = true
    local e, cmd, ok, code, text, enh = c:next()
    armed = false
    assert(e == "reply" and cmd == "mail" and ok == true and code == 250 and enh == "2.1.0",
           table.concat({ tostring(e), tostring(cmd), tostring(code), tostring(enh) }, " "))
    clean = clean or text -- (the first client's: finalizers rarely run there)
    assert(text == clean and text:find("line 60", 1, true) and text:find("last", 1, true), text:sub(1, 80))
    if inner then
        hits = hits + 1
        assert(inner[1] == "reply" and inner[2] == "noop" and inner[4] == 550 and inner[6] == "5.7.1",
               tostring(inner[1]) .. " " .. tostring(inner[2]))
    else
        local e2, c2, _, code2 = c:next()
        assert(e2 == "reply" and c2 == "noop" and code2 == 550)
    end
    if hits >= 50 then break end
end
assert(hits > 0)
print("CHILD OK")
]]

describe("issue 10 attack: a finalizer taking the next reply while c:next() pushes one", function()
    it("LuaJIT: the outer call returns its own reply (text, code, enhanced code)", function()
        if not have_jit() then return pending("no luajit or no build/jit") end
        child(ACTION .. REPLY_REENTER, "jit")
    end)
end)

-- g:next() retried after a finalizer's error escaped it (LuaJIT), on a
-- multipart of strings (base64, quoted-printable) and files (auto, which
-- is rechecked as it is sent, and quoted-printable): every message that
-- ends without an error is byte for byte a clean run's (boundaries aside).
local RETRY = [[
local core = require("socket.smtp.core")
local FILE = "@FILE@"
local t = {}
for i = 1, 20000 do t[i] = ("%07d:"):format(i) .. ("\255"):rep(8) end
local DATA = table.concat(t)
local function gen()
    local f = assert(core.file(FILE, { encoding = "auto" }))
    local q = assert(core.file(FILE, { encoding = "quoted-printable" }))
    return assert(core.message({ body = { { body = DATA, encoding = "base64" }, { body = f },
        { body = q }, { body = DATA:sub(1, 70000), encoding = "quoted-printable" } } }, {}))
end
local function norm(s)
    local b = s:match('boundary="([^"]+)"')
    return (s:gsub(b:gsub("%p", "%%%0"), "BOUNDARY"))
end
local want = norm(drain(gen(), {}))
assert(norm(drain(gen(), {})) == want, "not the same twice")
local done = 0
for try = 1, 400 do
    local g, got, raised = gen(), {}, nil
    while true do
        bombs(10)
        local ok, chunk, err = armed_pcall(g.next, g)
        if not ok then
            raised = chunk
            assert(tostring(chunk):find("finalizer bug", 1, true), tostring(chunk))
        elseif chunk == nil then
            assert(err == nil or err == "message generator: an error interrupted an earlier g:next()",
                   tostring(err))
            if err == nil then
                local text = norm(table.concat(got))
                assert(text == want, ("the message after %s error(s) differs (%d vs %d bytes)"):format(
                    raised and "some" or "no", #text, #want))
                if raised then done = done + 1 end
            end
            break
        else
            got[#got + 1] = chunk
        end
    end
    if done >= 20 then break end
end
assert(done > 0, "no error escaped")
print("CHILD OK")
]]

describe("issue 10 attack: g:next() retried after errors on a multipart with files", function()
    it("LuaJIT: the message is complete and the same as a clean run's", function()
        if not have_jit() then return pending("no luajit or no build/jit") end
        local dir = H.tmpdir()
        H.write_file(dir .. "/f.txt", "line one\r\nline two\r\n")
        child(H.BOMBS .. (RETRY:gsub("@FILE@", function() return dir .. "/f.txt" end)), "jit")
        H.rmdir(dir)
    end)
end)
