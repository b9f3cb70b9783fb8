--[=[
spec/support/regress8.lua: shared helpers of the issue 8 regression specs
(spec/regress/008_*_spec.lua).

    local R = require("support.regress8")

    ok, out, status = R.child(code [, dir [, seconds]])
        Runs the Lua chunk `code` in a child process (this interpreter,
        this checkout's socket.smtp and core.so first on the paths), with
        the directory `dir` as its working directory and as `...` (a fresh
        H.tmpdir() when omitted; removed afterwards unless given). A
        reproducer that crashes kills only the child: status is then
        128 + the signal (139 for SIGSEGV). A child runs at most `seconds`
        (default 30), then is killed (status 137).
    R.assert_child(code [, dir [, seconds]]) -> out
        R.child, then asserts exit status 0 and a last line "CHILD OK"
        (the chunk prints it when it is done); the failure message shows
        the child's output and status.
    msg, err = R.drain(source)
        Calls an LTN12 source until it returns nil; the whole text, or
        nil, err when it failed (raising is a test failure: the message
        then says so).
    msg, err = R.generate(mesgt)
        smtp.message(mesgt) drained; smtp.message itself must not raise.
    msg, err = R.core_generate(mesgt, defaults)
        core.message(mesgt, defaults or {}) run to the end (Lua body
        sources called as smtp.message does); nil, err when core.message
        or g:next() fails.
    text, err = R.drain_text(source)
        Calls a message source until it returns nil: everything it gave
        (also when it failed) and its error. Unlike R.drain, a raise
        propagates and chunks are not type-checked.
    err = R.core_error(mesgt [, defaults])
        Asserts that core.message(mesgt, defaults or {}) does not raise,
        and returns its error, or the error its generator ends with when
        g:next() is called until it returns nil (nil when none).
    sock = R.odd_socket(names, odd, log [, real_first])
        A generic socket (for `create`) over a real socket.tcp(), with the
        methods `names`; each call counts in log[name]. The odd.call-th
        (default 1) call of odd.method returns the values of odd.ret
        instead of the real call's, which is still made first when
        `real_first`. A "receiveany" method is real:receive(1).
    R.random_bytes(n)  n pseudo-random bytes (math.random)
]=]

local H = require("helper")

local R = {}

local CHILD_PRELUDE = [[
local DIR = ...
package.path = ]] .. string.format("%q", H.root .. "/spec/?.lua;") .. [[ .. package.path
]]

function R.child(code, dir, seconds)
    local own = dir == nil
    if own then dir = H.tmpdir() end
    local script = dir .. "/child.lua"
    H.write_file(script, CHILD_PRELUDE .. code)
    local cmd = "cd " .. H.quote(dir) .. " && timeout -s KILL " .. (seconds or 30) .. " "
        .. H.lua_command(script, dir)
    local ok, out, status = H.sh(cmd)
    if own then H.rmdir(dir) end
    return ok, out, status
end

function R.assert_child(code, dir, seconds)
    local ok, out, status = R.child(code, dir, seconds)
    local last = out:match("([^\n]*)\n?$")
    assert(ok and status == 0 and last == "CHILD OK",
        ("child process failed (exit status %s):\n%s"):format(tostring(status), out))
    return out
end

function R.drain(source)
    local parts = {}
    for _ = 1, 1e6 do
        local ok, chunk, err = pcall(source)
        if not ok then
            error("the message source raised: " .. tostring(chunk), 2)
        end
        if chunk == nil then
            if err ~= nil then return nil, err end
            return table.concat(parts)
        end
        assert(type(chunk) == "string", "the source returned a " .. type(chunk))
        parts[#parts + 1] = chunk
    end
    error("the message source never ended", 2)
end

function R.generate(mesgt)
    local smtp = require("socket.smtp")
    local ok, source = pcall(smtp.message, mesgt)
    if not ok then
        error("smtp.message raised: " .. tostring(source), 2)
    end
    return R.drain(source)
end

function R.core_generate(mesgt, defaults)
    local core = require("socket.smtp.core")
    local g, err = core.message(mesgt, defaults or {})
    if not g then return nil, err end
    local parts = {}
    for _ = 1, 1e6 do
        local chunk, src = g:next()
        if chunk == nil then
            if src ~= nil then return nil, src end
            return table.concat(parts)
        end
        if chunk == false then
            local data, serr = src()
            g:feed(data, serr)
        else
            parts[#parts + 1] = chunk
        end
    end
    error("the generator never ended", 2)
end

function R.drain_text(src)
    local out = {}
    for _ = 1, 10000 do
        local c, err = src()
        if c == nil then return table.concat(out), err end
        out[#out + 1] = c
    end
    error("the source does not end")
end

function R.core_error(mesgt, defaults)
    local core = require("socket.smtp.core")
    local ok, g, cerr = pcall(core.message, mesgt, defaults or {})
    assert(ok, "core.message raised: " .. tostring(g))
    if g then
        local chunk, gerr
        repeat chunk, gerr = g:next() until chunk == nil
        cerr = gerr
    end
    return cerr
end

function R.odd_socket(names, odd, log, real_first)
    local real = require("socket").tcp()
    local counts = {}
    local obj = {}
    for _, name in ipairs(names) do
        obj[name] = function(_, ...)
            counts[name] = (counts[name] or 0) + 1
            log[name] = counts[name]
            local a, b, c
            if real_first then a, b, c = real[name](real, ...) end
            if odd and odd.method == name and counts[name] == (odd.call or 1) then
                local r = odd.ret
                return r[1], r[2], r[3]
            end
            if real_first then return a, b, c end
            if name == "receiveany" then
                local data, err = real:receive(1)
                return data, err
            end
            return real[name](real, ...)
        end
    end
    return obj
end

function R.random_bytes(n)
    local t = {}
    for i = 1, n do t[i] = string.char(math.random(0, 255)) end
    return table.concat(t)
end

return R
