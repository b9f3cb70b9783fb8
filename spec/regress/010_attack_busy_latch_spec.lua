-- Issue 10 attack (helper E), finding, fixed by lbind_guarded (lbind.h):
-- the "busy" mark of the client and generator objects latches when an
-- error escapes while it is set.
--
-- lsmtp.c (SET_BUSY in client_next, client_has, client_caps, client_body,
-- push_queued) and lmime_gen.c (G->busy in gen_next) set the mark, push
-- engine bytes into Lua strings, then clear it (issue 8: a finalizer run
-- by the push must not re-enter the object). A push that raises leaves
-- the mark set for good: every later method of that object raises
-- "smtp client busy: called again while one of its methods runs (from a
-- finalizer?)". On Lua 5.1 and LuaJIT an error raised by a finalizer
-- propagates out of the allocation that ran it (here: out of
-- lua_pushlstring inside c:caps()); on every version a memory error does.
-- Repro: an object's __gc that raises, collected during c:caps().
--
-- Expected (this spec): the error reaches the caller of c:caps(), and the
-- client is usable afterwards (c:state(), c:caps() work). A fix keeps the
-- issue 8 guarantee (a re-entered object refuses while the push runs),
-- e.g. by clearing the mark on the way out through a protected call, or by
-- copying the engine bytes before anything can collect.
-- Fixed for the client: its copying runs in lbind_guarded, a protected
-- call that clears the mark however it ends (KNOWN_OPEN = false). Still
-- open for the generator (g:next, lmime_gen.c): under lbind_guarded,
-- 008_closed_generator's resurrection case failed 1 run in 6 on LuaJIT
-- (g:next() gave nil, nil), so gen_next keeps its plain mark for now.
local H = require("helper")

local KNOWN_OPEN = false

local JIT_SO = H.root .. "/build/jit/socket/smtp/core.so"

local CHILD = [[
local core = require("socket.smtp.core")
local function pump(c, input)
    while true do
        local e, a = c:next()
        if e == "read" then
            if #input == 0 then return end
            local k = math.min(a, #input)
            assert(c:feed(input:sub(1, k)))
            input = input:sub(k + 1)
        elseif e == "idle" or e == "error" then
            return e
        end
    end
end
local c = core.new()
assert(c:greeting())
pump(c, "220 mx\r\n")
assert(c:ehlo("me"))
local t = { "250-mx" }
for i = 1, 60 do t[#t + 1] = "250-X" .. i .. " " .. ("p"):rep(20) end
t[#t + 1] = "250 AUTH PLAIN"
pump(c, table.concat(t, "\r\n") .. "\r\n")
local armed = false
local raised
for _ = 1, 3000 do
    for _ = 1, 20 do
        getmetatable(newproxy(true)).__gc = function()
            if armed then armed = false error("finalizer bug") end
        end
    end
    armed = true
    local ok, err = pcall(c.caps, c)
    armed = false
    if not ok then raised = err break end
end
assert(raised and raised:find("finalizer bug"), "the finalizer's error never escaped")
assert(c:state() == "ready", "the client stays busy after the error")
assert(type(c:caps()) == "table")
print("CHILD OK")
]]

describe("an error escaping a push does not leave the client busy (issue 10 attack)", function()
    it("LuaJIT: a finalizer that raises during c:caps()", function()
        if KNOWN_OPEN then
            pending("open finding: the busy mark latches (see the header of this file)")
            return
        end
        local f = io.open(JIT_SO, "rb")
        if not f or not H.sh("command -v luajit >/dev/null") then
            if f then f:close() end
            pending("no luajit or no build/jit")
            return
        end
        f:close()
        local dir = H.tmpdir()
        H.write_file(dir .. "/child.lua", CHILD)
        local setup = string.format("package.path=%q..package.path package.cpath=%q..package.cpath",
            H.root .. "/lua/?.lua;", H.root .. "/build/jit/?.so;")
        local ok, out, status = H.sh("cd " .. H.quote(dir) .. " && timeout -s KILL 60 luajit -e "
            .. H.quote(setup) .. " child.lua")
        H.rmdir(dir)
        assert(ok and status == 0 and out:find("CHILD OK", 1, true),
               ("child luajit failed (status %s):\n%s"):format(tostring(status), out))
    end)
end)
