-- Lua helpers shared by the benchmark scripts: dofile() of this file, found
-- beside the script (arg[0]).
local M = {}

-- package.searchpath, which Lua 5.1 lacks.
function M.searchpath(name, path)
    local file = name:gsub("%.", "/")
    for template in path:gmatch("[^;]+") do
        local candidate = template:gsub("%?", file)
        local f = io.open(candidate, "rb")
        if f then
            f:close()
            return candidate
        end
    end
    return nil
end

-- smtp-native of the checkout `root`, built for this interpreter (`tag`:
-- "5.4", "jit", ... as in build/<tag>/): puts root/lua and root/build/<tag>
-- first on package.path and package.cpath, checks that socket.smtp and
-- its core are found there (else die(message)), and returns
-- require("socket.smtp") and the paths of its smtp.lua and core.so.
function M.load_native(root, tag, die)
    package.path = root .. "/lua/?.lua;" .. package.path
    package.cpath = root .. "/build/" .. tag .. "/?.so;" .. package.cpath
    local lua_file = M.searchpath("socket.smtp", package.path)
    local so_file = M.searchpath("socket.smtp.core", package.cpath)
    if lua_file ~= root .. "/lua/socket/smtp.lua" then
        die("smtp-native's lua/socket/smtp.lua not found under " .. root)
    end
    if so_file ~= root .. "/build/" .. tag .. "/socket/smtp/core.so" then
        die("smtp-native is not built for this interpreter: run 'make LUA=" .. tag .. "' in " .. root)
    end
    return require("socket.smtp"), lua_file, so_file
end

-- The message the sending benchmarks send (bench/smtp_sink.lua,
-- bench/cost.lua): eight headers and a plain-text body, CRLF line ends,
-- exactly `size` bytes (callers ask for 512 at least; die(message) if it
-- comes out otherwise). Returns the message and its body.
function M.sink_message(size, die)
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
        .. "tempor incididunt ut labore et dolore magna aliqua. "):rep(math.floor(size / 100) + 2)
    local room = size - #head - #closing -- bytes left for the body lines
    local lines, pos = {}, 1
    while room > 0 do
        -- lines of at most 70 characters plus CRLF; the last one fills up
        local take = room - 2 <= 90 and room - 2 or 70
        local line = text:sub(pos, pos + take - 1):gsub("^[ .]", "x")
        lines[#lines + 1] = line
        pos = pos + take
        room = room - take - 2
    end
    local body = table.concat(lines, "\r\n") .. "\r\n" .. closing
    local message = head .. body
    if #message ~= size then die("message is " .. #message .. " bytes, not " .. size) end
    return message, body
end

-- The median of the numbers in t (NaN when t is empty).
function M.median(t)
    local s = {}
    for i, x in ipairs(t) do s[i] = x end
    table.sort(s)
    local m = #s
    if m == 0 then return 0 / 0 end
    if m % 2 == 1 then return s[(m + 1) / 2] end
    return (s[m / 2] + s[m / 2 + 1]) / 2
end

-- A die(msg) for a script: "NAME: msg" on stderr, exit status 2.
function M.die_with(name)
    return function(msg)
        io.stderr:write(name, ": ", msg, "\n")
        os.exit(2)
    end
end

-- Reads the command line `args` (--name value, or --name for a flag)
-- into `opt`. `known` gives each name's kind: "s" a string, "n" a positive
-- integer, "f" a number in [0, 1), "flag" no value (sets true). Anything
-- else goes to die(message).
function M.parse_args(args, opt, known, die)
    local i = 1
    while args[i] do
        local name = args[i]:match("^%-%-(.+)$")
        if not known[name] then die("unknown argument: " .. args[i]) end
        if known[name] == "flag" then
            opt[name] = true
            i = i + 1
        else
            local v = args[i + 1]
            if v == nil then die("missing value for --" .. name) end
            if known[name] == "n" then
                v = tonumber(v)
                if not v or v < 1 or v % 1 ~= 0 then die("--" .. name .. " needs a positive integer") end
            elseif known[name] == "f" then
                v = tonumber(v)
                if not v or v < 0 or v >= 1 then die("--" .. name .. " needs a number in [0, 1)") end
            end
            opt[name] = v
            i = i + 2
        end
    end
    return opt
end

return M
