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
