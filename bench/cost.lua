-----------------------------------------------------------------------------
-- One client session for bench/cost.sh: open one connection to a sink,
-- greet, send N messages of SIZE bytes with the low-level API (s:send per
-- message, as bench/smtp_sink.lua does), quit, close. Nothing is timed:
-- bench/cost.sh runs this under callgrind or strace, for N and 2N, and
-- divides the difference by N, so that start-up cancels.
--
--   lua5.4 bench/cost.lua --port PORT --module native|luasocket [options]
--
-- Options:
--   --host H          sink address (127.0.0.1)
--   --port P          sink port (required)
--   --module M        native (smtp-native of --root) or luasocket (the
--                     stock socket/smtp.lua on package.path, TCP_NODELAY set
--                     through `create`, as bench/smtp_sink.lua's nodelay)
--   --messages N      messages in the session (200)
--   --size N          message size in bytes (2048)
--   --root DIR        the checkout whose lua/ and build/<lua>/ are loaded
--                     for native (default: this script's repository)
-- Every send must succeed; it prints "OK N" at the end. Exit status 2 on any
-- error.
-----------------------------------------------------------------------------

local common = dofile(((arg[0] or ""):match("^(.*)/[^/]+$") or "bench") .. "/common.lua")
local die = common.die_with("cost.lua")

local opt = { host = "127.0.0.1", port = nil, module = nil, messages = 200, size = 2048, root = nil }
local known = { host = "s", port = "n", module = "s", messages = "n", size = "n", root = "s" }
common.parse_args(arg, opt, known, die)
if not opt.port then die("--port is required") end
if opt.module ~= "native" and opt.module ~= "luasocket" then die("--module must be native or luasocket") end
if opt.size < 512 then die("--size must be at least 512") end

local root = opt.root or (arg[0] and arg[0]:match("^(.*)/bench/[^/]+$")) or "."
local jit = rawget(_G, "jit")
local tag = jit and "jit" or _VERSION:match("%d+%.%d+")

local socket = require("socket")
local ltn12 = require("ltn12")
local searchpath = common.searchpath

-- Only the module measured is loaded.
local smtp, create, loaded
if opt.module == "luasocket" then
    loaded = searchpath("socket.smtp", package.path)
    if not loaded then die("LuaSocket's socket/smtp.lua not found on package.path") end
    smtp = dofile(loaded)
    -- as bench/smtp_sink.lua's nodelay variant: without TCP_NODELAY each
    -- message waits ~40 ms for a delayed ACK (same instructions, same
    -- system calls, only slower).
    create = function()
        local c, err = socket.tcp4()
        if not c then return nil, err end
        assert(c:setoption("tcp-nodelay", true))
        return c
    end
else
    package.path = root .. "/lua/?.lua;" .. package.path
    package.cpath = root .. "/build/" .. tag .. "/?.so;" .. package.cpath
    local lua_file = searchpath("socket.smtp", package.path)
    local so_file = searchpath("socket.smtp.core", package.cpath)
    if lua_file ~= root .. "/lua/socket/smtp.lua" then
        die("smtp-native's lua/socket/smtp.lua not found under " .. root)
    end
    if so_file ~= root .. "/build/" .. tag .. "/socket/smtp/core.so" then
        die("smtp-native is not built for this interpreter: run 'make LUA=" .. tag .. "' in " .. root)
    end
    smtp = require("socket.smtp")
    if not smtp.open then die("socket.smtp of " .. root .. " has no open") end
    loaded = lua_file .. " + " .. so_file
end

-- The message of bench/smtp_sink.lua: eight headers and a plain-text body,
-- CRLF line ends, exactly opt.size bytes.
local MESSAGE
do
    local head = table.concat({
        "From: Bench Sender <bench@localhost>",
        "To: Sink <sink@localhost>",
        "Subject: smtp-native benchmark message",
        "Date: Mon, 01 Jan 2024 00:00:00 +0000",
        "Message-ID: <bench.0001@localhost>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=us-ascii",
        "Content-Transfer-Encoding: 7bit",
        "", "",
    }, "\r\n")
    local closing = "\r\nRegards,\r\nThe benchmark\r\n"
    local text = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod "
        .. "tempor incididunt ut labore et dolore magna aliqua. "):rep(math.floor(opt.size / 100) + 2)
    local room = opt.size - #head - #closing
    local lines, pos = {}, 1
    while room > 0 do
        local take = room - 2 <= 90 and room - 2 or 70
        lines[#lines + 1] = text:sub(pos, pos + take - 1):gsub("^[ .]", "x")
        pos = pos + take
        room = room - take - 2
    end
    MESSAGE = head .. table.concat(lines, "\r\n") .. "\r\n" .. closing
    if #MESSAGE ~= opt.size then die("message is " .. #MESSAGE .. " bytes, not " .. opt.size) end
end

local sent = 0
local ok, err = pcall(function()
    local s = smtp.open(opt.host, opt.port, create)
    s:greet("bench.localhost")
    local mailt = { from = "<bench@localhost>", rcpt = "<sink@localhost>" }
    for _ = 1, opt.messages do
        mailt.source = ltn12.source.string(MESSAGE)
        local r = s:send(mailt)
        -- LuaSocket's returns nothing and raises on a non-2xx reply; ours
        -- returns 1 and raises on any failure.
        if opt.module == "native" and r ~= 1 then error("send returned " .. tostring(r), 0) end
        sent = sent + 1
    end
    s:quit()
    s:close()
end)
if not ok then
    die(opt.module .. " (" .. loaded .. "): failed after " .. sent .. " messages: "
        .. (type(err) == "table" and tostring(err[1]) or tostring(err)))
end
print("OK " .. sent)
