-----------------------------------------------------------------------------
-- The message-generation benchmark: LuaSocket's smtp.message and
-- smtp-native's, side by side, in one run, on the same inputs.
--
--   lua5.4 bench/message.lua --dir DIR [options]
--   luajit bench/message.lua --dir DIR [options]
--
-- bench/message.sh creates the inputs in DIR and runs this under each
-- interpreter. Every measurement is a separate process (this script again,
-- with --worker), so that each variant's peak RSS is its own:
--
--   a.ls      (a) 64 MiB binary attachment, base64, LuaSocket's smtp.message,
--             body = the chain of LuaSocket's documentation
--             (ltn12.source.file + mime.encode("base64") + mime.wrap())
--   a.ours    (a) the same chain, through smtp-native's smtp.message
--   b.ours    (b) the same file as body = smtp.file(path) (base64 in C)
--   b.base64  (b) coreutils `base64 -w 76 < file > /dev/null`
--   c.ls      (c) 2,000 small text parts (198-byte string bodies + CRLF,
--             3 headers each) in one multipart message, LuaSocket
--   c.ours    (c) the same table, smtp-native
--   d.ls      (d) 64 MiB of text, quoted-printable, the documentation's
--             chain (mime.normalize + mime.encode("quoted-printable") +
--             mime.wrap("quoted-printable")), LuaSocket
--   d.file    (d) smtp.file(path, {encoding = "quoted-printable"}), ours
--   d.string  (d) the text as a string body, encoding = "quoted-printable"
--   e.ours    (e) a 1 GiB random file as smtp.file(path) (base64), ours
--   e.idle    (e) the same process, modules loaded and smtp.file opened,
--             without generating: the peak-RSS baseline
--
-- Each generating worker builds the message table first (untimed), then
-- calls smtp.message and drains the source completely, counting bytes and
-- keeping nothing; it reports bytes, wall time (socket.gettime), CPU time
-- (os.clock: user + system time of the process) and VmHWM/VmRSS from
-- /proc/self/status at the end; VmHWM is reset (clear_refs) after the
-- setup, whose own peak is reported apart (setup_hwm).
--
-- Before the timed rounds every variant runs once with --emit, its output
-- piped into bench/message_check.py, which decodes each part (strictly)
-- and compares it with the input (SHA-256); then once more on a 16 MiB
-- input with Python's email parser as a second opinion. The timed runs must
-- produce exactly as many bytes as the checked run.
-- Rounds are interleaved (a.ls, a.ours, b.ours, b.base64, c.ls, ..., then
-- the same in reverse order, and so on), medians compared. Then the instruction counts: valgrind
-- --tool=callgrind on whole worker processes with the 16 MiB input, minus
-- a run that does the same setup without generating (--idle).
--
-- Options:
--   --dir DIR          inputs: random.bin, random16.bin, text.txt,
--                      text16.txt, big.bin (bench/message.sh makes them)
--   --rounds N         timed rounds (5)
--   --small-messages N messages per (c) run (50)
--   --clock cpu|wall   clock the requirements are judged on (cpu)
--   --tolerance X      (a) "no slower" allows medians X below 1 (0.03)
--   --interp CMD       interpreter for the workers (this one)
--   --python CMD       python3
--   --valgrind CMD     valgrind; "none" skips the instruction counts
--   --no-big           skip (e) (no big.bin)
--   --root DIR         repository root (from this script's path)
--   --luasocket-smtp FILE  LuaSocket's smtp.lua (found on package.path)
-- Exit status: 0 when every requirement holds, 1 when one fails (or an
-- output is wrong), 2 on an error.
--
-- Worker mode (one run of one variant; handy with valgrind or perf):
--   lua5.4 bench/message.lua --worker ID [--input FILE] [--repeat N]
--                            [--idle] [--emit]
--   prints "RESULT bytes=... chunks=... wall=... cpu=... hwm=..." (KiB);
--   --repeat N: N messages ((c) only); --idle: set up, do not generate;
--   --emit: write the message to stdout (RESULT then goes to stderr).
-----------------------------------------------------------------------------

local NEED_A = 1.0            -- (a) ours / LuaSocket, same chain
local NEED_B_BASE64 = 1.5     -- (b) ours smtp.file / coreutils base64 -w 76
local NEED_B_INSN = 4.0       -- (b) M instructions per MiB of input, at most
local NEED_C = 5.0            -- (c) ours / LuaSocket, 2,000 small parts
local NEED_D = 8.0            -- (d) ours / LuaSocket, quoted-printable
local NEED_E_MIB = 16         -- (e) MiB above the idle interpreter, less than
local PARTS = 2000

local common = dofile(((arg[0] or ""):match("^(.*)/[^/]+$") or "bench") .. "/common.lua")
local die = common.die_with("message.lua")

---------------------------------------------------------------------------
-- Arguments
---------------------------------------------------------------------------
local opt = {
    dir = nil, rounds = 5, ["small-messages"] = 50, clock = "cpu", tolerance = 0.03,
    interp = nil, python = "python3", valgrind = "valgrind", root = nil,
    ["luasocket-smtp"] = nil,
    -- worker
    worker = nil, input = nil, ["repeat"] = 1,
}
local known = { dir = "s", rounds = "n", ["small-messages"] = "n", clock = "s", tolerance = "f",
                interp = "s", python = "s", valgrind = "s", root = "s", ["luasocket-smtp"] = "s",
                worker = "s", input = "s", ["repeat"] = "n",
                ["no-big"] = "flag", idle = "flag", emit = "flag" }
common.parse_args(arg, opt, known, die)
if opt.clock ~= "cpu" and opt.clock ~= "wall" then die("--clock must be cpu or wall") end

local root = opt.root or (arg[0] and arg[0]:match("^(.*)/bench/[^/]+$")) or "."
local script = arg[0]
local jit = rawget(_G, "jit")
local tag = jit and "jit" or _VERSION:match("%d+%.%d+")

---------------------------------------------------------------------------
-- Small helpers
---------------------------------------------------------------------------
local searchpath = common.searchpath

local function file_size(path)
    local f = io.open(path, "rb")
    if not f then return nil end
    local n = f:seek("end")
    f:close()
    return n
end

-- VmHWM and VmRSS of this process, in KiB.
local function memory()
    local f = io.open("/proc/self/status", "rb")
    if not f then return 0, 0 end
    local s = f:read("*a")
    f:close()
    return tonumber(s:match("VmHWM:%s*(%d+)")) or 0, tonumber(s:match("VmRSS:%s*(%d+)")) or 0
end

local function shell_quote(s)
    return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local median = common.median

-- 12345678 -> "12,345,678"
local function commas(n)
    local s = string.format("%d", n)
    local k
    repeat s, k = s:gsub("^(%d+)(%d%d%d)", "%1,%2") until k == 0
    return s
end

local MIB = 1024 * 1024
local TEXT_PART = "This message carries one attachment; it follows.\r\n"
local FILLER = "The quick brown fox jumps over the lazy dog. "

-- Body of part i of the 2,000-part message (message_check.py: small_body).
local function small_body(i)
    return (string.format("Part %04d: ", i) .. FILLER:rep(5)):sub(1, 198) .. "\r\n"
end

---------------------------------------------------------------------------
-- Worker: one variant, one process.
---------------------------------------------------------------------------
local function worker()
    local socket = require("socket")
    local ltn12 = require("ltn12")
    local mime = require("mime")
    local ls_path = opt["luasocket-smtp"] or searchpath("socket.smtp", package.path)
    if not ls_path then die("LuaSocket's socket/smtp.lua not found on package.path") end
    local ls_smtp = dofile(ls_path)
    local ours = common.load_native(root, tag, die)
    if ours == ls_smtp or not ours.file then die("could not load both smtp modules") end

    local v, path = opt.worker, opt.input
    local insize = path and file_size(path)
    if path and not insize then die("cannot open " .. path) end

    local function top(body)
        return {
            headers = { from = "Bench <bench@example.com>", to = "Sink <sink@example.com>",
                        subject = "smtp.message benchmark" },
            body = body,
        }
    end
    local function attachment_headers(ctype, name, cte)
        return { ["content-type"] = ctype, ["content-disposition"] = 'attachment; filename="' .. name .. '"',
                 ["content-transfer-encoding"] = cte }
    end
    local intro = { headers = { ["content-type"] = 'text/plain; charset="us-ascii"' }, body = TEXT_PART }
    local BIN, TEXT = "application/octet-stream", 'text/plain; charset="iso-8859-1"'

    local function b64_chain()
        local f = assert(io.open(path, "rb"))
        return ltn12.source.chain(ltn12.source.file(f),
            ltn12.filter.chain(mime.encode("base64"), mime.wrap()))
    end
    local function qp_chain()
        local f = assert(io.open(path, "rb"))
        return ltn12.source.chain(ltn12.source.file(f),
            ltn12.filter.chain(mime.normalize(), mime.encode("quoted-printable"),
                mime.wrap("quoted-printable")))
    end
    local function many_parts()
        local parts = {}
        for i = 1, PARTS do
            parts[i] = {
                headers = { ["content-type"] = 'text/plain; charset="us-ascii"',
                            ["content-description"] = string.format("Part %04d", i),
                            ["x-part-id"] = tostring(i) },
                body = small_body(i),
            }
        end
        return top(parts)
    end

    -- variant -> implementation, message table
    local smtp, mesgt
    if v == "a.ls" or v == "a.ours" then
        smtp = v == "a.ls" and ls_smtp or ours
        mesgt = top({ intro, { headers = attachment_headers(BIN, "random.bin", "base64"),
                               body = b64_chain() } })
    elseif v == "b.ours" or v == "e.ours" or v == "e.idle" then
        smtp = ours
        mesgt = top({ intro, { headers = attachment_headers(BIN, "random.bin"),
                               body = assert(ours.file(path)) } })
    elseif v == "c.ls" or v == "c.ours" then
        smtp = v == "c.ls" and ls_smtp or ours
        mesgt = many_parts()
    elseif v == "d.ls" then
        smtp = ls_smtp
        mesgt = top({ intro, { headers = attachment_headers(TEXT, "text.txt", "quoted-printable"),
                               body = qp_chain() } })
    elseif v == "d.file" then
        smtp = ours
        mesgt = top({ intro, { headers = attachment_headers(TEXT, "text.txt"),
                               body = assert(ours.file(path, { encoding = "quoted-printable" })) } })
    elseif v == "d.string" then
        smtp = ours
        local f = assert(io.open(path, "rb"))
        local s = f:read("*a")
        f:close()
        mesgt = top({ intro, { headers = attachment_headers(TEXT, "text.txt"), body = s,
                               encoding = "quoted-printable" } })
    else
        die("unknown variant " .. tostring(v))
    end

    -- The peak RSS from here on: the setup's own peak (reading a whole
    -- file into a string, for d.string) is reported apart. Writing 5 to
    -- clear_refs resets VmHWM to the current RSS (Linux >= 4.0).
    local setup_hwm = memory()
    local reset = io.open("/proc/self/clear_refs", "w")
    if reset then
        if not reset:write("5") then setup_hwm = -setup_hwm end
        reset:close()
    else
        setup_hwm = -setup_hwm
    end

    local report = opt.emit and io.stderr or io.stdout
    local n, k, messages = 0, 0, opt["repeat"]
    local wall, cpu = 0, 0
    if opt.idle or v == "e.idle" then
        messages = 0
    else
        local out = opt.emit and io.stdout
        if out and messages ~= 1 then die("--emit writes one message") end
        local t0, c0 = socket.gettime(), os.clock()
        for _ = 1, messages do
            local src = smtp.message(mesgt)
            while true do
                local chunk, err = src()
                if chunk == nil then
                    if err ~= nil then die(v .. ": the message source failed: " .. tostring(err)) end
                    break
                end
                n = n + #chunk
                k = k + 1
                if out then out:write(chunk) end
            end
        end
        wall, cpu = socket.gettime() - t0, os.clock() - c0
        if out then out:flush() end
    end
    local hwm, rss = memory()
    report:write(string.format("RESULT bytes=%d chunks=%d messages=%d input=%d wall=%.6f cpu=%.6f"
        .. " hwm=%d rss=%d setup_hwm=%d\n", n, k, messages, insize or 0, wall, cpu, hwm, rss, setup_hwm))
    os.exit(0)
