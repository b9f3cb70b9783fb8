-- Issue 9, item 11: installed with LuaRocks, smtp-native must be reachable.
--
-- LuaRocks deploys a module that another installed rock already provides
-- under a mangled file name. The luasocket rock provides `socket.smtp`, so
-- a rockspec that also listed `socket.smtp` had its file deployed as
-- `smtp_native_scm_1-socket/smtp.lua`, and require("socket.smtp") kept
-- returning LuaSocket's. Now the module is `smtp_native` (a name no other
-- rock has; lua/socket/smtp.lua only returns it) and one documented line
-- makes every require("socket.smtp") return it.
--
-- The test builds a real tree with Debian's luarocks, offline: first a
-- small rock of the test's own that stands for luasocket (it provides
-- `socket.smtp` and satisfies our rockspec's dependency), then ours with
-- `luarocks make`, from a copy of this checkout. Child processes then load
-- from that tree only (LuaSocket's C parts come from the system). It also
-- checks that `make install` still installs `socket.smtp` itself.
local H = require("helper")

local LUA_VER = H.lua_version == "jit" and "5.1" or H.lua_version

local function sh_ok(cmd, what)
    local ok, out = H.sh(cmd)
    assert(ok, what .. " failed:\n" .. cmd .. "\n" .. tostring(out))
    return out
end

local have_luarocks = H.sh("command -v luarocks >/dev/null 2>&1")
local have_headers = H.sh(("test -f /usr/include/lua%s/lua.h"):format(LUA_VER))

-- #once: what this checks does not depend on the interpreter running
-- busted (nginx runs its own LuaJIT; the LuaRocks trees are tried under
-- every interpreter from inside the spec): .ci/test.sh runs it in the
-- first suite only.
describe("issue 9 item 11: LuaRocks #once", function()
    if not H.need_peer("luarocks", have_luarocks and have_headers,
            "luarocks or the Lua " .. LUA_VER .. " headers are not installed (make deps)",
            "the LuaRocks install cases") then
        return
    end

    local dir, tree, srv
    local tree_lua, tree_lib

    -- A Lua chunk run by this interpreter with only the tree (then the
    -- system's directories) on its paths, from a directory that holds no
    -- module. Prints what `script` prints.
    local function in_tree(script, ...)
        local setup = ("package.path=%q..package.path package.cpath=%q..package.cpath")
            :format(tree_lua .. "/?.lua;" .. tree_lua .. "/?/init.lua;", tree_lib .. "/?.so;")
        H.write_file(dir .. "/script.lua", script)
        local args = { "cd", H.quote(dir), "&&", H.interpreter, "-e", H.quote(setup), "script.lua" }
        for _, a in ipairs({ ... }) do args[#args + 1] = H.quote(tostring(a)) end
        return H.sh(table.concat(args, " "))
    end

    setup(function()
        dir = H.tmpdir()
        tree = dir .. "/tree"
        tree_lua = tree .. "/share/lua/" .. LUA_VER
        tree_lib = tree .. "/lib/lua/" .. LUA_VER
        local lr = ("luarocks --lua-version %s --tree %s"):format(LUA_VER, H.quote(tree))
        -- The stand-in for the luasocket rock: it provides socket.smtp.
        sh_ok(("mkdir -p %s/fake/socket"):format(H.quote(dir)), "mkdir")
        H.write_file(dir .. "/fake/socket/smtp.lua", "return { stand_in = true }\n")
        H.write_file(dir .. "/fake/luasocket-3.0.0-1.rockspec", table.concat({
            'package = "luasocket"',
            'version = "3.0.0-1"',
            'source = { url = "file:///nonexistent" }',
            'build = { type = "builtin", modules = { ["socket.smtp"] = "socket/smtp.lua" } }',
        }, "\n") .. "\n")
        sh_ok(("cd %s/fake && %s make luasocket-3.0.0-1.rockspec"):format(H.quote(dir), lr),
            "luarocks make of the stand-in rock")
        -- Ours, from a copy of the checkout (luarocks make builds in place).
        sh_ok(("mkdir %s/src && cd %s && cp -R lua src doc smtp-native-scm-1.rockspec %s/src/")
            :format(H.quote(dir), H.quote(H.root), H.quote(dir)), "copy of the checkout")
        sh_ok(("cd %s/src && %s make smtp-native-scm-1.rockspec"):format(H.quote(dir), lr),
            "luarocks make of smtp-native")
        srv = H.capture()
    end)

    teardown(function()
        if srv then srv:stop() end
        if dir then H.rmdir(dir) end
    end)

    it("deploys the module as smtp_native, and leaves the other rock's socket.smtp in place", function()
        assert.are.equal(H.read_file(H.root .. "/lua/smtp_native.lua"), H.read_file(tree_lua .. "/smtp_native.lua"))
        assert.are.equal("return { stand_in = true }\n", H.read_file(tree_lua .. "/socket/smtp.lua"))
    end)

    it("without the activation line, socket.smtp is the other rock's", function()
        local ok, out = in_tree([[
            local smtp = require("socket.smtp")
            io.write(tostring(smtp.stand_in), " ", tostring(smtp._VERSION))
        ]])
        assert(ok, out)
        assert.are.equal("true nil", out)
    end)

    it("require('smtp_native') loads smtp-native from the tree", function()
        local ok, out = in_tree([[
            local m = require("smtp_native")
            local function searchpath(name, path) -- (Lua 5.1 has no package.searchpath)
                for template in path:gmatch("[^;]+") do
                    local file = template:gsub("%?", (name:gsub("%.", "/")))
                    local f = io.open(file, "rb")
                    if f then f:close() return file end
                end
            end
            io.write(m._VERSION, " ", type(m.send), " ", type(m.message), " ",
                searchpath("socket.smtp.core", package.cpath))
        ]])
        assert(ok, out)
        local version, send, message, core = out:match("^(.-) (%a+) (%a+) (%S+)$")
        assert.truthy(version, out)
        assert.truthy(version:match("^smtp%-native "), out)
        assert.are.equal("function", send)
        assert.are.equal("function", message)
        assert.are.equal(tree_lib .. "/socket/smtp/core.so", core)
    end)

    it("after the one-line activation every require('socket.smtp') is smtp-native and sends", function()
        local ok, out = in_tree([[
            package.loaded["socket.smtp"] = require("smtp_native")
            local smtp = require("socket.smtp")
            assert(smtp == require("smtp_native"))
            assert(not smtp.stand_in)
            local r, err = smtp.send{
                from = "<rock@example.com>", rcpt = "<tree@example.com>",
                server = "127.0.0.1", port = tonumber(arg[1]),
                source = smtp.message{
                    headers = { subject = "from the rock tree" },
                    body = "installed with luarocks\r\n",
                },
            }
            io.write(tostring(r), " ", r and "sent" or tostring(err))
        ]], srv.port)
        assert(ok, out)
        assert.are.equal("1 sent", out)
        local msgs = srv:wait_messages(1)
        assert.are.equal(1, #msgs)
        assert.are.equal("rock@example.com", msgs[1].from)
        local tree_msg = H.parse_email(msgs[1].data)
        assert.are.equal("from the rock tree", H.header(tree_msg, "subject"))
        assert.are.equal("installed with luarocks\r\n", tree_msg.payload)
    end)

    -- OpenResty: nginx runs LuaJIT, so only the LuaJIT run (whose tree is
    -- built for the 5.1 ABI) can load the tree's core.so in nginx.
    local N = require("support.nginx")
    local have_nginx, nginx_why = N.available()
    if H.lua_version == "jit" and H.need_peer("nginx", have_nginx, nginx_why, "the OpenResty activation case") then
        it("in OpenResty, the line in init_by_lua_block activates it for every handler", function()
            local handler = [[
                local smtp = require("socket.smtp")
                if smtp.stand_in then return ngx.say("the stand-in rock's socket.smtp") end
                local r, err = smtp.send{
                    from = "<nginx@example.com>", rcpt = "<tree@example.com>",
                    server = "127.0.0.1", port = tonumber(ngx.var.arg_port),
                    create = ngx.socket.tcp,
                    source = smtp.message{
                        headers = { subject = "from nginx and the rock tree" },
                        body = "activated in init_by_lua\r\n",
                    },
                }
                ngx.say(tostring(smtp == require("smtp_native")), " ", tostring(smtp.stand_in),
                    " ", tostring(r), " ", r and "sent" or tostring(err))
            ]]
            local function start(init)
                local ngx_srv = N.start{
                    paths = { lpath = tree_lua .. "/?.lua;" .. tree_lua .. "/?/init.lua",
                        cpath = tree_lib .. "/?.so" },
                    http = "    lua_socket_read_timeout 5s;\n" .. (init or ""),
                    locations = { ["/send"] = handler },
                }
                finally(function() ngx_srv:stop() end)
                return ngx_srv
            end
            local http = require("socket.http")
            http.TIMEOUT = 30
            -- without the line: the other rock's socket.smtp, nothing sent
            local plain = start(nil)
            local body = http.request(plain:url("/send?port=" .. srv.port))
            assert.are.equal("the stand-in rock's socket.smtp\n", body, plain:error_log())
            plain:stop()
            -- with it
            local before = #srv:messages()
            local active = start('    init_by_lua_block { package.loaded["socket.smtp"] = require("smtp_native") }')
            body = http.request(active:url("/send?port=" .. srv.port))
            assert.are.equal("true nil 1 sent\n", body, active:error_log())
            local msgs = srv:wait_messages(before + 1)
            assert.are.equal(before + 1, #msgs)
            local m = H.parse_email(msgs[#msgs].data)
            assert.are.equal("from nginx and the rock tree", H.header(m, "subject"))
            assert.are.equal("activated in init_by_lua\r\n", m.payload)
        end)
    end

    it("make install still installs socket.smtp itself, and smtp_native names the same module", function()
        local prefix = dir .. "/prefix"
        sh_ok(("cd %s && make --no-print-directory install LUA=%s PREFIX=%s >/dev/null")
            :format(H.quote(H.root), H.lua_version, H.quote(prefix)), "make install")
        local lua_dir = prefix .. "/share/lua/" .. LUA_VER
        local lib_dir = prefix .. "/lib/lua/" .. LUA_VER
        local setup = ("package.path=%q..package.path package.cpath=%q..package.cpath")
            :format(lua_dir .. "/?.lua;", lib_dir .. "/?.so;")
        local ok, out = H.sh(("cd %s && %s -e %s -e %s"):format(H.quote(dir), H.interpreter,
            H.quote(setup), H.quote([[
                local smtp = require("socket.smtp")
                io.write(tostring(smtp._VERSION), " ", tostring(smtp == require("smtp_native")))
            ]])))
        assert(ok, out)
        assert.truthy(out:match("^smtp%-native [^ ]+ true$"), out)
    end)
end)
