--[[
spec/support/nginx.lua: a private nginx with lua-nginx-module, for specs.

    local N = require("support.nginx")   -- busted --lpath includes ./spec/?.lua

    local ok, why = N.available()   -- nginx binary + ngx_http_lua_module.so?
    local ngx_srv = N.start{
        locations = { ["/send"] = "ngx.say('hi')", ... },  -- Lua code per
                                    -- exact location, run by content_by_lua_block
        http = "extra http{} directives",                  -- optional
        paths = { lpath = "...", cpath = "..." },          -- optional: what
                                    -- comes before the system paths instead
                                    -- of this checkout's lua/ and build/jit/
    }
    finally(function() ngx_srv:stop() end)
    ngx_srv.port, ngx_srv.pid, ngx_srv.prefix
    ngx_srv:url("/send?x=1")       -> "http://127.0.0.1:PORT/send?x=1"
    ngx_srv:error_log()            -> contents of the error log so far
    ngx_srv:get_json(path)         -> the decoded JSON answer of GET path
                                   (raises unless HTTP 200 and JSON)
    ngx_srv:alive()
    ngx_srv:stop()                 TERM by PID, KILL after 3 s, reap, remove
                                   the prefix. Idempotent.
    N.stop_all()                   stop every nginx still running
    N.free_port()                  a port nothing listens on (bound, closed)
    N.start_tls(locations, ca)     N.start for the TLS specs (trusts ca)
    N.start_tls_for_block(locations, ca)  the same, one for a describe block:
                                   returns a function giving the server
    N.need_core()                  raises unless build/jit's core.so is there

Each nginx gets its own prefix (a H.tmpdir() directory) holding nginx.conf,
logs/error.log, logs/access.log and the temp paths, and listens on
127.0.0.1:<free port>. It runs in the foreground in a single process
(`daemon off; master_process off;`), as a direct child of the Lua process
(`echo $$; exec nginx ...` under io.popen, like spec/helper.lua's servers),
so the PID we get is nginx itself and closing the pipe reaps it.

lua_package_path / lua_package_cpath put the repository first
(<root>/lua/?.lua, <root>/lua/?/init.lua, <root>/build/jit/?.so): nginx runs
LuaJIT, so it always loads the LuaJIT build, whatever Lua runs busted. Then
the system paths (Debian keeps resty.core, which lua-nginx-module 0.10.23
insists on loading, and LuaSocket's ltn12/mime/socket under
/usr/share/lua/5.1 and /usr/lib/<multiarch>/lua/5.1), then the defaults.

Setup gotchas handled here:
  * Debian's nginx is built with --error-log-path=stderr and temp paths
    under /var/lib/nginx: `-e` and *_temp_path send both to the prefix.
  * Debian's lua module needs ndk_http_module.so loaded before it.
  * If busted dies without stopping nginx, an init_worker timer notices the
    Lua process is gone (/proc/PID) and exits nginx.

Environment: NGINX_BIN (nginx binary), NGINX_MODULES (module directory).
]]

local socket = require("socket")
local H = require("helper")

local N = {}

local quote = H.quote
local read_file, write_file, exists = H.read_file, H.write_file, H.exists
local poll, sh_line, running, LUA_PID = H.poll, H.sh_line, H.running, H.lua_pid

--------------------------------------------------------------------------
-- Where things are
--------------------------------------------------------------------------

local function find_nginx()
    local candidates = { os.getenv("NGINX_BIN") or false, "/usr/sbin/nginx",
        "/usr/local/openresty/nginx/sbin/nginx", "/usr/local/nginx/sbin/nginx" }
    for _, path in ipairs(candidates) do
        if path and path ~= "" and exists(path) then return path end
    end
    local found = sh_line("command -v nginx 2>/dev/null")
    if found and found ~= "" then return found end
    return nil
end

local function find_modules()
    local dirs = { os.getenv("NGINX_MODULES") or false, "/usr/lib/nginx/modules",
        "/usr/share/nginx/modules", "/usr/lib64/nginx/modules" }
    for _, dir in ipairs(dirs) do
        if dir and dir ~= "" and exists(dir .. "/ngx_http_lua_module.so") then
            local mods = {}
            if exists(dir .. "/ndk_http_module.so") then
                mods[#mods + 1] = dir .. "/ndk_http_module.so"
            end
            mods[#mods + 1] = dir .. "/ngx_http_lua_module.so"
            return mods
        end
    end
    return nil
end

-- Returns true, or false and a reason.
function N.available()
    local bin = find_nginx()
    if not bin then
        return false, "nginx not found (set NGINX_BIN; apt-get install nginx-core)"
    end
    if not find_modules() then
        return false, "ngx_http_lua_module.so not found under /usr/lib/nginx/modules "
            .. "(set NGINX_MODULES; apt-get install libnginx-mod-http-lua)"
    end
    return true
end

-- System Lua 5.1 directories that exist, for the package paths.
local function system_paths()
    local multiarch = sh_line("gcc -print-multiarch 2>/dev/null"
        .. " || dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null")
    local lpath, cpath = {}, {}
    for _, dir in ipairs({ "/usr/local/share/lua/5.1", "/usr/share/lua/5.1",
                           "/usr/local/openresty/lualib" }) do
        if exists(dir) then
            lpath[#lpath + 1] = dir .. "/?.lua"
            lpath[#lpath + 1] = dir .. "/?/init.lua"
        end
    end
    local cdirs = { "/usr/local/lib/lua/5.1", "/usr/lib/lua/5.1", "/usr/local/openresty/lualib" }
    if multiarch and multiarch ~= "" then
        table.insert(cdirs, 2, "/usr/lib/" .. multiarch .. "/lua/5.1")
    end
    for _, dir in ipairs(cdirs) do
        if exists(dir) then cpath[#cpath + 1] = dir .. "/?.so" end
    end
    return lpath, cpath
end

--------------------------------------------------------------------------
-- Ports
--------------------------------------------------------------------------

-- A port on 127.0.0.1 that nothing listens on right now.
function N.free_port()
    local s = assert(socket.bind("127.0.0.1", 0))
    local _, port = s:getsockname()
    s:close()
    return tonumber(port)
end

local function answers(port)
    return H.connects("127.0.0.1", port, 0.5)
end

--------------------------------------------------------------------------
-- Configuration
--------------------------------------------------------------------------

-- The watchdog: exit when the Lua process that started us is gone.
local WATCHDOG = [[
    local pid = %d
    local function alive()
        local f = io.open("/proc/" .. pid .. "/stat", "rb")
        if not f then return false end
        local stat = f:read("*a") or ""
        f:close()
        local state = stat:match("^%%d+ %%(.*%%) (%%a)")
        return state ~= nil and state ~= "Z" and state ~= "X"
    end
    local function check(premature)
        if premature then return end
        if not alive() then
            ngx.log(ngx.ERR, "spec runner ", pid, " is gone: exiting")
            os.exit(1)
        end
    end
    ngx.timer.every(1, check)
]]

local function conf(o)
    local p = o.prefix
    local lpath, cpath = system_paths()
    local root = H.root
    local own = o.paths or { lpath = root .. "/lua/?.lua;" .. root .. "/lua/?/init.lua",
        cpath = root .. "/build/jit/?.so" }
    local package_path = table.concat({ own.lpath, table.concat(lpath, ";") }, ";") .. ";;"
    local package_cpath = table.concat({ own.cpath, table.concat(cpath, ";") }, ";") .. ";;"
    local out = {}
    local function add(line) out[#out + 1] = line end
    add("daemon off;")
    add("master_process off;")
    add("worker_processes 1;")
    add("pid " .. p .. "/logs/nginx.pid;")
    add("error_log " .. p .. "/logs/error.log " .. (o.log_level or "notice") .. ";")
    for _, mod in ipairs(o.modules) do add("load_module " .. mod .. ";") end
    add("events { worker_connections 1024; }")
    add("http {")
    add("    access_log " .. p .. "/logs/access.log;")
    for _, kind in ipairs({ "client_body", "proxy", "fastcgi", "uwsgi", "scgi" }) do
        add(("    %s_temp_path %s/temp/%s;"):format(kind, p, kind))
    end
    add('    lua_package_path "' .. package_path .. '";')
    add('    lua_package_cpath "' .. package_cpath .. '";')
    if LUA_PID then
        add("    init_worker_by_lua_block {")
        add(WATCHDOG:format(LUA_PID))
        add("    }")
    end
    if o.http then add(o.http) end
    add("    server {")
    add("        listen 127.0.0.1:" .. o.port .. ";")
    add("        location = /ping { return 200 'pong\\n'; }")
    local names = {}
    for name in pairs(o.locations or {}) do names[#names + 1] = name end
    table.sort(names)
    for _, name in ipairs(names) do
        add("        location = " .. name .. " {")
        add("            default_type application/json;")
        add("            content_by_lua_block {")
        add(o.locations[name])
        add("            }")
        add("        }")
    end
    add("    }")
    add("}")
    return table.concat(out, "\n") .. "\n"
end

--------------------------------------------------------------------------
-- Processes
--------------------------------------------------------------------------

local registry = {}

local Nginx = {}
Nginx.__index = Nginx

function Nginx:url(path)
    return ("http://127.0.0.1:%d%s"):format(self.port, path or "/")
end

function Nginx:error_log()
    return (read_file(self.prefix .. "/logs/error.log") or "")
        .. (read_file(self.prefix .. "/logs/stderr.log") or "")
end

-- GET path (30 s at most) and its decoded JSON answer. Anything but HTTP
-- 200 with a JSON object raises, blaming the caller's caller (a spec's own
-- get(), called from a test), with the body and the error log's tail.
function Nginx:get_json(path)
    local http = require("socket.http")
    http.TIMEOUT = 30
    local body, code = http.request(self:url(path))
    local res = body and require("dkjson").decode(body)
    if code ~= 200 or type(res) ~= "table" then
        local log = self:error_log()
        if #log > 3000 then log = "..." .. log:sub(-3000) end
        error(("GET %s: HTTP %s\n%s\nnginx error log:\n%s"):format(path, tostring(code),
            tostring(body), log), 3)
    end
    return res
end

function Nginx:alive()
    return not self.stopped and self.pid ~= nil and running(self.pid)
end

function Nginx:stop()
    if self.stopped then return end
    H.reap(self, registry, self.prefix, 3)
    if self.prefix and not self.keep then H.rmdir(self.prefix) end
end

function N.stop_all()
    H.stop_each(registry)
end

local function start_once(opts, bin, modules)
    local prefix = H.tmpdir()
    local srv = setmetatable({ prefix = prefix, keep = opts.keep }, Nginx)
    os.execute("mkdir -p " .. quote(prefix .. "/logs") .. " " .. quote(prefix .. "/temp"))
    srv.port = opts.port or N.free_port()
    srv.conf = conf({ prefix = prefix, port = srv.port, modules = modules,
        locations = opts.locations, http = opts.http, log_level = opts.log_level, paths = opts.paths })
    write_file(prefix .. "/nginx.conf", srv.conf)
    local cmd = quote(bin) .. " -p " .. quote(prefix .. "/")
        .. " -c " .. quote(prefix .. "/nginx.conf")
        .. " -e " .. quote(prefix .. "/logs/error.log")
        .. " >" .. quote(prefix .. "/logs/stderr.log") .. " 2>&1 </dev/null"
    if not H.spawn(srv, cmd, registry, Nginx.stop) then
        srv:stop()
        return nil, "could not start nginx"
    end
    local up = poll(opts.timeout or 10, function()
        if not running(srv.pid) then return "died" end
        if answers(srv.port) then return "up" end
    end)
    if up == "up" then return srv end
    local log = srv:error_log()
    srv.keep = false
    srv:stop()
    return nil, ("nginx %s (port %d):\n%s"):format(up == "died" and "exited at startup"
        or "did not answer", srv.port, log), log
end

-- Raises unless the LuaJIT build of socket.smtp.core, which nginx loads,
-- is there.
function N.need_core()
    local so = H.root .. "/build/jit/socket/smtp/core.so"
    assert(exists(so), so .. " is missing: run `make LUA=jit` first")
end

-- N.start for the TLS specs: `locations` as in N.start; the cosockets
-- trust the CA file `ca` (H.tls_certs().ca) and wait 5 s at most.
function N.start_tls(locations, ca)
    N.need_core()
    return N.start{
        locations = locations,
        http = "    lua_socket_read_timeout 5s;\n"
            .. "    lua_ssl_trusted_certificate " .. ca .. ";\n"
            .. "    lua_ssl_verify_depth 2;",
    }
end

-- In a describe block: one N.start_tls nginx for all its tests, started in
-- its setup and stopped (with H.stop_all()) in its teardown. Returns a
-- function that gives the server.
function N.start_tls_for_block(locations, ca)
    local busted = require("busted") -- the spec file's setup/teardown
    local srv
    busted.setup(function()
        srv = N.start_tls(locations, ca)
    end)
    busted.teardown(function()
        if srv then srv:stop() end
        H.stop_all()
    end)
    return function() return srv end
end

-- Starts a private nginx; raises with the error log when it cannot.
function N.start(opts)
    opts = opts or {}
    local ok, why = N.available()
    if not ok then error(why, 2) end
    local bin, modules = find_nginx(), find_modules()
    local srv, err, log
    for _ = 1, 3 do    -- another process may take the free port meanwhile
        srv, err, log = start_once(opts, bin, modules)
        if srv then return srv end
        if opts.port or not (log and log:find("Address already in use", 1, true)) then break end
    end
    error(err, 2)
end

return N