end

if opt.worker then worker() end

---------------------------------------------------------------------------
-- Orchestrator
---------------------------------------------------------------------------
if not opt.dir then die("--dir is required (bench/message.sh creates the inputs and passes it)") end
local socket = require("socket")

local interp = opt.interp
if not interp then
    local i = -1
    while arg[i - 1] do i = i - 1 end
    interp = arg[i] or (jit and "luajit" or "lua" .. tag)
end
local checker = root .. "/bench/message_check.py"
local dir = opt.dir
local IN = {
    bin = dir .. "/random.bin", bin16 = dir .. "/random16.bin",
    text = dir .. "/text.txt", text16 = dir .. "/text16.txt", big = dir .. "/big.bin",
}
for name, p in pairs(IN) do
    if not (name == "big" and opt["no-big"]) and not file_size(p) then die("missing input " .. p) end
end
local SIZE = {}
for name, p in pairs(IN) do SIZE[name] = file_size(p) end

local function worker_cmd(variant, input, extra)
    local c = interp .. " " .. shell_quote(script) .. " --root " .. shell_quote(root)
        .. " --worker " .. variant
    if input then c = c .. " --input " .. shell_quote(input) end
    if opt["luasocket-smtp"] then c = c .. " --luasocket-smtp " .. shell_quote(opt["luasocket-smtp"]) end
    return c .. (extra or "")
