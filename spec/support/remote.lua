--[[
spec/support/remote.lua: a "remote" server that is really on 127.0.0.1.

    local remote = require("support.remote")
    local create, log = remote.create()
    smtp.send{ ..., server = "mail.example.test", port = srv.port, create = create }
    log.hosts   -- { "mail.example.test" }: the host each connect() was given
    log.socks   -- the wrapper objects create() returned, in order

create() returns a plain Lua table with LuaSocket's shape (connect, send,
receive, settimeout, setoption, close) around a LuaSocket tcp object that
connects to 127.0.0.1 whatever host it is asked for. socket.smtp's
transport sees a generic socket (not a LuaSocket userdata, so it cannot ask
for the peer's address): the server *name* then decides whether the peer
counts as this machine, so a spec can play a server that is not on
localhost without leaving 127.0.0.1. wrapper.inner is the LuaSocket object
(for a spec's own ssl.upgrade).
]]

local socket = require("socket")

local M = {}

function M.create()
    local log = { hosts = {}, socks = {} }
    local function create()
        local inner = socket.tcp()
        local w = { inner = inner }
        function w.connect(_, host, port)
            log.hosts[#log.hosts + 1] = host
            return inner:connect("127.0.0.1", port)
        end
        function w.send(_, data, i, j) return inner:send(data, i, j) end
        function w.receive(_, pattern, prefix) return inner:receive(pattern, prefix) end
        function w.settimeout(_, t) return inner:settimeout(t) end
        function w.setoption(_, name, value) return inner:setoption(name, value) end
        function w.close() return inner:close() end
        log.socks[#log.socks + 1] = w
        return w
    end
    return create, log
end

return M
