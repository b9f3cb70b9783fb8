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
-- call that clears the mark however it ends (KNOWN_OPEN = false).
-- Fixed for the generator too (g:next, lmime_gen.c), which a first try
-- (a7d5301, reverted in ae0a48c) had left open: under lbind_guarded,
-- 008_closed_generator's resurrection case failed 1 run in 6 on LuaJIT
-- (g:next() gave nil, nil). Cause: the protected call left a stale copy
-- of the generator on the Lua stack above g:next's frame (LuaJIT's
-- lua_pcall moves the arguments up one slot for the frame link), where
-- the next call's frame had not yet written it; LuaJIT's collector marks
-- such slots, so the generator outlived its box by one cycle, its
-- holder's finalizer ran first and got the end of a generator not yet
-- closed (nil). The plain mark fails the same way when gen_next leaves
-- copies of g there. lbind_guarded now nils the slots its call used.
-- Also, a generator goes on correctly: the chunk whose push raised is
-- handed out by the next g:next() (the a7d5301 version lost it); an error
-- anywhere else stops the generator with one error.
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
local raised
for _ = 1, 3000 do
    bombs(20)
    local ok, err = armed_pcall(c.caps, c)
    if not ok then raised = err break end
end
assert(raised and raised:find("finalizer bug"), "the finalizer's error never escaped")
assert(c:state() == "ready", "the client stays busy after the error")
assert(type(c:caps()) == "table")
print("CHILD OK")
]]

-- The generator: a finalizer raising during the push of a g:next() chunk.
-- Afterwards g:next() goes on (it does not raise "message generator
-- busy"), and the chunks given, before and after, are the whole message
-- once: the chunk whose push raised is handed out by the next call.
local GEN_CHILD = [[
local core = require("socket.smtp.core")
local t = {}
for i = 1, 40000 do t[i] = ("%07d:"):format(i) .. ("\255"):rep(8) end
local DATA = table.concat(t)
local function gen() return assert(core.message({ body = DATA, encoding = "base64" }, {})) end
local want = drain(gen(), {})
assert(#want > 500000 and drain(gen(), {}) == want, "the message is not the same twice")
local raised, tries
for try = 1, 500 do
    local g, got = gen(), {}
    while not raised do
        bombs(20)
        local ok, chunk = armed_pcall(g.next, g)
        if not ok then
            raised = chunk
        elseif chunk == nil then
            break
        else
            got[#got + 1] = chunk
        end
    end
    if raised then
        assert(tostring(raised):find("finalizer bug", 1, true), "g:next() raised " .. tostring(raised))
        local ok, text = pcall(drain, g, got)
        assert(ok, "g:next() after the error raised: " .. tostring(text))
        assert(#text == #want, ("the message after the error is %d bytes, not %d"):format(#text, #want))
        assert(text == want, "the message after the error differs")
        tries = try
        break
    end
end
assert(raised, "the finalizer's error never escaped g:next()")
print("CHILD OK after " .. tries .. " generators")
]]

-- Elsewhere in g:next() (here: pushing the message of a read error, with
-- the collector made eager so that it runs there), what the generator
-- holds may be half-done: it stops, with one error from then on.
local GEN_ELSEWHERE_CHILD = [[
local core = require("socket.smtp.core")
local smtp = require("socket.smtp")
local INTERRUPTED = "message generator: an error interrupted an earlier g:next()"
collectgarbage("setpause", 0)
collectgarbage("setstepmul", 100000)
local hit
for try = 1, 3000 do
    local f = assert(smtp.file("/proc/self/mem", { encoding = "base64", content_type = "text/plain" }))
    local g = assert(core.message({ body = f }, {}))
    bombs(20)
    local ok, a, b = armed_pcall(g.next, g)
    if ok then
        assert(a == nil and tostring(b):find("^/proc/self/mem: "),
               "g:next() gave " .. tostring(a) .. ", " .. tostring(b))
    else
        assert(tostring(a):find("finalizer bug", 1, true), "g:next() raised " .. tostring(a))
        for _ = 1, 2 do
            local ok2, c, err = pcall(g.next, g)
            assert(ok2, "g:next() after the error raised: " .. tostring(c))
            assert(c == nil and err == INTERRUPTED,
                   "after the error g:next() gave " .. tostring(c) .. ", " .. tostring(err))
        end
        hit = try
        break
    end
end
assert(hit, "the finalizer's error never escaped g:next()")
print("CHILD OK after " .. hit)
]]

local function run_jit_child(code)
    local f = io.open(JIT_SO, "rb")
    if not f or not H.sh("command -v luajit >/dev/null") then
        if f then f:close() end
        pending("no luajit or no build/jit")
        return
    end
    f:close()
    local dir = H.tmpdir()
    H.write_file(dir .. "/child.lua", code)
    local setup = string.format("package.path=%q..package.path package.cpath=%q..package.cpath",
        H.root .. "/lua/?.lua;", H.root .. "/build/jit/?.so;")
    local ok, out, status = H.sh("cd " .. H.quote(dir) .. " && timeout -s KILL 60 luajit -e "
        .. H.quote(setup) .. " child.lua")
    H.rmdir(dir)
    assert(ok and status == 0 and out:find("CHILD OK", 1, true),
           ("child luajit failed (status %s):\n%s"):format(tostring(status), out))
end

describe("an error escaping a push does not leave the client busy (issue 10 attack)", function()
    it("LuaJIT: a finalizer that raises during c:caps()", function()
        if KNOWN_OPEN then
            pending("open finding: the busy mark latches (see the header of this file)")
            return
        end
        run_jit_child(H.BOMBS .. CHILD)
    end)
end)

describe("an error escaping a push does not leave the generator busy (issue 10 attack)", function()
    it("LuaJIT: a finalizer that raises during g:next(); the chunk is not lost", function()
        run_jit_child(H.BOMBS .. GEN_CHILD)
    end)

    it("LuaJIT: a finalizer that raises elsewhere in g:next(): one error from then on", function()
        if not io.open("/proc/self/mem", "rb") then
            pending("no /proc/self/mem")
            return
        end
        run_jit_child(H.BOMBS .. GEN_ELSEWHERE_CHILD)
    end)
end)