end

local function capture(cmd)
    local p = assert(io.popen(cmd, "r"))
    local out = p:read("*a")
    p:close()
    return out
end

local function parse_result(out, what)
    local line = out:match("RESULT ([^\n]*)")
    if not line then die(what .. " failed:\n" .. out) end
    local r = {}
    for key, val in line:gmatch("([%w_]+)=(%S+)") do r[key] = tonumber(val) end
    return r
end

local function run_worker(variant, input, extra)
    return parse_result(capture(worker_cmd(variant, input, extra) .. " 2>&1"), variant)
end

-- coreutils base64 -w 76, timed by bash's `time` (getrusage of the child).
local function run_base64(input)
    local cmd = "bash -c 'TIMEFORMAT=\"%3R %3U %3S\"; time base64 -w 76 < \"$1\" > /dev/null' bench "
        .. shell_quote(input) .. " 2>&1"
    local out = capture(cmd)
    local w, u, s = out:match("([%d%.]+) ([%d%.]+) ([%d%.]+)%s*$")
    if not w then die("base64 -w 76 failed:\n" .. out) end
    return { wall = tonumber(w), cpu = tonumber(u) + tonumber(s) }
end

---------------------------------------------------------------------------
-- Variants
---------------------------------------------------------------------------
local TEXT_PART_HEX = TEXT_PART:gsub(".", function(c) return string.format("%02x", c:byte()) end)
local function expect(cte, kind)
    return function(path)
        return "--expect 1,-,hex," .. TEXT_PART_HEX .. " --expect " .. shell_quote("2," .. cte .. "," .. kind
            .. "," .. path)
    end
