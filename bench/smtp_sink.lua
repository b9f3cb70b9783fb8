-----------------------------------------------------------------------------
-- The "no stalls" benchmark: LuaSocket's socket.smtp and smtp-native, side
-- by side, in one run, against Postfix's smtp-sink on 127.0.0.1.
--
--   lua5.4 bench/smtp_sink.lua --port PORT [options]
--   luajit bench/smtp_sink.lua --port PORT [options]
--
-- bench/run.sh starts the sink and runs this under each interpreter.
--
-- Three variants, each one session per round (smtp.open, greet, s:send per
-- message, quit, close) carrying the same 2,048-byte message:
--   shipped  LuaSocket's smtp as shipped (Nagle on: ~40 ms per message)
--   nodelay  LuaSocket's smtp, TCP_NODELAY set through `create`
--   native   smtp-native (this repository)
-- Rounds are interleaved (shipped, nodelay, native, shipped, ...) so that
-- machine noise falls on every variant alike. The figure is messages per
-- second over the whole session, open to close, measured with
-- socket.gettime. Every send must succeed, and with --sink-log the sink's
-- own message counter must grow by exactly the number of messages sent.
--
-- Options:
--   --host H              sink address (127.0.0.1)
--   --port P              sink port (required)
--   --rounds N            rounds per variant (5)
--   --messages N          messages per session, nodelay and native (2000)
--   --shipped-messages N  messages per session, shipped (100: ~44 ms each)
--   --size N              message size in bytes (2048)
--   --sink-log FILE       smtp-sink -c output, to check the received counts
--   --root DIR            repository root (from this script's path)
--   --luasocket-smtp FILE LuaSocket's smtp.lua (found on package.path)
-- Exit status: 0 when the requirement holds (medians of this run: native
-- >= 50x shipped and >= 1.2x nodelay), 1 when it fails, 2 on an error.
-----------------------------------------------------------------------------

local NEED_VS_SHIPPED = 50
local NEED_VS_NODELAY = 1.2

local common = dofile(((arg[0] or ""):match("^(.*)/[^/]+$") or "bench") .. "/common.lua")
local die = common.die_with("smtp_sink.lua")

---------------------------------------------------------------------------
-- Arguments
---------------------------------------------------------------------------
local opt = {
    host = "127.0.0.1", port = nil, rounds = 5, messages = 2000,
    ["shipped-messages"] = 100, size = 2048, ["sink-log"] = nil,
    root = nil, ["luasocket-smtp"] = nil,
}
local known = { host = "s", port = "n", rounds = "n", messages = "n", ["shipped-messages"] = "n",
                size = "n", ["sink-log"] = "s", root = "s", ["luasocket-smtp"] = "s" }
common.parse_args(arg, opt, known, die)
if not opt.port then die("--port is required (bench/run.sh starts smtp-sink and passes it)") end
if opt.size < 512 then die("--size must be at least 512") end

local root = opt.root or (arg[0] and arg[0]:match("^(.*)/bench/[^/]+$")) or "."
local jit = rawget(_G, "jit")
local tag = jit and "jit" or _VERSION:match("%d+%.%d+")

---------------------------------------------------------------------------
-- Modules: LuaSocket's smtp by dofile, ours by require (both set
-- socket.smtp; each is kept in its own local).
---------------------------------------------------------------------------
local socket = require("socket")
local ltn12 = require("ltn12")
local gettime = socket.gettime

local searchpath = common.searchpath

local ls_path = opt["luasocket-smtp"] or searchpath("socket.smtp", package.path)
if not ls_path then die("LuaSocket's socket/smtp.lua not found on package.path") end
local ls_smtp = dofile(ls_path)

local native_smtp, native_lua, native_so = common.load_native(root, tag, die)
if native_smtp == ls_smtp or not native_smtp.open then die("could not load both smtp modules") end

---------------------------------------------------------------------------
-- The message (common.sink_message): eight headers and a plain-text body,
-- exactly opt.size bytes; the same string for every variant.
---------------------------------------------------------------------------
local FROM, RCPT = "<bench@localhost>", "<sink@localhost>"
local MESSAGE = common.sink_message(opt.size, die)

