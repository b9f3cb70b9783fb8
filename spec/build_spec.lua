-- spec/build_spec.lua -- the build's one source list, and the layers.
--
-- src/sources.mk is the only list of C sources. The rockspec must carry
-- the same list (LuaRocks' builtin type cannot read a makefile), every .c
-- file under src/ must be in it, and each engine may include only headers
-- of its own layer or a lower one -- never Lua's, never a binding's. Among
-- the bindings, only the module entry (lsmtp.c) knows the others.

local H = require("helper")
local set = H.set

local function read(path)
    local f = assert(io.open(path, "rb"))
    local s = f:read("*a")
    f:close()
    return s
end

-- The *_SRC variables of src/sources.mk, as one list in order.
local function make_sources()
    local text = read("src/sources.mk"):gsub("\\\n", " ")
    local list = {}
    for name, value in text:gmatch("\n(%u+)_SRC := ([^\n]*)") do
        if name ~= "ENGINE" then
            for path in value:gmatch("src/[%w_/]+%.c") do list[#list + 1] = path end
        end
    end
    return list
end

local function rockspec_sources()
    local env = {}
    local text = read("smtp-native-scm-1.rockspec")
    local chunk
    local setfenv = rawget(_G, "setfenv")
    if setfenv then -- Lua 5.1, LuaJIT
        chunk = assert(rawget(_G, "loadstring")(text, "rockspec"))
        setfenv(chunk, env)
    else
        chunk = assert(load(text, "rockspec", "t", env))
    end
    chunk()
    return env.build.modules["socket.smtp.core"].sources
end

local function missing(want, have)
    local out = {}
    for _, v in ipairs(want) do
        if not have[v] then out[#out + 1] = v end
    end
    table.sort(out)
    return table.concat(out, " ")
end

-- Layers, bottom up: an engine file may include its own layer's headers
-- and those of any layer below it.
local LAYER = { base = 1, mime = 2, sasl = 3, smtp = 4, lua = 5 }

local function c_files(kind)
    local p = assert(io.popen("find src -name '*." .. kind .. "' | sort"))
    local out = {}
    for line in p:lines() do out[#out + 1] = line end
    p:close()
    return out
end

describe("the build", function()
    it("the rockspec compiles exactly src/sources.mk's files", function()
        local mk, rs = make_sources(), rockspec_sources()
        assert.is_true(#mk > 10)
        assert.are.equal("", missing(mk, set(rs)), "in src/sources.mk, not in the rockspec")
        assert.are.equal("", missing(rs, set(mk)), "in the rockspec, not in src/sources.mk")
        assert.are.equal(#mk, #rs)
    end)

    it("every .c file under src/ is in src/sources.mk", function()
        assert.are.equal("", missing(c_files("c"), set(make_sources())))
    end)

    it("no engine includes Lua's headers or a higher layer's", function()
        local bad = {}
        local files = c_files("c")
        for _, h in ipairs(c_files("h")) do files[#files + 1] = h end
        for _, path in ipairs(files) do
            local layer = path:match("^src/(%w+)/")
            local mine = assert(LAYER[layer], "a file outside the known layers: " .. path)
            for inc in read(path):gmatch('#include ["<]([^">]+)[">]') do
                local fam = inc:match("^(%w+)/")
                if layer ~= "lua" and (inc:match("^lua") or inc:match("^lauxlib") or inc:match("^lualib")) then
                    bad[#bad + 1] = path .. " includes " .. inc
                elseif fam and LAYER[fam] and LAYER[fam] > mine then
                    bad[#bad + 1] = path .. " includes " .. inc
                end
            end
        end
        assert.are.equal("", table.concat(bad, "\n"))
    end)

    -- A binding includes its own header, the shared private ones (lbind.h,
    -- compat.h) and engines'; another binding's only from the module
    -- entry. core.message is one binding in two files (lmime.c builds the
    -- program that lmime_gen.c runs) with lmime_gen.h private to them.
    it("only the module entry knows the other bindings", function()
        local SHARED = { ["lbind.h"] = true, ["compat.h"] = true }
        local ONE = { ["src/lua/lmime.c"] = "lmime_gen.h" }
        local bad, seen = {}, 0
        for _, path in ipairs(c_files("c")) do
            local own = path:match("^src/lua/(l[%w_]+)%.c$")
            if own and path ~= "src/lua/lsmtp.c" then
                seen = seen + 1
                for inc in read(path):gmatch('#include "([^"/]+)"') do
                    if not SHARED[inc] and inc ~= own .. ".h" and ONE[path] ~= inc then
                        bad[#bad + 1] = path .. " includes " .. inc
                    end
                end
            end
        end
        assert.is_true(seen >= 7, "the bindings were found")
        assert.are.equal("", table.concat(bad, "\n"))
    end)
end)