end
local function expect_parts() return "--small-parts " .. PARTS .. " --email-parser" end
local B64, QP = expect("base64", "file"), expect("quoted-printable", "crlf")

-- input: the file fed (timed rounds); small: the 16 MiB one for the email
-- parser; parts: (c); base64: coreutils; idle: no generation.
local VARIANTS = {
    { id = "a.ls", label = "(a) LuaSocket, doc chain (base64)", input = "bin", small = "bin16", check = B64 },
    { id = "a.ours", label = "(a) ours, the same chain", input = "bin", small = "bin16", check = B64 },
    { id = "b.ours", label = "(b) ours, smtp.file (base64)", input = "bin", small = "bin16", check = B64 },
    { id = "b.base64", label = "(b) coreutils base64 -w 76", input = "bin", base64 = true },
    { id = "c.ls", label = "(c) LuaSocket, 2,000 parts", parts = true, check = expect_parts },
    { id = "c.ours", label = "(c) ours, 2,000 parts", parts = true, check = expect_parts },
    { id = "d.ls", label = "(d) LuaSocket, doc chain (QP)", input = "text", small = "text16", check = QP },
    { id = "d.file", label = "(d) ours, smtp.file (QP)", input = "text", small = "text16", check = QP },
    { id = "d.string", label = "(d) ours, string body (QP)", input = "text", small = "text16", check = QP },
    { id = "e.ours", label = "(e) ours, smtp.file, big.bin", input = "big", big = true, check = B64 },
    { id = "e.idle", label = "(e) idle interpreter", input = "big", big = true, idle = true },
}
local BY, ACTIVE = {}, {}
for _, v in ipairs(VARIANTS) do
    BY[v.id] = v
    v.runs = {}
    if not (v.big and opt["no-big"]) then ACTIVE[#ACTIVE + 1] = v end
end

print(string.format("smtp.message benchmark under %s (%s), workers: %s", jit and jit.version or _VERSION,
    socket._VERSION, interp))
print(string.format("  inputs: random.bin %s bytes, text.txt %s bytes%s;", commas(SIZE.bin),
    commas(SIZE.text), opt["no-big"] and "" or (", big.bin " .. commas(SIZE.big) .. " bytes")))
print(string.format("  random16.bin and text16.txt (%s bytes) for the email-parser checks and callgrind;",
    commas(SIZE.bin16)))
print(string.format("  (c): %d parts of 200 bytes, %d messages per run", PARTS, opt["small-messages"]))
print(string.format("  %d rounds, interleaved (even rounds in reverse order); requirements judged on",
    opt.rounds))
print(string.format("  %s time (%s)", opt.clock,
    opt.clock == "cpu" and "user + system time of the generating process" or "wall clock"))
io.stdout:flush()

---------------------------------------------------------------------------
-- 1. Correctness: every variant's output, decoded and compared.
---------------------------------------------------------------------------
local errfile = dir .. "/worker.err"
local wrong = {}
-- The worker writes the message to the checker; its RESULT goes to
-- errfile. Good when the checker says OK, for as many bytes as the
-- worker says it wrote.
local function check_output(v, input, extra)
    local cmd = worker_cmd(v.id, input, " --emit") .. " 2>" .. shell_quote(errfile) .. " | "
        .. opt.python .. " " .. shell_quote(checker) .. " check " .. v.check(input) .. (extra or "")
        .. "; echo \"EXIT=$?\""
    local out = capture(cmd)
    local f = io.open(errfile, "rb")
    local err = f and f:read("*a") or ""
    if f then f:close() end
    local r = err:match("RESULT") and parse_result(err, v.id)
    local total = tonumber(out:match("CHECK OK (%d+)"))
    local ok = r and total and total == r.bytes and out:match("EXIT=0") and true
    return ok, r, out, err
end

print()
print("Output checks (bench/message_check.py: every part decoded strictly, compared with the input):")
for _, v in ipairs(ACTIVE) do
    if v.check then
        local ok, r, out, err = check_output(v, v.input and IN[v.input])
        io.write(string.format("  %-36s %15s bytes  %s\n", v.label, r and commas(r.bytes) or "?",
            ok and "OK" or "WRONG"))
        if ok then
            v.bytes = r.bytes
            for l in out:gmatch("[^\n]+") do
                if l:match("^  part 2") then io.write("    ", l:sub(3), "\n") end
            end
        else
            wrong[#wrong + 1] = v.id
            io.write(out, err)
        end
        if v.small then
            local ok2, r2, out2, err2 = check_output(v, IN[v.small], " --email-parser")
            io.write(string.format("  %-36s %15s bytes  %s (16 MiB input, with Python's email parser too)\n",
                "", r2 and commas(r2.bytes) or "?", ok2 and "OK" or "WRONG"))
            if not ok2 then
                wrong[#wrong + 1] = v.id .. " (16 MiB)"
                io.write(out2, err2)
            end
        end
        io.stdout:flush()
    end
end
os.remove(errfile)

---------------------------------------------------------------------------
-- 2. Timed rounds
---------------------------------------------------------------------------
-- messages/s for (c), MB/s of input otherwise
local function rate(v, r, clock)
    local secs = r[clock]
    if not secs or secs <= 0 then return 0 / 0 end
    if v.parts then return r.messages / secs end
    return SIZE[v.input] / 1e6 / secs
end
local function field(v, name)
    local t = {}
    for i, r in ipairs(v.runs) do t[i] = r[name] end
    return t
end
local function med(v, clock)
    local t = {}
    for i, r in ipairs(v.runs) do t[i] = rate(v, r, clock) end
    return median(t)
end

-- base64's own start-up (exec, dynamic linking), measured on an empty
-- input and subtracted: the workers' clocks start after theirs.
local b64_idle = { runs = {} }

print()
print(string.format("Rounds (%s clock; MB/s of input, (c) messages/s):", opt.clock))
-- Odd rounds run the variants in order, even rounds in reverse (a.ls,
-- a.ours, ..., e.idle, then e.idle, ..., a.ours, a.ls): a drift of the
-- machine's speed during a round then falls on both sides of each pair.
local REVERSED = {}
for i = #ACTIVE, 1, -1 do REVERSED[#REVERSED + 1] = ACTIVE[i] end
for round = 1, opt.rounds do
    for _, v in ipairs(round % 2 == 1 and ACTIVE or REVERSED) do
        local r
        if v.base64 then
            local idle = run_base64("/dev/null")
            b64_idle.runs[round] = idle
            r = run_base64(IN[v.input])
            r.wall, r.cpu = r.wall - idle.wall, r.cpu - idle.cpu
        elseif v.parts then
            r = run_worker(v.id, nil, " --repeat " .. opt["small-messages"])
            if v.bytes and r.bytes ~= v.bytes * opt["small-messages"] then
                die(string.format("%s: %d bytes, the checked run gave %d a message", v.id, r.bytes, v.bytes))
            end
        else
            r = run_worker(v.id, IN[v.input])
            if v.bytes and r.bytes ~= v.bytes then
                die(string.format("%s: %d bytes, the checked run gave %d", v.id, r.bytes, v.bytes))
            end
        end
        v.runs[round] = r
    end
    local line = string.format("  round %d/%d%s:", round, opt.rounds, round % 2 == 1 and "" or " (reversed)")
    for _, v in ipairs(ACTIVE) do
        if not v.idle then
            line = line .. string.format("  %s %.1f", v.id, rate(v, v.runs[round], opt.clock))
        end
    end
    print(line)
    io.stdout:flush()
end

print()
local hdr = string.format("%-36s %-5s", "variant", "unit")
for round = 1, opt.rounds do hdr = hdr .. string.format(" %7s", "r" .. round) end
print(hdr .. string.format(" %8s %8s %8s %8s %8s", "median", "cpu", "wall", "RSS MiB", "setup"))
local reset_ok = true
for _, v in ipairs(ACTIVE) do
    local line = string.format("%-36s %-5s", v.label, v.idle and "" or (v.parts and "msg/s" or "MB/s"))
    for round = 1, opt.rounds do
        line = line .. (v.idle and "       -" or string.format(" %7.1f", rate(v, v.runs[round], opt.clock)))
    end
    if v.idle then
        line = line .. "        -        -        -"
    else
        line = line .. string.format(" %8.1f %8.1f %8.1f", med(v, opt.clock), med(v, "cpu"), med(v, "wall"))
    end
    if v.base64 then
        line = line .. "        -        -"
    else
        local setup = {}
        for i, r in ipairs(v.runs) do
            setup[i] = math.abs(r.setup_hwm)
            if r.setup_hwm < 0 then reset_ok = false end
        end
        line = line .. string.format(" %8.1f %8.1f", median(field(v, "hwm")) / 1024, median(setup) / 1024)
    end
    print(line)
end
print("(MB = 10^6 bytes of input; median, cpu, wall: medians, on the judged clock, CPU time, wall clock.")
if reset_ok then
    print(" RSS: VmHWM at the end of the worker, the peak while generating (VmHWM reset through clear_refs")
    print(" after the setup); setup: VmHWM before that reset (modules, message table, d.string's string")
    print(" and the buffer that read it). Medians of the rounds.")
else
    print(" RSS: VmHWM at the end of the worker; it could not be reset after the setup, so it includes the")
    print(" setup's own peak. Medians of the rounds.")
end
print(string.format(" base64: its start-up on an empty input (%.1f ms CPU, %.1f ms wall) subtracted.)",
    1000 * median(field(b64_idle, "cpu")), 1000 * median(field(b64_idle, "wall"))))
if BY["c.ours"].bytes and BY["c.ls"].bytes then
    local ls, ours = BY["c.ls"], BY["c.ours"]
    print(string.format("((c) one message: LuaSocket %s bytes, ours %s; MB/s of output: LuaSocket %.1f,"
        .. " ours %.1f)",
        commas(ls.bytes), commas(ours.bytes), med(ls, opt.clock) * ls.bytes / 1e6,
        med(ours, opt.clock) * ours.bytes / 1e6))
end
io.stdout:flush()

---------------------------------------------------------------------------
-- 3. Instructions (callgrind) on the 16 MiB inputs
---------------------------------------------------------------------------
local insn = {}
if opt.valgrind ~= "none" then
    local function collected(cmd, what)
        local out = capture(opt.valgrind .. " --tool=callgrind --callgrind-out-file=/dev/null " .. cmd
            .. " 2>&1")
        local n = out:match("Collected%s*:%s*(%d+)")
        if not n then die("callgrind of " .. what .. " failed:\n" .. out) end
        return tonumber(n)
    end
    print()
    print("Instructions (valgrind --tool=callgrind, whole process, on random16.bin or text16.txt,")
    print("minus a run of the same process doing the same setup without generating):")
    local list = {
        { id = "a.ls", label = "(a/b) LuaSocket, doc chain (base64)", input = IN.bin16 },
        { id = "a.ours", label = "(a) ours, the same chain", input = IN.bin16 },
        { id = "b.ours", label = "(b) ours, smtp.file (base64)", input = IN.bin16 },
        { id = "b.base64", label = "(b) coreutils base64 -w 76", input = IN.bin16 },
        { id = "d.ls", label = "(d) LuaSocket, doc chain (QP)", input = IN.text16 },
        { id = "d.file", label = "(d) ours, smtp.file (QP)", input = IN.text16 },
    }
    print(string.format("  %-36s %15s %13s %9s", "variant", "instructions", "baseline", "M/MiB"))
    for _, c in ipairs(list) do
        local run, idle
        if c.id == "b.base64" then
            run = collected("base64 -w 76 " .. shell_quote(c.input), "base64")
            idle = collected("base64 -w 76 /dev/null", "base64")
        else
            run = collected(worker_cmd(c.id, c.input), c.id)
            idle = collected(worker_cmd(c.id, c.input, " --idle"), c.id)
        end
        insn[c.id] = (run - idle) / 1e6 / (file_size(c.input) / MIB)
        print(string.format("  %-36s %15s %13s %9.2f", c.label, commas(run), commas(idle), insn[c.id]))
        io.stdout:flush()
    end
    print("  (M/MiB = (instructions - baseline) / 10^6 / MiB of input)")
end

---------------------------------------------------------------------------
-- 4. Requirements
---------------------------------------------------------------------------
local pass_all = true
local function verdict(ok)
    if not ok then pass_all = false end
    return ok and "PASS" or "FAIL"
end
local function m(id) return med(BY[id], opt.clock) end

print()
print(string.format("Requirements (medians of this run, %s time):", opt.clock))

local ra = m("a.ours") / m("a.ls")
print(string.format("  (a) same chain: ours %.1f MB/s, LuaSocket %.1f MB/s: %.3fx", m("a.ours"), m("a.ls"),
    ra))
print(string.format("      need >= %.2fx (no slower; %g%% allowed for noise)  %s", NEED_A - opt.tolerance,
    opt.tolerance * 100, verdict(ra >= NEED_A - opt.tolerance)))
do
    local paired = "      per round, ours / LuaSocket:"
    for round = 1, opt.rounds do
        paired = paired .. string.format(" %.3f", rate(BY["a.ours"], BY["a.ours"].runs[round], opt.clock)
            / rate(BY["a.ls"], BY["a.ls"].runs[round], opt.clock))
    end
    print(paired)
end
if insn["a.ours"] then
    print(string.format("      instructions: ours %.2f M/MiB, LuaSocket %.2f M/MiB: ours / LuaSocket %.4f",
        insn["a.ours"], insn["a.ls"], insn["a.ours"] / insn["a.ls"]))
end

local rb = m("b.ours") / m("b.base64")
print(string.format("  (b) smtp.file: ours %.1f MB/s, coreutils base64 -w 76 %.1f MB/s: %.2fx"
    .. " (need >= %gx)  %s", m("b.ours"), m("b.base64"), rb, NEED_B_BASE64, verdict(rb >= NEED_B_BASE64)))
print(string.format("      LuaSocket's doc chain %.1f MB/s: ours / LuaSocket %.1fx", m("a.ls"),
    m("b.ours") / m("a.ls")))
if insn["b.ours"] then
    print(string.format("      instructions: ours %.2f M/MiB (need <= %g)  %s", insn["b.ours"], NEED_B_INSN,
        verdict(insn["b.ours"] <= NEED_B_INSN)))
    print(string.format("      LuaSocket %.2f M/MiB, coreutils base64 %.2f M/MiB", insn["a.ls"],
        insn["b.base64"]))
else
    print("      instructions: not measured (--valgrind none)  FAIL")
    pass_all = false
end

local rc = m("c.ours") / m("c.ls")
print(string.format("  (c) 2,000 parts: ours %.1f msg/s, LuaSocket %.1f msg/s: %.2fx (need >= %gx)  %s",
    m("c.ours"), m("c.ls"), rc, NEED_C, verdict(rc >= NEED_C)))

local rdf, rds = m("d.file") / m("d.ls"), m("d.string") / m("d.ls")
print(string.format("  (d) quoted-printable: LuaSocket %.1f MB/s; ours smtp.file %.1f MB/s: %.2fx,",
    m("d.ls"), m("d.file"), rdf))
print(string.format("      string body %.1f MB/s: %.2fx (need >= %gx, both)  %s", m("d.string"), rds, NEED_D,
    verdict(rdf >= NEED_D and rds >= NEED_D)))
if insn["d.file"] then
    print(string.format("      instructions: ours smtp.file %.2f M/MiB, LuaSocket %.2f M/MiB", insn["d.file"],
        insn["d.ls"]))
end

if opt["no-big"] then
    print("  (e) skipped (--no-big)  FAIL")
    pass_all = false
else
    -- the whole process's peak: the larger of the setup's and the run's
    local function peak(r) return math.max(math.abs(r.setup_hwm), r.hwm) end
    local hi = 0
    for _, r in ipairs(BY["e.ours"].runs) do hi = math.max(hi, peak(r)) end
    local idle = {}
    for i, r in ipairs(BY["e.idle"].runs) do idle[i] = peak(r) end
    local lo = median(idle)
    local over = (hi - lo) / 1024
    print(string.format("  (e) %s-byte smtp.file: peak RSS %.1f MiB (highest of %d runs), idle interpreter"
        .. " %.1f MiB", commas(SIZE.big), hi / 1024, #BY["e.ours"].runs, lo / 1024))
    print(string.format("      +%.1f MiB (need < %d MiB)  %s; %.1f MB/s", over, NEED_E_MIB,
        verdict(over < NEED_E_MIB), m("e.ours")))
end
print(string.format("  output checks: %s  %s", #wrong == 0 and "every variant decodes to its input"
    or ("WRONG: " .. table.concat(wrong, ", ")), verdict(#wrong == 0)))
print(string.format("RESULT %s: %s", tag, pass_all and "PASS" or "FAIL"))
os.exit(pass_all and 0 or 1)