---------------------------------------------------------------------------
-- Variants
---------------------------------------------------------------------------
-- LuaSocket 3.1's socket.tcp() opens the OS socket only at connect, so
-- setoption before connect fails there; socket.tcp4() opens it at once.
local function create_nodelay()
    local c, err = socket.tcp4()
    if not c then return nil, err end
    local ok, serr = c:setoption("tcp-nodelay", true)
    if not ok then
        c:close()
        return nil, "setoption tcp-nodelay: " .. tostring(serr)
    end
    return c
end

-- The connected socket of a session, to read TCP_NODELAY back.
local function ls_sock(s) return s.tp and s.tp.getcontrol and s.tp:getcontrol() end
-- Ours: the socket its `create` (LuaSocket's parameter) made, as
-- smtp-native's default would (socket.tcp); TCP_NODELAY is smtp-native's.
local native_last
local function native_create()
    local c, err = socket.tcp()
    native_last = c
    return c, err
end
local function native_sock() return native_last end

-- LuaSocket's send returns nothing and raises on any non-2xx reply.
local function ls_check() return true end
-- Ours returns 1 (and raises on any failure, refused recipients included);
-- a report, when one comes back, is checked too.
local function native_check(ok, report)
    if ok ~= 1 then return nil, "send returned " .. tostring(ok) end
    if type(report) == "table" then
        if report.refused and #report.refused > 0 then return nil, "recipient refused" end
        if report.code and not tostring(report.code):match("^2") then
            return nil, "final reply " .. tostring(report.code)
        end
    end
    return true
end

local variants = {
    { name = "shipped", label = "LuaSocket smtp, as shipped", smtp = ls_smtp,
      n = opt["shipped-messages"], sock = ls_sock, check = ls_check, want_nodelay = false },
    { name = "nodelay", label = "LuaSocket smtp + TCP_NODELAY", smtp = ls_smtp, create = create_nodelay,
      n = opt.messages, sock = ls_sock, check = ls_check, want_nodelay = true },
    { name = "native", label = "smtp-native (ours)", smtp = native_smtp, create = native_create,
      n = opt.messages, sock = native_sock, check = native_check, want_nodelay = nil },
}

---------------------------------------------------------------------------
-- The sink's own counter (smtp-sink -c writes "sess=N quit=N mesg=N\r").
---------------------------------------------------------------------------
local function sink_count()
    local f = io.open(opt["sink-log"], "rb")
    if not f then return nil end
    local text = f:read("*a")
    f:close()
    local last
    for n in text:gmatch("mesg=(%d+)") do last = tonumber(n) end
    return last or 0
end

local function wait_sink_count(want)
    local t0 = gettime()
    while true do
        local got = sink_count()
        if got == want then return true end
        if gettime() - t0 > 3 then return nil, got end
        socket.sleep(0.01)
    end
end

---------------------------------------------------------------------------
-- One session: open, greet, n sends, quit, close. Returns seconds.
---------------------------------------------------------------------------
local function errstr(e)
    if type(e) == "table" then return tostring(e[1]) end
    return tostring(e)
end

local function session(v, n)
    local before = opt["sink-log"] and sink_count()
    local sent, nodelay = 0, nil
    local c0, t0 = os.clock(), gettime()
    local ok, err = pcall(function()
        local s = v.smtp.open(opt.host, opt.port, v.create)
        s:greet("bench.localhost")
        local sock = v.sock(s)
        if sock and sock.getoption then nodelay = sock:getoption("tcp-nodelay") end
        local mailt = { from = FROM, rcpt = RCPT }
        for _ = 1, n do
            mailt.source = ltn12.source.string(MESSAGE)
            local good, cerr = v.check(s:send(mailt))
            if not good then
                s:close()
                error("message " .. (sent + 1) .. ": " .. cerr, 0)
            end
            sent = sent + 1
        end
        s:quit()
        s:close()
    end)
    local secs, cpu = gettime() - t0, os.clock() - c0
    if not ok then die(v.name .. ": send failed after " .. sent .. " messages: " .. errstr(err)) end
    if sent ~= n then die(v.name .. ": sent " .. sent .. " of " .. n .. " messages") end
    if v.want_nodelay ~= nil and nodelay ~= v.want_nodelay then
        die(v.name .. ": TCP_NODELAY is " .. tostring(nodelay) .. " after connect, expected "
            .. tostring(v.want_nodelay))
    end
    v.nodelay = nodelay
    if before then
        local good, got = wait_sink_count(before + n)
        if not good then
            die(v.name .. ": smtp-sink counted " .. tostring(got and got - before)
                .. " messages, sent " .. n)
        end
    end
    return secs, cpu
end

local median = common.median

---------------------------------------------------------------------------
-- Run
---------------------------------------------------------------------------
local interp = jit and jit.version or _VERSION
print(string.format("smtp-sink benchmark under %s (%s), sink %s:%d", interp, socket._VERSION,
    opt.host, opt.port))
print(string.format("  LuaSocket smtp: %s", ls_path))
print(string.format("  smtp-native:    %s + %s", native_lua, native_so))
print(string.format("  message: %d bytes; one session per round; %d rounds, interleaved",
    #MESSAGE, opt.rounds))
print(string.format("  sessions carry %d messages (%d for LuaSocket as shipped: ~44 ms each)",
    opt.messages, opt["shipped-messages"]))
if opt["sink-log"] then print("  received counts checked against smtp-sink's own counter (-c)") end
io.stdout:flush()

-- Warm-up (not counted): one short session per variant.
for _, v in ipairs(variants) do
    session(v, v.name == "shipped" and 2 or 50)
    v.rates, v.cpu = {}, {}
end

for r = 1, opt.rounds do
    for _, v in ipairs(variants) do
        local secs, cpu = session(v, v.n)
        v.rates[r] = v.n / secs
        v.cpu[r] = cpu / v.n
    end
    local line = string.format("  round %d/%d:", r, opt.rounds)
    for _, v in ipairs(variants) do line = line .. string.format("  %s %.1f", v.name, v.rates[r]) end
    print(line .. " msg/s")
    io.stdout:flush()
end

print()
local hdr = string.format("%-30s %5s %7s", "variant", "msgs", "NODELAY")
for r = 1, opt.rounds do hdr = hdr .. string.format(" %9s", "round " .. r) end
print(hdr .. string.format(" %9s %9s %9s", "median", "ms/msg", "cpu ms"))
for _, v in ipairs(variants) do
    v.median = median(v.rates)
    local line = string.format("%-30s %5d %7s", v.label, v.n, v.nodelay == nil and "?" or
        (v.nodelay and "on" or "off"))
    for r = 1, opt.rounds do line = line .. string.format(" %9.1f", v.rates[r]) end
    print(line .. string.format(" %9.1f %9.3f %9.3f", v.median, 1000 / v.median, 1000 * median(v.cpu)))
end
print("(messages/s over the whole session, open to close; ms/msg = 1000 / median;")
print(" cpu ms = median client CPU time per message, os.clock)")

local shipped, nodelay, native = variants[1], variants[2], variants[3]
local vs_shipped = native.median / shipped.median
local vs_nodelay = native.median / nodelay.median
local pass_shipped = vs_shipped >= NEED_VS_SHIPPED
local pass_nodelay = vs_nodelay >= NEED_VS_NODELAY
print()
print(string.format("ours / shipped = %8.1fx   (need >= %gx)  %s", vs_shipped, NEED_VS_SHIPPED,
    pass_shipped and "ok" or "FAIL"))
print(string.format("ours / nodelay = %8.2fx   (need >= %gx)  %s", vs_nodelay, NEED_VS_NODELAY,
    pass_nodelay and "ok" or "FAIL"))
print(string.format("nodelay / shipped = %5.1fx", nodelay.median / shipped.median))
local paired = "per round, ours / nodelay:"
for r = 1, opt.rounds do paired = paired .. string.format(" %.2f", native.rates[r] / nodelay.rates[r]) end
print(paired)
local pass = pass_shipped and pass_nodelay
print(string.format("RESULT %s: %s", tag, pass and "PASS" or "FAIL"))
os.exit(pass and 0 or 1)
