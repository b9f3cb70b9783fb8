--[[
fuzz/bind/fuzz_bind.lua -- the binding fuzzer: random operation sequences on
socket.smtp.core (and socket.smtp's message/file) as a hostile caller and a
hostile server would make them. Meant to run on the ASan+UBSan build of
core.so under Lua 5.4 (fuzz/bind/run.sh does that; see fuzz/README.md).

    lua5.4 fuzz/bind/fuzz_bind.lua [options]
      --seed N        master seed (default: env FUZZ_SEED, else the clock);
                      case i runs with seed N + i
      --iterations N  number of cases (env FUZZ_ITERATIONS)
      --seconds S     time budget (env FUZZ_SECONDS; default 10 when no
                      --iterations is given)
      --replay C      run the one case of seed C, printing its operations
      --seeds FILE    first run the case seeds listed in FILE, then the
                      random ones: one per line, "SEED [avoid=LIST] [note]",
                      "# comments" allowed
      --state FILE    before each case, write its seed to FILE (so that the
                      runner can name the case of a crash)
      --collect FILE  append "SEED FEATURE" for each feature first reached
      --cpath PATTERN where core.so is (default: env FUZZ_BIND_CPATH, else
                      build/asan/?.so)
      --tmpdir DIR    an empty directory for the test files (default: one
                      made with mktemp -d, and removed at the end)
      --no-fifo       no FIFO among the file paths
      --avoid LIST    leave out kinds of operations, to look past a known
                      finding (env FUZZ_BIND_AVOID; names separated by commas):
                      meta (metamethods that collect), numbers (NaN, inf,
                      huge), verify_host, feed (g:feed out of turn), close
                      (__close/__gc called directly), resurrect, sharing
                      (a file body in several generators), bound (header
                      counts near the 128 bound), reentry (finalizers
                      that call methods of live objects), fifo
      --trace         print every operation (as --replay does)

Every operation is pcall'ed: a Lua error raised by the API is an accepted
answer. What is not accepted: a crash, a sanitizer report (the process
aborts), a hang (the runner's timeout), and an "oracle" failure, a property
checked cheaply after an operation (exit status 1):
  - a generator that ends without error has produced every body whole: each
    string, source and file body is found in its output, encoded as the
    part asked (encoded independently with core.encoder);
  - the top-level header block of such a message has MIME-Version: 1.0 and
    a Content-Type; an integer header value is written exactly;
  - a header value or name holding CR, LF or NUL never builds;
  - c:body never takes a chunk with a NUL; a client brought to state body
    and fed random content in random chunks writes what a per-octet model
    of the DATA filter writes, and stops where it does at a NUL
    (ECONTENT_NUL, its octet) or a line's 999th octet (ELINE_TOO_LONG),
    for good, with no NUL on the wire and no end-of-data marker;
  - g:feed is refused when the generator is not waiting for a source chunk;
  - after __close/__gc (called directly, by a <close> variable or by the
    collector, the object then resurrected) a generator never hands out a
    chunk again;
  - verify_host's refusal names the certificate's names printably and with
    a bounded length; encoders give the same output however the input is
    split.
]]

local USAGE = "usage: fuzz_bind.lua [--seed N] [--iterations N] [--seconds S] [--replay SEED]\n"
    .. "       [--seeds FILE] [--state FILE] [--collect FILE] [--cpath PATTERN] [--no-fifo] [--trace]\n"

---------------------------------------------------------------------------
-- Options and paths
---------------------------------------------------------------------------
local opts = { fifo = true }
do
    local i = 1
    local valued = { ["--seed"] = "seed", ["--iterations"] = "iterations", ["--seconds"] = "seconds",
                     ["--replay"] = "replay", ["--seeds"] = "seeds", ["--state"] = "state",
                     ["--collect"] = "collect", ["--cpath"] = "cpath", ["--tmpdir"] = "tmpdir",
                     ["--avoid"] = "avoid" }
    while arg and arg[i] do
        local a = arg[i]
        if valued[a] and arg[i + 1] then
            opts[valued[a]] = arg[i + 1]
            i = i + 2
        elseif a == "--no-fifo" then
            opts.fifo = false
            i = i + 1
        elseif a == "--trace" then
            opts.trace = true
            i = i + 1
        else
            io.stderr:write(USAGE)
            os.exit(2)
        end
    end
end
for _, k in ipairs({ "seed", "iterations", "seconds", "replay" }) do
    if opts[k] ~= nil then
        opts[k] = tonumber(opts[k]) or error("--" .. k .. ": a number expected")
    end
end
opts.seed = opts.seed or tonumber(os.getenv("FUZZ_SEED") or "")
opts.iterations = opts.iterations or tonumber(os.getenv("FUZZ_ITERATIONS") or "")
opts.seconds = opts.seconds or tonumber(os.getenv("FUZZ_SECONDS") or "")
if not opts.iterations and not opts.seconds then opts.seconds = 10 end
local function avoid_set(list)
    local set = {}
    for name in (list or ""):gmatch("[%w_]+") do set[name] = true end
    return set
end
local default_avoid = avoid_set(opts.avoid or os.getenv("FUZZ_BIND_AVOID"))
local avoid = default_avoid     -- the current case's (a seeds line may set its own)
if not opts.seed then opts.seed = os.time() % 1000000 * 1000 end
if opts.replay then
    opts.iterations, opts.seconds, opts.trace = 0, nil, true
end

local root = ((arg and arg[0] or ""):match("^(.*)/fuzz/bind/[^/]*$")) or "."
package.path = root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua;" .. package.path
opts.cpath = opts.cpath or os.getenv("FUZZ_BIND_CPATH")
if opts.cpath == "" then opts.cpath = nil end
package.cpath = (opts.cpath or (root .. "/build/asan/?.so")) .. ";" .. package.cpath

local core = require("socket.smtp.core")
local ok_smtp, smtp = pcall(require, "socket.smtp")
if not ok_smtp then smtp = nil end

local IS54 = _VERSION == "Lua 5.4" and not rawget(_G, "jit")
local unpack = table.unpack or rawget(_G, "unpack")
local random, floor = math.random, math.floor
local concat = table.concat
local char, rep = string.char, string.rep

---------------------------------------------------------------------------
-- Small helpers
---------------------------------------------------------------------------
local function R(n) return random(n) end               -- 1..n
local function chance(p) return random() < p end
local function pick(t) return t[random(#t)] end

local trace_on = opts.trace
if trace_on then io.stdout:setvbuf("line") end   -- a crash or a kill loses nothing
local function trace(...)
    if trace_on then
        local t = { ... }
        for i = 1, select("#", ...) do t[i] = tostring(t[i]) end
        io.stdout:write("  ", concat(t, " "), "\n")
    end
end

-- Shows a value in a trace: strings cut, control bytes escaped.
local function show(v)
    if type(v) ~= "string" then return tostring(v) end
    local s = #v > 40 and (v:sub(1, 40) .. "...(" .. #v .. ")") or v
    return '"' .. s:gsub("[%c\128-\255\"\\]", function(c) return ("\\%d"):format(c:byte()) end) .. '"'
end

-- A table as Lua source, for traces (raw contents; cycles and long
-- strings shown, not followed).
local function dump(v, indent, seen)
    indent, seen = indent or "  ", seen or {}
    if type(v) ~= "table" then return type(v) == "string" and show(v) or tostring(v) end
    if seen[v] then return "<cycle>" end
    seen[v] = true
    local keys = {}
    for k in next, v do keys[#keys + 1] = k end
    table.sort(keys, function(a, b)
        if type(a) == type(b) and (type(a) == "number" or type(a) == "string") then return a < b end
        return type(a) < type(b)
    end)
    local out = {}
    for _, k in ipairs(keys) do
        local key = "[" .. dump(k, "", {}) .. "] = "
        out[#out + 1] = indent .. "  " .. key .. dump(rawget(v, k), indent .. "  ", seen)
    end
    seen[v] = nil
    local mt = getmetatable(v) and " <metatable>" or ""
    return "{" .. mt .. "\n" .. concat(out, ",\n") .. "\n" .. indent .. "}"
end

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local b64val = {}
for i = 1, 64 do b64val[B64:byte(i)] = i - 1 end

local function b64enc(s)
    local out = {}
    for i = 1, #s, 3 do
        local a, b, c = s:byte(i, i + 2)
        local n = a * 65536 + (b or 0) * 256 + (c or 0)
        local d1, d2 = floor(n / 262144) % 64, floor(n / 4096) % 64
        local d3, d4 = floor(n / 64) % 64, n % 64
        out[#out + 1] = B64:sub(d1 + 1, d1 + 1) .. B64:sub(d2 + 1, d2 + 1)
            .. (b and B64:sub(d3 + 1, d3 + 1) or "=") .. (c and B64:sub(d4 + 1, d4 + 1) or "=")
    end
    return concat(out)
end

local function b64dec(s)
    local out, n, bits = {}, 0, 0
    for i = 1, #s do
        local v = b64val[s:byte(i)]
        if v then
            n, bits = n * 64 + v, bits + 6
            if bits >= 8 then
                bits = bits - 8
                local byte = floor(n / 2 ^ bits) % 256
                out[#out + 1] = char(byte)
                n = n % 2 ^ bits
            end
        end
    end
    return concat(out)
end

-- The whole encoding of s, as the generator must write a body encoded so
-- (an independent path: the core.encoder binding, in one piece).
local function encoded(s, enc)
    local kind = enc
    if enc == "7bit" or enc == "8bit" then kind = "eol" end
    local e = core.encoder(kind)
    return e:update(s) .. e:finish()
end

local function randbytes(n, lo, hi)
    local t = {}
    for i = 1, n do t[i] = char(random(lo or 0, hi or 255)) end
    return concat(t)
end

---------------------------------------------------------------------------
-- Failures, features, counters
---------------------------------------------------------------------------
local stats = { cases = 0, ops = 0, errors = 0, checks = 0 }
local current_seed
local features_seen = {}
local collect_file = opts.collect and assert(io.open(opts.collect, "a"))

local function feature(name)
    if not features_seen[name] then
        features_seen[name] = current_seed
        if collect_file then
            collect_file:write(("%d %s\n"):format(current_seed, name))
            collect_file:flush()
        end
    end
end

local bombed = false  -- finalizers of this case call methods behind our back

local function oracle(cond, fmt, ...)
    stats.checks = stats.checks + 1
    if cond then return end
    local msg = fmt:format(...)
    io.stdout:write(("ORACLE FAILURE (case seed %d): %s\n"):format(current_seed, msg))
    io.stdout:write(("replay: fuzz/bind/run.sh --replay %d\n"):format(current_seed))
    io.stdout:flush()
    os.exit(1)
end

-- pcall that counts; the error is kept for traces.
local function try(f, ...)
    stats.ops = stats.ops + 1
    local r = { pcall(f, ...) }
    if not r[1] then
        stats.errors = stats.errors + 1
        trace("  raised:", show(tostring(r[2])))
    end
    return unpack(r, 1, 8)
end

local function gc()
    local r = R(10)
    if r <= 3 then
        collectgarbage("collect")
    elseif r <= 9 then
        collectgarbage("step", R(64))
    elseif IS54 then
        collectgarbage(chance(0.5) and "generational" or "incremental")
    end
end

---------------------------------------------------------------------------
-- Files (made once, the same for every case)
---------------------------------------------------------------------------
local tmpdir
local files = {}    -- { path, content } of regular files
local paths = {}    -- every path a file body may name
local paths_all, paths_nofifo = paths, paths

local function setup_files()
    if opts.tmpdir then
        tmpdir = opts.tmpdir
    else
        local p = io.popen("mktemp -d /tmp/smtp-native-bindfuzz.XXXXXXXX")
        tmpdir = p and p:read("*l")
        if p then p:close() end
        assert(tmpdir and tmpdir:match("^/tmp/smtp%-native%-bindfuzz%.%w+$"), "mktemp -d failed")
    end
    local saved = random(1, 2 ^ 30)
    math.randomseed(4242)
    local contents = {
        "",
        "hello\r\nworld\n.\r\nFrom me\r\n",
        randbytes(1000),
        randbytes(48 * 1024 + 1),
        randbytes(320000),
        rep(randbytes(70, 32, 126) .. "\n", 40) .. rep("x", 1500),
    }
    math.randomseed(saved)
    for i, content in ipairs(contents) do
        local path = ("%s/file%d%s"):format(tmpdir, i, i == 3 and " with \"quotes\\" or "")
        local f = assert(io.open(path, "wb"))
        f:write(content)
        f:close()
        files[#files + 1] = { path = path, content = content }
        paths[#paths + 1] = path
    end
    paths[#paths + 1] = tmpdir                   -- a directory
    paths[#paths + 1] = tmpdir .. "/missing"     -- absent
    paths[#paths + 1] = "/dev/null"              -- a device
    paths_nofifo = { unpack(paths) }
    if opts.fifo then
        local fifo = tmpdir .. "/fifo"
        if os.execute("mkfifo '" .. fifo .. "' 2>/dev/null") then
            paths[#paths + 1] = fifo
        end
    end
    paths_all = paths
end

local function cleanup_files()
    if tmpdir and not opts.tmpdir and tmpdir:match("^/tmp/smtp%-native%-bindfuzz%.%w+$") then
        os.execute("rm -rf '" .. tmpdir .. "'")
    end
end

local function content_of(path)
    for _, f in ipairs(files) do
        if f.path == path then return f.content end
    end
end

---------------------------------------------------------------------------
-- Random values
---------------------------------------------------------------------------
local ENCODINGS = { "base64", "quoted-printable", "7bit", "8bit", "auto" }
local BAD_ENCODINGS = { "BASE64", "x-uuencode", "", "base64\0", 7 }
local KNOWN_HEADERS = { "date", "from", "sender", "reply-to", "to", "cc", "bcc", "subject",
    "message-id", "in-reply-to", "references", "mime-version", "content-type",
    "content-transfer-encoding", "content-disposition", "content-description",
    "content-id", "x-mailer", "Content-Type", "MIME-Version", "DATE", "X-Mailer" }

-- A fresh string (made at run time, so that it can be collected).
local function str(kind)
    kind = kind or R(20)
    if kind <= 5 then
        return "v" .. R(100000) .. randbytes(R(12), 97, 122)
    elseif kind == 6 then
        return ""
    elseif kind == 7 then
        return "a\r\nBcc: x@evil" .. R(9)
    elseif kind == 8 then
        return "nul\0" .. R(99)
    elseif kind == 9 then
        return randbytes(R(40))
    elseif kind == 10 then
        return rep("long" .. R(9), R(400))
    elseif kind == 11 then
        return randbytes(R(3000) + 1000, 32, 126)
    elseif kind == 12 then
        return "caf\195\169 \226\130\172 " .. R(99)
    elseif kind == 13 then
        return "<user" .. R(99) .. "@example.com>"
    elseif kind == 14 then
        return "=_" .. randbytes(10, 48, 57) .. "\r\n.\r\n"
    elseif kind == 15 then
        return rep("x", 20000 + R(50000))
    elseif kind == 16 then
        return chance(0.2) and rep("M", 1024 * 1024 + R(99)) or rep("m", 5000 + R(5000))
    elseif kind == 17 then
        return "\r" .. R(9) .. "\n"
    elseif kind == 18 then
        return " folded\r\n continued " .. R(9)
    elseif kind == 19 then
        return rep("word ", R(300)) .. R(9)
    end
    return b64enc(randbytes(R(60)))
end

local NUMBERS = { 0, -1, 1.5, 0 / 0, -(0 / 0), 1 / 0, -1 / 0, 2 ^ 63, -2 ^ 63, 2 ^ 64, 1e308, -1e-300,
    2 ^ 53, 2 ^ 53 + 2, 255, 3.0 }
if math.type then
    NUMBERS[#NUMBERS + 1] = math.maxinteger
    NUMBERS[#NUMBERS + 1] = math.mininteger
    NUMBERS[#NUMBERS + 1] = 9007199254740993
    NUMBERS[#NUMBERS + 1] = math.tointeger(2 ^ 62) + 1
end

local ALL_NUMBERS, SAFE_NUMBERS = NUMBERS, { 0, -1, 1.5, 255, 3.0, 2 ^ 40 }

local live = {}  -- objects of the current case, for wrong-self calls

local function anyvalue(depth)
    depth = depth or 0
    local r = R(14)
    if r <= 4 then return str() end
    if r == 5 then return pick(NUMBERS) end
    if r == 6 then return nil end
    if r == 7 then return chance(0.5) end
    if r == 8 and depth < 3 then
        local t = {}
        for i = 1, R(4) do t[i] = anyvalue(depth + 1) end
        if chance(0.3) then t.dns = { str() } end
        return t
    end
    if r == 9 and #live > 0 then return pick(live) end
    if r == 10 then return function() return str() end end
    if r == 11 then return coroutine.create(function() end) end
    if r == 12 then return R(300) - 20 end
    return str(R(9))
end

local function randargs()
    local n = R(5) - 1
    local t = {}
    for i = 1, n do t[i] = anyvalue() end
    return t, n
end

---------------------------------------------------------------------------
-- Wrong self: any method of any class, called on any object
---------------------------------------------------------------------------
local method_tables = {}   -- { name = class, methods = __index, meta = metatable }

local function learn(obj)
    local mt = getmetatable(obj)
    if type(mt) ~= "table" then return end
    for _, m in ipairs(method_tables) do
        if m.meta == mt then return end
    end
    method_tables[#method_tables + 1] = { meta = mt, methods = rawget(mt, "__index") }
end

local function wrong_self()
    if #method_tables == 0 then return end
    local m = pick(method_tables)
    local fns = {}
    if type(m.methods) == "table" then
        for k, v in pairs(m.methods) do
            if type(v) == "function" then fns[#fns + 1] = { k, v } end
        end
    end
    for _, k in ipairs({ "__gc", "__close", "__tostring" }) do
        local v = rawget(m.meta, k)
        if type(v) == "function" then fns[#fns + 1] = { k, v } end
    end
    if #fns == 0 then return end
    table.sort(fns, function(a, b) return a[1] < b[1] end)
    local f = pick(fns)
    local self = chance(0.7) and #live > 0 and pick(live) or anyvalue()
    local args, n = randargs()
    trace("wrong self:", f[1], "on", type(self))
    feature("wrong_self")
    try(f[2], self, unpack(args, 1, n))
end

local arm_bombs
local function track(obj)
    if obj ~= nil and (type(obj) == "userdata" or type(obj) == "table") then
        live[#live + 1] = obj
        learn(obj)
        if #live > 40 then table.remove(live, R(#live)) end
        local n = live.__arm
        if n and R(3) == 1 then
            live.__arm = nil
            arm_bombs(n)
        end
    end
    return obj
end

---------------------------------------------------------------------------
-- The client engine (core.new), fed by a hostile server
---------------------------------------------------------------------------
local REPLY_CODES = { 220, 221, 235, 250, 250, 250, 251, 334, 354, 421, 450, 451, 500, 501, 503,
    530, 535, 550, 552, 554 }
local EHLO_LINES = { "PIPELINING", "SIZE 1000", "SIZE 0", "SIZE 99999999999999999999", "8BITMIME",
    "SMTPUTF8", "STARTTLS", "ENHANCEDSTATUSCODES", "DSN", "XQUE", "CHUNKING",
    "AUTH PLAIN LOGIN CRAM-MD5 DIGEST-MD5 SCRAM-SHA-1 SCRAM-SHA-256 XOAUTH2 OAUTHBEARER",
    "AUTH=LOGIN", "auth plain", "SIZE", "X", "AUTH PLAIN,LOGIN", "AUTH\tCRAM-MD5,,XOAUTH2",
    "AUTH=SCRAM-SHA-1 ,, plain" }

local function reply_text()
    local code = chance(0.9) and pick(REPLY_CODES) or R(999)
    local r = R(10)
    if r <= 5 then
        return ("%d %s\r\n"):format(code, chance(0.3) and "2.1.0 ok" or "ok")
    elseif r <= 7 then
        local lines = {}
        local n = R(8)
        for i = 1, n do
            lines[i] = ("%d%s%s\r\n"):format(code, i < n and "-" or " ",
                                             i == 1 and "mx.example.com" or pick(EHLO_LINES))
        end
        return concat(lines)
    elseif r == 8 then
        return ("%d %s\r\n"):format(code, rep("x", R(9000)))
    elseif r == 9 then
        return randbytes(R(50))
    end
    local lines = {}
    for i = 1, R(120) do lines[i] = ("%d-%d\r\n"):format(code, i) end
    return concat(lines) .. code .. " end\r\n"
end

local MECHS = { "PLAIN", "LOGIN", "CRAM-MD5", "DIGEST-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256", "XOAUTH2",
    "OAUTHBEARER", "plain", "NOPE", "", "X-" .. rep("A", 30) }

local function challenge_for(last_write)
    -- a well-formed answer to what the client last sent, where we can
    local b = last_write and last_write:match("^AUTH SCRAM%-SHA%-[%d]+ ([%w+/=]+)\r\n$")
    if b then
        local nonce = b64dec(b):match("r=([^,]*)")
        if nonce then
            feature("scram_server_first")
            return "334 " .. b64enc("r=" .. nonce .. "srv" .. R(99) .. ",s=" .. b64enc("salt")
                .. ",i=" .. pick({ 1, 2, 4096, 0, -1 }))
                .. "\r\n"
        end
    end
    if chance(0.5) then
        return "334 " .. b64enc(pick({ "<1896.697170952@postoffice.example.net>",
            'realm="r",nonce="n' .. R(99) .. '",qop="auth",charset=utf-8,algorithm=md5-sess',
            "r=bad,s=,i=1", "v=" .. b64enc(randbytes(32)), "e=other-error",
            '{"status":"invalid_token"}', randbytes(R(300)) })) .. "\r\n"
    end
    return "334 " .. pick({ "", "!!!", rep("QUFB", R(600)), str(9) }) .. "\r\n"
end

-- The DATA filter as RFC 5321 4.5.2 and 4.5.3.1.6 and RFC 5322 3.5 say,
-- one octet at a time: the wire bytes for content s (with the end-of-data
-- marker), or those before the octet where it must stop, that octet and
-- the error's name (a NUL first; then a line's 999th octet).
local function body_model(s)
    local out, col, state = {}, 0, "bol"
    for i = 1, #s do
        local ch = s:sub(i, i)
        if ch == "\0" then return concat(out), i, "ECONTENT_NUL" end
        if ch == "\r" then
            out[#out + 1] = "\r\n"
            state, col = "cr", 0
        elseif ch == "\n" then
            if state ~= "cr" then out[#out + 1] = "\r\n" end
            state, col = "bol", 0
        else
            if col == 998 then return concat(out), i, "ELINE_TOO_LONG" end
            out[#out + 1] = (ch == "." and state ~= "mid") and ".." or ch
            state, col = "mid", col + 1
        end
    end
    out[#out + 1] = state == "mid" and "\r\n.\r\n" or ".\r\n"
    return concat(out)
end

-- A client brought to state body, fed content in random chunks (NULs,
-- long lines, dots, every line break): the wire is the model's; a NUL or
-- a long line stops it where the model does, with the model's error and
-- (for a NUL) octet, no NUL on the wire and no end-of-data marker ever.
local function body_case()
    local c = core.new() -- not tracked: no finalizer of the case may call it
    local function answer(reply)
        local fed = false
        for _ = 1, 10 do
            local act = c:next()
            if act == "read" then
                if fed then return end
                c:feed(reply)
                fed = true
            elseif act == "idle" then
                return
            end
        end
    end
    c:greeting()
    answer("220 mx.example.com ok\r\n")
    c:ehlo("client.example.com")
    answer("250 ok\r\n")
    c:mail("<a@example.com>")
    answer("250 ok\r\n")
    c:rcpt("<b@example.com>")
    answer("250 ok\r\n")
    c:data()
    answer("354 go ahead\r\n")
    oracle(c:state() == "body", "body case: not in state body (%s)", tostring(c:state()))
    feature("body_case")
    local pieces = {}
    for i = 1, R(40) do
        local r = R(100)
        pieces[i] = r <= 30 and randbytes(R(60), 97, 122) or r <= 45 and pick({ "\r\n", "\n", "\r" })
            or r <= 55 and "." or r <= 60 and "\0" or r <= 68 and rep("x", 900 + R(200))
            or r <= 80 and randbytes(R(30)) or str()
    end
    local content = concat(pieces)
    local want, at, why = body_model(content)
    local wire, off = {}, 0
    while off < #content do
        local n = math.min(#content - off, chance(0.2) and 1 or R(3000))
        local chunk = content:sub(off + 1, off + n)
        local out, msg, name = c:body(chunk)
        if out == nil then
            local got = concat(wire)
            oracle(why ~= nil, "body case: c:body refused content the model takes: %s %s",
                   show(msg), show(content))
            oracle(name == why, "body case: %s where the model says %s", show(name), show(why))
            if why == "ELINE_TOO_LONG" then feature("body_case_long") end
            if why == "ECONTENT_NUL" then
                feature("body_case_nul")
                oracle(msg:find("at octet " .. at .. " ", 1, true) ~= nil,
                       "body case: %s for a NUL at octet %d", show(msg), at)
            end
            oracle(want:sub(1, #got) == got and not got:find("\0", 1, true),
                   "body case: the wire before the refusal is not the model's")
            local again, _, name2 = c:body("x\r\n")
            local ended, _, name3 = c:body_end()
            oracle(again == nil and name2 == why and ended == nil and name3 == why,
                   "body case: the failure did not stick (%s, %s)", show(name2), show(name3))
            return
        end
        wire[#wire + 1] = out
        off = off + n
    end
    oracle(why == nil, "body case: %s content taken whole: %s", tostring(why), show(content))
    feature("body_case_whole")
    oracle(c:body_end() == true, "body case: body_end refused content the model takes")
    local act, data = c:next()
    if act == "write" then wire[#wire + 1] = data end
    local got = concat(wire)
    oracle(got == want, "body case: wire %s, model %s", show(got), show(want))
end

local function client_case()
    local c = track(core.new())
    local x                     -- a SASL client, maybe
    local input = ""            -- server bytes not yet fed
    local last_write
    for _ = 1, R(120) do
        local r = R(100)
        if r <= 40 then
            local act, a = c:next()
            trace("c:next ->", act, show(a))
            if act == "write" then
                last_write = a
            elseif act == "read" then
                if #input == 0 then
                    input = chance(0.4) and challenge_for(last_write) or reply_text()
                end
                local n = math.min(#input, chance(0.8) and (tonumber(a) or 1) or R(#input + 5))
                n = math.max(n, 1)
                local piece = input:sub(1, n)
                input = input:sub(n + 1)
                if chance(0.03) then piece = nil end
                trace("c:feed", show(piece))
                try(c.feed, c, piece)
            elseif act == "challenge" then
                local k = R(4)
                if k == 1 and x then
                    trace("x:step")
                    try(x.step, x, c, chance(0.8) and a or str())
                elseif k == 2 then
                    try(c.auth_response, c, str())
                elseif k == 3 then
                    try(c.auth_cancel, c)
                end
            end
        elseif r <= 65 then
            local calls = {
                function() return c:greeting() end,
                function() return c:ehlo(chance(0.8) and "client.example.com" or str(), chance(0.5)) end,
                function() return c:helo(chance(0.8) and "client.example.com" or str()) end,
                function()
                    return c:mail(chance(0.7) and "<a@example.com>" or str(), chance(0.3) and str() or nil)
                end,
                function()
                    return c:rcpt(chance(0.7) and "<b@example.com>" or str(), chance(0.3) and str() or nil)
                end,
                function() return c:data() end,
                function() return c:rset() end,
                function() return c:noop() end,
                function() return c:quit() end,
                function() return c:auth_plain(str(), str()) end,
                function() return c:auth_login(str(), str()) end,
                function() return c:auth(pick(MECHS), chance(0.5) and str() or nil) end,
                function() return c:starttls() end,
                function() return c:tls_done() end,
                function() return c:lost() end,
                function()
                    -- a NUL never passes the DATA filter (RFC 5322 3.5)
                    local chunk = str()
                    local out, msg, name = c:body(chunk)
                    if chunk:find("\0", 1, true) then
                        oracle(out == nil, "c:body took a chunk with a NUL: %s", show(chunk))
                        if c:state() == "body" then
                            feature("body_nul")
                            -- (or the line before it was too long, now or before)
                            oracle(name == "ECONTENT_NUL" or name == "ELINE_TOO_LONG",
                                   "c:body refused a NUL with %s", show(name))
                        end
                    end
                    oracle(out == nil or not out:find("\0", 1, true), "c:body wrote a NUL")
                    return out, msg, name
                end,
                function() return c:body_end() end,
                function() return c:has(pick(EHLO_LINES)) end,
                function() return c:caps() end,
                function() return c:mechs() end,
                function() return c:size(), c:state(), c:pending(), c:discarded(), tostring(c) end,
                function()
                    x = track(core.sasl(pick(MECHS), {
                        user = chance(0.9) and "alice" or anyvalue(),
                        password = chance(0.9) and "pw" or anyvalue(),
                        token = chance(0.3) and str() or nil, authzid = chance(0.2) and str() or nil,
                        host = chance(0.5) and "mx.example.com" or nil, realm = chance(0.2) and str() or nil,
                        service = chance(0.1) and str() or nil, port = chance(0.2) and anyvalue() or nil,
                    }))
                    return x
                end,
                function() if x then return x:start(c) end end,
                function() if x then return x:success() end end,
                function()
                    if x then
                        feature("sasl_cleared")
                        return x:clear()
                    end
                end,
                function() if x then return x:step(c, str()) end end,
                function() return core.sasl_choose(pick(EHLO_LINES), chance(0.5) and pick(MECHS) or nil,
                                                   chance(0.5), chance(0.5)) end,
                function()
                    -- the choice among the parsed AUTH lines: a name from c:mechs(), or a refusal
                    local m, msg, name = c:sasl_choose(chance(0.5) and pick(MECHS) or nil,
                                                       chance(0.5), chance(0.5))
                    if m ~= nil then
                        local known = false
                        for _, k in ipairs(c:mechs()) do known = known or k == m end
                        oracle(known, "c:sasl_choose chose %s, not offered", show(m))
                    else
                        oracle(name == "ESASL_NO_MECH" or name == "ESASL_BAD_MECH",
                               "c:sasl_choose refused with %s (%s)", show(name), show(msg))
                    end
                    return m, msg, name
                end,
            }
            local k = R(#calls)
            trace("client call", k)
            try(calls[k])
        elseif r <= 80 then
            -- any client method, random arguments
            local names = {}
            for k in pairs(getmetatable(c).__index) do names[#names + 1] = k end
            table.sort(names)
            local name = pick(names)
            local args, n = randargs()
            trace("c:" .. name, "(random args)")
            try(getmetatable(c).__index[name], c, unpack(args, 1, n))
        elseif r <= 88 then
            wrong_self()
        elseif r <= 92 then
            gc()
        elseif r <= 95 and x then
            local mt = getmetatable(x)
            trace("x:__gc")
            feature("sasl_gc")
            try(chance(0.5) and mt.__gc or mt.__close, x)
        else
            input = input .. reply_text()
        end
    end
    -- drawn after the case, so that what it did before stays the same
    if chance(0.3) then try(body_case) end
end

---------------------------------------------------------------------------
-- verify_host, check, ip, random, encoders
---------------------------------------------------------------------------
local function name_list(max)
    local t = {}
    for i = 1, R(max) - 1 do
        local r = R(10)
        if r <= 6 then
            t[i] = rep("a", R(255)) .. i .. ".example.com"
        elseif r == 7 then
            t[i] = "*." .. str(1)
        elseif r == 8 then
            t[i] = R(255) .. "." .. R(255) .. ".0.1"
        else
            t[i] = anyvalue()
        end
    end
    return t
end

local function misc_case()
    for _ = 1, R(20) do
        local r = R(8)
        if r <= 3 and not avoid.verify_host then
            local names = { dns = chance(0.8) and name_list(60) or anyvalue(),
                            ip = chance(0.4) and name_list(10) or nil,
                            cn = chance(0.5) and name_list(5) or nil }
            if chance(0.2) then
                local inner = names
                names = setmetatable({}, { __index = function(_, k)
                    gc()
                    return inner[k]
                end })
                feature("verify_host_meta")
            end
            local host = chance(0.8) and "mail.example.com" or (chance(0.5) and "127.0.0.1" or str())
            trace("verify_host", show(host))
            local ok, res, msg = try(core.verify_host, host, names)
            if ok and res == nil and type(host) == "string" and not host:find("[%z\r\n]") then
                oracle(type(msg) == "string", "verify_host: no message")
                local at = msg:find('": it holds ', 1, true)
                oracle(at ~= nil, "verify_host: message %s", show(msg))
                local tail = msg:sub(at + 12)
                oracle(not tail:find("[^\32-\126]"), "verify_host: unprintable bytes in %s", show(tail))
                oracle(#tail < 40 * 300, "verify_host: message of %d bytes", #tail)
                if #msg > 1024 then feature("verify_host_long_refusal") end
            end
        elseif r == 4 then
            try(core.check, pick({ "from", "rcpt", "domain", "text", "x", 1 }), anyvalue())
            try(core.ip, anyvalue())
            try(core.random, anyvalue())
        elseif r <= 6 then
            local kind = pick({ "base64", "quoted-printable", "eol", "x" })
            local eopts = chance(0.5) and { linelen = pick({ 0, 4, 76, 996, 3, -4, 1000, 0 / 0 }),
                                            binary = anyvalue(), safe = anyvalue() } or nil
            local ok, e = try(core.encoder, kind, eopts)
            if ok and e then
                track(e)
                local s = randbytes(R(3000))
                local whole = e:update(s) .. e:finish()
                local parts, at = {}, 1
                while at <= #s do
                    local n = R(200)
                    parts[#parts + 1] = e:update(s:sub(at, at + n - 1))
                    at = at + n
                    if chance(0.05) then gc() end
                end
                parts[#parts + 1] = e:finish()
                oracle(bombed or concat(parts) == whole, "encoder %s: split output differs", kind)
            end
            try(core.choose, anyvalue())
        elseif r == 7 then
            wrong_self()
        else
            gc()
        end
    end
end

---------------------------------------------------------------------------
-- Message tables
---------------------------------------------------------------------------
local CTX   -- the message case being built

-- In a clean message (CTX.clean) every name and value is well-formed, so
-- that whole messages are built and the oracles see them; now and then one
-- header is made bad on purpose (CTX.inject).
local CLEAN_TYPES = { "text/plain", 'text/html; charset="utf-8"', "multipart/alternative",
    "application/octet-stream; name=\"a.bin\"" }

local function header_name(i)
    local r = R(20)
    if CTX.clean then
        -- (distinct names: a count near the bound stays near it)
        local known = { "Subject", "From", "To", "content-type", "X-Mailer", "Date" }
        if known[i] and r <= 15 then return known[i] end
        return "X-Fuzz-" .. i .. "-" .. R(1000)
    end
    if r <= 6 then return pick(KNOWN_HEADERS) end
    if r <= 16 then return "X-Fuzz-" .. R(100000) end
    if r == 17 then return "x-a\r\nbcc" end
    if r == 18 then return "X-N\0ul" end
    if r == 19 then return rep("X", R(100)) end
    return str()
end

local function header_value(name)
    local r = R(30)
    if CTX.clean then
        if name == "content-type" then return pick(CLEAN_TYPES) end
        if r <= 27 then return "value " .. R(100000) .. " " .. randbytes(R(30), 97, 122) end
        if r <= 28 then return str(12) end
        return math.type and R(100000) or 1.5
    end
    if r <= 18 then
        return "value " .. R(100000) .. " " .. randbytes(R(30), 97, 122)
    elseif r <= 21 then
        local v = pick(NUMBERS)
        feature(v ~= v and "num_nan" or (v == 1 / 0 or v == -1 / 0) and "num_inf" or "num_header")
        return v
    elseif r <= 22 then
        return anyvalue()
    end
    return str()
end

-- Does a header value (as given) have to be refused?
local function bad_text(v)
    return type(v) == "string" and v:find("[%z\r\n]") ~= nil
end

local function make_headers(part_info)
    local n
    local r = avoid.bound and R(14) or R(20)
    if r <= 14 then
        n = R(8) - 1
    elseif r <= 18 then
        n = 124 + R(6)       -- around LMIME_HEADERS_MAX: 125..130
        local what = n >= 126 and n <= 128 and "126_128" or "many"
        feature("headers_" .. what .. (CTX.clean and "_clean" or ""))
    else
        n = R(140)
    end
    local listed = chance(0.3)
    local h = {}
    for i = 1, n do
        local name = header_name(i)
        local value = header_value(name)
        if type(value) == "number" and chance(0.5) then
            name = "X-Num-" .. i .. "-" .. R(1000)
        end
        if listed then
            h[i] = chance(0.97) and { name, value } or anyvalue()
        else
            h[name] = value
        end
    end
    if CTX.inject and chance(0.3) then
        -- one bad header in an otherwise clean message: it must be refused
        CTX.inject = false
        local name, value = "X-Bad-" .. R(99), pick({ "a\0b", "a\r\nBcc: x@evil", "\n", "v\r" })
        if part_info.multipart or chance(0.3) then
            name, value = "Content-Type", pick({ "multipart/mixed\0; x=y", "multipart/mixed\r\nBcc: x" })
        elseif chance(0.2) then
            name, value = pick({ "X-N\0ul", "x-a\r\nbcc", "X-Sp ace" }), "value"
        end
        feature(part_info.multipart and name == "Content-Type" and "inject_multipart_type" or "inject_header")
        if listed then h[#h + 1] = { name, value } else h[name] = value end
    end
    if listed and n > 0 then feature("headers_listed") end
    -- what the table holds in the end (a name may have come twice); the
    -- generator replaces MIME-Version (top level) and Content-Transfer-
    -- Encoding (with `encoding`) without reading the caller's value
    local replaced = { ["mime-version"] = true, ["content-transfer-encoding"] = true }
    local function note(name, value)
        if type(name) == "string" and name:lower() == "content-transfer-encoding" then
            part_info.cte_header = true -- a body given no encoding is then sent as given
        end
        if type(name) == "string" and name:lower() == "content-type" then
            -- a multipart or message type: a body given no encoding is sent as given
            part_info.ct_count = (part_info.ct_count or 0) + 1
            if type(value) == "string" and (value:lower():match("^[ \t\r\n]*multipart/")
                or value:lower():match("^[ \t\r\n]*message/")) then
                part_info.ct_composite = true
            end
        end
        if math.type and math.type(value) == "integer" and type(name) == "string"
            and name:match("^X%-Num%-") then
            part_info.ints[#part_info.ints + 1] = value
        end
        if type(name) == "string" and not replaced[name:lower()]
            and (bad_text(value) or name:find("[%z\r\n:%s]")) then
            part_info.bad = ("%s: %s"):format(show(name), show(value))
        end
    end
    if listed then
        for _, pair in ipairs(h) do
            if type(pair) == "table" then note(pair[1], pair[2]) end
        end
    else
        for name, value in pairs(h) do note(name, value) end
    end
    return h
end

-- A Lua source: chunks, made lazily; records what it handed out.
local function make_source(expect)
    local n = R(6) - 1
    local given = {}
    local i = 0
    local hostile = not CTX.clean and chance(0.15)
    expect.given = given
    return function()
        i = i + 1
        if chance(0.2) then gc() end
        if hostile and chance(0.3) then
            feature("source_bad_chunk")
            expect.spoiled = true
            local r = R(4)
            if r == 1 then error("source failed " .. R(9)) end
            if r == 2 then return nil, "source error " .. R(9) end
            return pick({ 42, {}, true, function() end })
        end
        if i > n then return nil end
        local s = (CTX.clean or chance(0.8)) and str(pick({ 1, 2, 9, 10, 11, 12, 17, 19 })) or str()
        given[#given + 1] = s
        return s
    end
end

local make_part

local function make_body(info, depth)
    if depth == 0 and not CTX.clean and chance(0.01) then
        -- multiparts nested around the generator's bound (32)
        local n = 28 + R(8)
        local body = { { body = str(1) } }
        for _ = 2, n do body = { { body = body } } end
        feature("deep_nesting")
        return body, "other"
    end
    local r = R(100)
    if r <= 18 and depth < 4 or r <= 2 then
        -- multipart
        local body = {}
        local nparts = R(4) - (chance(0.1) and 1 or 0)
        if chance(0.02) then nparts = 20 + R(30) end
        for i = 1, nparts do
            if CTX.parts > 60 then break end
            body[i] = make_part(depth + 1)
        end
        if chance(0.3) then body.preamble = (CTX.clean or chance(0.8)) and str(1) or anyvalue() end
        if chance(0.3) then body.epilogue = (CTX.clean or chance(0.8)) and str(1) or anyvalue() end
        return body, "multipart"
    elseif r <= 45 or (CTX.clean and r > 90) then
        local s = (CTX.clean or chance(0.8)) and str(pick({ 1, 2, 9, 10, 11, 12, 14, 15, 17, 19 })) or str()
        info.content = s
        return s, "string"
    elseif r <= 65 then
        local f = pick(CTX.files)
        if f.obj and not (avoid.sharing and f.users > 0) then
            info.file = f
            f.users = f.users + 1
            return f.obj, "file"
        end
        return str(), "string"
    elseif r <= 85 then
        local src = make_source(info)
        return src, "source"
    elseif r <= 90 then
        info.content = ""
        return nil, "nil"
    end
    return anyvalue(), "other"
end

function make_part(depth)
    CTX.parts = CTX.parts + 1
    local info = { ints = {}, depth = depth }
    CTX.infos[#CTX.infos + 1] = info
    local own = #CTX.infos
    local part = {}
    local body, kind = make_body(info, depth)
    info.kind = kind
    info.multipart = kind == "multipart"
    if chance(0.85) then part.headers = make_headers(info) end
    part.body = body
    if chance(0.35) and not (CTX.clean and kind == "multipart") then
        local e = (CTX.clean or chance(0.9)) and pick(ENCODINGS) or pick(BAD_ENCODINGS)
        part.encoding = e
        info.enc = e
    end
    if not avoid.meta and not CTX.clean and chance(0.12) then
        -- fields served by a metamethod that drops headers and collects
        local raw = part
        local hidden = { body = raw.body, encoding = raw.encoding }
        raw.body, raw.encoding = nil, nil
        local drops = chance(0.7)
        setmetatable(raw, { __index = function(t, k)
            if drops and type(rawget(t, "headers")) == "table" then
                local hs = rawget(t, "headers")
                for name in pairs(hs) do
                    if chance(0.5) then hs[name] = nil end
                end
                if chance(0.3) then rawset(t, "headers", nil) end
            end
            collectgarbage("collect")
            local v = hidden[k]
            if type(v) == "string" then v = v .. "" end
            return v
        end })
        info.meta = true
        feature(drops and "meta_drops_headers" or "meta_gc")
    end
    if not CTX.clean and chance(0.01) then
        part.body = part       -- a cycle (an empty multipart, its parts dropped)
        for i = #CTX.infos, own + 1, -1 do CTX.infos[i] = nil end
        info.kind = "cycle"
        feature("cycle")
    end
    return part
end

local function make_defaults()
    local d = {}
    if chance(0.7) then d.date = "Mon, 1 Jan 2024 00:00:00 +0000" end
    if chance(0.7) then d["message-id"] = "<" .. R(1e6) .. "@example.com>" end
    if chance(0.7) then d["x-mailer"] = "fuzz" end
    if not CTX.clean and chance(0.1) then d.date = anyvalue() end
    if not avoid.meta and not CTX.clean and chance(0.15) then
        feature("defaults_meta")
        local inner = d
        d = setmetatable({}, { __index = function(_, k)
            collectgarbage("collect")
            local v = inner[k]
            if v == nil and chance(0.5) then v = "computed " .. R(1e6) .. rep("z", R(100)) end
            return type(v) == "string" and (v .. "") or v
        end })
    end
    return d
end

---------------------------------------------------------------------------
-- Running generators
---------------------------------------------------------------------------
local function top_headers_ok(out)
    local e = out:find("\r\n\r\n", 1, true)
    local head = "\r\n" .. (e and out:sub(1, e + 1) or out)
    return head:find("\r\nMIME%-Version: 1%.0\r\n") ~= nil and head:find("\r\nContent%-Type: ") ~= nil
end

-- A string body the generator cannot send as given (a NUL, or a line over
-- 998 octets; a CR or an LF ends a line): encoded when given no encoding.
local function unsendable(s)
    if s:find("\0", 1, true) then return true end
    for line in (s .. "\n"):gmatch("([^\r\n]*)[\r\n]") do
        if #line > 998 then return true end
    end
    return false
end

-- Checks a complete message against what was built.
local function check_output(run)
    local out = concat(run.out)
    if run.meta_any or run.spoiled or bombed then return end
    for _, info in ipairs(run.infos) do
        if info.spoiled then return end
    end
    oracle(top_headers_ok(out), "message of %d bytes without MIME-Version or Content-Type at the top:\n%s",
           #out, show(out:sub(1, 300)))
    for _, info in ipairs(run.infos) do
        if not info.meta and info.kind ~= "multipart" and info.kind ~= "other" and info.kind ~= "cycle" then
            local content = info.content
            if info.kind == "file" then
                content = info.file.content
            elseif info.kind == "source" then
                content = info.given and concat(info.given)
            end
            local enc = info.enc
            if info.kind == "file" and enc == nil then enc = info.file.enc or "base64" end
            if info.kind == "string" and enc == nil and not info.cte_header and content
                and unsendable(content) then
                if info.ct_composite and info.ct_count > 1 then
                    content = nil -- which Content-Type counts is not this oracle's business
                elseif not info.ct_composite then
                    enc = core.choose(content) -- encoded as "auto" would (issue 9, item 3)
                end
            end
            if content and enc ~= "auto" and (enc == nil or
                enc == "base64" or enc == "quoted-printable" or enc == "7bit" or enc == "8bit") then
                local want = enc and encoded(content, enc) or content
                oracle(out:find(want, 1, true) ~= nil,
                       "%s body of %d bytes (%s) not found whole in the message (%d bytes)",
                       info.kind, #content, tostring(enc), #out)
                if info.kind == "file" and #content > 0 then feature("oracle_file_" .. (enc or "raw")) end
            end
        end
        for _, v in ipairs(info.ints) do
            oracle(out:find(": " .. tostring(v) .. "\r\n", 1, true) ~= nil,
                   "integer header value %s not written exactly", tostring(v))
        end
    end
end

-- One step of generator run `run`. Returns false when it is over.
local function step(run)
    local g = run.g
    if run.waiting then
        -- the source's chunk is owed: get it (in our frame) and feed it
        local src = run.waiting
        run.waiting = nil
        local ok, data, err = pcall(src)
        if not ok then
            run.spoiled = true
            trace("source raised")
            -- a refused feed leaves the chunk owed
            if not try(g.feed, g, nil, tostring(data)) then run.waiting = src end
            return true
        end
        if data == nil and err ~= nil then run.spoiled = true end
        if type(data) ~= "string" and data ~= nil then run.spoiled = true end
        trace("g:feed", show(data))
        local fed = try(g.feed, g, data, err)
        if not fed then
            run.spoiled = true
            run.waiting = src   -- refused: the chunk is still owed
            run.refused = (run.refused or 0) + 1
            if run.refused > 20 then
                run.over = "source keeps giving what feed refuses"
                return false
            end
        end
        return true
    end
    local ok, chunk, src = try(g.next, g)
    if not ok then
        run.over = "raised"
        return false
    end
    trace("g:next ->", show(chunk), type(src))
    if run.closed then
        oracle(type(chunk) ~= "string", "a chunk from a generator after %s", run.closed)
        if chunk ~= false then
            run.over = "closed"
            return false
        end
    end
    if chunk == false then
        run.waiting = src
        return true
    end
    if chunk == nil then
        run.over = src == nil and "done" or "error"
        if run.over == "done" and not run.closed then
            check_output(run)
        end
        return false
    end
    run.out[#run.out + 1] = chunk
    run.bytes = run.bytes + #chunk
    return true
end

-- A hostile action on a running generator.
local function misuse(run, runs)
    local g = run.g
    local r = R(10)
    if r <= 3 and avoid.feed then r = 9 end
    if r >= 4 and r <= 5 and avoid.close then r = 9 end
    if r <= 3 then
        -- g:feed out of turn
        local data = pick({ str(1), str(15), "", nil })
        local err = chance(0.2) and "an error" or nil
        trace("g:feed out of turn", show(data))
        feature("feed_out_of_turn")
        local ok = try(g.feed, g, data, err)
        oracle(not ok or run.waiting ~= nil or bombed,
               "g:feed(%s) accepted while the generator was not waiting for a source chunk", show(data))
        if ok then run.spoiled = true end
    elseif r <= 5 then
        local mt = getmetatable(g)
        local how = chance(0.5) and "__close" or "__gc"
        trace("g:" .. how)
        feature("gen_closed")
        try(mt[how], g)
        run.closed = how
    elseif r <= 7 then
        local f = pick(CTX.files)
        if f.obj then
            trace("f:close")
            feature(f.users > 1 and "shared_file_closed" or "file_closed")
            try(f.obj.close, f.obj)
            if chance(0.3) then
                try(getmetatable(f.obj).__gc, f.obj)
            end
        end
    elseif r <= 9 then
        gc()
    else
        local other = pick(runs)
        if other ~= run and not other.over then
            feature("interleaved")
            step(other)
        end
    end
end

local function new_run(g, infos)
    local run = { g = g, out = {}, bytes = 0, infos = infos, meta_any = false }
    for _, info in ipairs(infos) do
        if info.meta then run.meta_any = true end
    end
    return run
end

local function message_case()
    local clean = chance(0.5)
    CTX = { files = {}, parts = 0, infos = {}, clean = clean }
    if clean then feature("clean_message") end
    for i = 1, R(3) do
        local r = R(10)
        local path = (r <= 8 or clean) and files[R(#files)].path or pick(paths)
        local fopts
        if chance(0.3) then
            fopts = { content_type = (clean or chance(0.8)) and "text/plain" or anyvalue(),
                      filename = (clean or chance(0.8)) and ("f" .. R(99) .. ".txt") or anyvalue(),
                      encoding = (clean or chance(0.8)) and pick(ENCODINGS) or anyvalue() }
        end
        local via_smtp = smtp and chance(0.3)
        trace("file", show(path))
        local ok, obj = try(via_smtp and smtp.file or core.file, path, fopts)
        if path:match("/fifo$") then feature("fifo") end
        local entry = { users = 0, content = content_of(path) }
        if ok and obj then
            entry.obj = track(obj)
            entry.enc = fopts and type(fopts.encoding) == "string" and fopts.encoding or nil
        end
        CTX.files[i] = entry
    end
    local nmsg = chance(0.6) and 1 or R(3)
    local runs = {}
    local shared = false
    for _ = 1, nmsg do
        CTX.infos = {}
        CTX.parts = 0
        CTX.inject = clean and chance(0.15)
        local mesgt = make_part(0)
        local infos = CTX.infos
        local bad = false
        for _, info in ipairs(infos) do
            if info.bad then bad = info.bad end
        end
        local r = R(10)
        if r == 1 and smtp then
            -- through socket.smtp.message, the LTN12 source users call
            trace("smtp.message")
            local ok, source = try(smtp.message, mesgt)
            if ok and type(source) == "function" then
                local run = new_run(nil, infos)
                for _ = 1, 2000 do
                    local ok2, chunk, err = try(source)
                    if not ok2 then break end
                    if chunk == nil then
                        if err == nil then check_output(run) end
                        break
                    end
                    run.out[#run.out + 1] = chunk
                    if R(50) == 1 then gc() end
                end
            end
        else
            local defaults = (clean or chance(0.85)) and make_defaults() or anyvalue()
            if trace_on then trace("core.message", dump(mesgt), dump(defaults)) end
            local ok, g, err = try(core.message, mesgt, defaults)
            if ok and g and bad then
                local meta = false
                for _, info in ipairs(infos) do
                    if info.meta then meta = true end
                end
                oracle(meta, "a header name or value with CR, LF or NUL was accepted: %s", bad)
            end
            if ok and g then
                track(g)
                runs[#runs + 1] = new_run(g, infos)
            elseif ok then
                trace("refused:", show(err))
            end
        end
    end
    for _, f in ipairs(CTX.files) do
        if f.users > 1 then shared = true end
    end
    if shared and #runs > 1 then feature("shared_file_two_generators") end
    -- run them, in turns, with misuse now and then
    local hostile = chance(0.5)
    for _ = 1, 4000 do
        local any = false
        for _, run in ipairs(runs) do
            if not run.over then
                any = true
                if hostile and R(20) == 1 then
                    misuse(run, runs)
                else
                    step(run)
                end
            end
        end
        if not any then break end
    end
    -- after the end (or the close): every method again
    for _, run in ipairs(runs) do
        if chance(0.5) then
            local ok, chunk = try(run.g.next, run.g)
            local ended = run.over == "done" or run.over == "error" or run.over == "closed"
            oracle(not ok or type(chunk) ~= "string" or not ended,
                   "a chunk from a generator after it ended (%s)", tostring(run.over))
            try(run.g.feed, run.g, str(1))
        end
    end
    -- objects resurrected by a finalizer, or closed by a <close> variable
    if not avoid.resurrect and chance(0.3) and #runs > 0 then
        local run = runs[R(#runs)]
        local keep = {}
        if IS54 then
            -- the holder is unreachable from here on, with the generator
            setmetatable({ g = run.g }, { __gc = function(t) keep[#keep + 1] = t end })
            for k in pairs(runs) do runs[k] = nil end
            run.g = nil
            live = {}
            collectgarbage("collect")
            collectgarbage("collect")
            for _, holder in ipairs(keep) do
                feature("resurrected_generator")
                local g = holder.g
                trace("resurrected generator")
                local ok, chunk = try(g.next, g)
                oracle(not ok or type(chunk) ~= "string", "a chunk from a collected generator")
                try(g.feed, g, "x")
                try(g.next, g)
            end
        end
    end
end

-- A generator closed by a <close> variable, then used (Lua 5.4 syntax,
-- compiled at run time so that the file parses everywhere).
local tbc_chunk = IS54 and load([[
    local core, mesgt, n = ...
    local g <close> = core.message(mesgt, {})
    for _ = 1, n do
        if not g then break end
        local c = g:next()
        if not c then break end
    end
    return g
]])

local function tbc_case()
    if not tbc_chunk then return end
    CTX = { files = {}, parts = 0, infos = {} }
    for i = 1, 2 do
        local f = files[R(#files)]
        local ok, obj = pcall(core.file, f.path)
        CTX.files[i] = { users = 0, content = f.content, obj = ok and obj or nil }
    end
    local mesgt = make_part(0)
    local ok, g = try(tbc_chunk, core, mesgt, R(5) - 1)
    if ok and g then
        feature("tbc_generator")
        trace("after <close>")
        for _ = 1, R(4) do
            local ok2, chunk = try(g.next, g)
            oracle(not ok2 or type(chunk) ~= "string", "a chunk from a generator after <close>")
            try(g.feed, g, chance(0.5) and "x" or nil)
            if chance(0.3) then gc() end
        end
    end
end

-- Abandoned coroutines holding generators mid-run.
local function coroutine_case()
    CTX = { files = {}, parts = 0, infos = {} }
    local f = files[R(#files)]
    local ok, obj = pcall(core.file, f.path)
    CTX.files[1] = { users = 0, content = f.content, obj = ok and obj or nil }
    local mesgt = make_part(0)
    local co = coroutine.create(function()
        local g = core.message(mesgt, {})
        while g do
            local c, src = g:next()
            if c == nil then break end
            coroutine.yield()
            if c == false then g:feed((src())) end
        end
    end)
    for _ = 1, R(6) do
        local okr = coroutine.resume(co)
        if not okr then break end
    end
    feature("coroutine_abandoned")
    co = nil -- luacheck: ignore 311
    gc()
end

-- Finalizers that call methods of the case's objects: they run inside
-- whatever C function allocates when a collection is due (g:next pushing a
-- chunk, c:next copying a reply...), so the bindings are re-entered on the
-- same objects midway (tables on Lua 5.4, newproxy objects on LuaJIT).
local function bomb_action()
    local obj = #live > 0 and pick(live)
    local mt = obj and getmetatable(obj)
    local methods = type(mt) == "table" and type(rawget(mt, "__index")) == "table" and rawget(mt, "__index")
    if not methods then return end
    local names = {}
    for k, v in pairs(methods) do
        if type(v) == "function" then names[#names + 1] = k end
    end
    table.sort(names)
    if #names == 0 then return end
    local name = pick(names)
    local arg = pick({ "250 ok\r\n", "x", nil, "220-a\r\n" })
    pcall(methods[name], obj, arg)
    if R(8) == 1 then pcall(rawget(mt, "__close") or methods[name], obj) end
end

-- An unreachable object whose finalizer calls fn (a table on 5.2+, a
-- newproxy on LuaJIT and 5.1, which run no table finalizers).
local newproxy = rawget(_G, "newproxy")
local function finalizer(fn)
    if newproxy then
        getmetatable(newproxy(true)).__gc = fn
    else
        setmetatable({}, { __gc = fn })
    end
end

function arm_bombs(n)
    feature("finalizer_reentry")
    bombed = true
    for _ = 1, n do
        local again = R(3) == 1
        finalizer(function()
            bomb_action()
            if again and #live > 0 then finalizer(bomb_action) end
        end)
    end
end

---------------------------------------------------------------------------
-- Cases
---------------------------------------------------------------------------
local function run_case(seed, avoid_list)
    current_seed = seed
    avoid = avoid_list and avoid_set(avoid_list) or default_avoid
    NUMBERS = avoid.numbers and SAFE_NUMBERS or ALL_NUMBERS
    paths = avoid.fifo and paths_nofifo or paths_all
    math.randomseed(seed)
    live = {}
    collectgarbage("collect")
    if IS54 then collectgarbage("incremental") end
    stats.cases = stats.cases + 1
    bombed = false
    if (IS54 or newproxy) and not avoid.reentry and seed % 4 == 1 then
        -- armed once some objects exist (decided by the seed, not by a draw,
        -- so the cases of the other seeds stay what they were)
        live.__arm = 1 + floor(seed / 4) % 30
    end
    local r = R(100)
    if r <= 55 then
        message_case()
    elseif r <= 75 then
        client_case()
    elseif r <= 85 then
        misc_case()
    elseif r <= 93 and not avoid.close then
        tbc_case()
    else
        coroutine_case()
    end
    live = {}
    CTX = nil
end

local state_file = opts.state and assert(io.open(opts.state, "w"))
local function mark(seed)
    if state_file then
        state_file:seek("set", 0)
        state_file:write(("%d          \n"):format(seed))
        state_file:flush()
    end
end

setup_files()
local clock = os.time
local started = clock()
local ok, err = pcall(function()
    if opts.replay then
        io.stdout:write(("replaying case %d\n"):format(opts.replay))
        mark(opts.replay)
        run_case(opts.replay, opts.avoid or os.getenv("FUZZ_BIND_AVOID"))
        return
    end
    io.stdout:write(("bind-fuzz: seed %d%s%s\n"):format(opts.seed,
        opts.iterations and (", " .. opts.iterations .. " cases") or "",
        opts.seconds and (", " .. opts.seconds .. " s") or ""))
    io.stdout:flush()
    if opts.seeds then
        local n = 0
        for line in io.lines(opts.seeds) do
            local seed = tonumber(line:match("^%s*(%d+)"))
            if seed then
                mark(seed)
                run_case(seed, line:match("^%s*%d+%s+avoid=([%w_,]+)"))
                n = n + 1
            end
        end
        io.stdout:write(("bind-fuzz: %d committed seeds replayed\n"):format(n))
    end
    local i = 0
    local deadline = opts.seconds and started + opts.seconds
    while true do
        if opts.iterations and i >= opts.iterations then break end
        if deadline and clock() >= deadline then break end
        local seed = opts.seed + i
        mark(seed)
        run_case(seed)
        i = i + 1
    end
end)
cleanup_files()
if not ok then
    io.stdout:write(("HARNESS ERROR (case seed %s): %s\n"):format(tostring(current_seed), tostring(err)))
    os.exit(3)
end
local names = {}
for name in pairs(features_seen) do names[#names + 1] = name end
table.sort(names)
io.stdout:write(("bind-fuzz: %d cases, %d operations (%d raised), %d checks, %d s; features: %s\n"):format(
    stats.cases, stats.ops, stats.errors, stats.checks, clock() - started, concat(names, " ")))
if collect_file then collect_file:close() end
os.exit(0)
