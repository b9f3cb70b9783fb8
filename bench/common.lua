-- Lua helpers shared by the benchmark scripts: dofile(root .. "/bench/common.lua").
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

return M
