-- Issue 10, attack on the restructured bindings (helper E): every class
-- now registers through lbind_class, the SASL methods reach the client
-- through an upvalue (smtp_open_sasl(L, fn)), and core.verify_host walks
-- the Lua lists in lhost.c while smtp_host decides. No finding: these pin
-- what the suite lacked. Contract: a method or metamethod of one class
-- called on a value of another (a file as a generator, a generator as a
-- client, a client as a SASL object...) raises an argument error naming
-- the class expected, and leaves both objects usable; core.verify_host
-- reads the names table through metamethods that collect or raise without
-- harm, refuses a NUL on either side, and bounds what its refusal shows.
local core = require("socket.smtp.core")

local function make_all()
    local path = os.tmpname()
    local fh = assert(io.open(path, "wb"))
    fh:write("hello\r\n")
    fh:close()
    local objs = {
        client = core.new(),
        generator = core.message({ body = "x\r\n" }, {}),
        file = assert(core.file(path)),
        sasl = assert(core.sasl("PLAIN", { user = "u", password = "p" })),
    }
    return objs, path
end

local MT_NAME = {
    client = "socket.smtp.core.client", generator = "socket.smtp.core.generator",
    file = "socket.smtp.core.file", sasl = "socket.smtp.core.sasl",
}

describe("bindings under attack: classes and verify_host (issue 10)", function()
    it("a method or metamethod on another class's object raises, naming the class", function()
        local objs, path = make_all()
        for owner, obj in pairs(objs) do
            local mt = getmetatable(obj)
            local fns = {}
            for k, f in pairs(mt.__index) do fns[k] = f end
            for _, k in ipairs({ "__gc", "__close", "__tostring" }) do
                if type(mt[k]) == "function" then fns[k] = mt[k] end
            end
            for other, victim in pairs(objs) do
                if other ~= owner then
                    for name, f in pairs(fns) do
                        local ok, err = pcall(f, victim, victim, "x")
                        assert.is_false(ok, owner .. "." .. name .. " took a " .. other)
                        assert.matches(MT_NAME[owner] .. " expected", err, 1, true)
                    end
                end
            end
        end
        -- x:start / x:step take a client second: anything else is refused
        for other, victim in pairs(objs) do
            if other ~= "client" then
                local ok, err = pcall(objs.sasl.start, objs.sasl, victim)
                assert.is_false(ok)
                assert.matches("socket.smtp.core.client expected", err, 1, true)
                ok, err = pcall(objs.sasl.step, objs.sasl, victim, "")
                assert.is_false(ok)
                assert.matches("socket.smtp.core.client expected", err, 1, true)
            end
        end
        -- all still work
        assert.are.equal("connected", objs.client:state())
        local out = {}
        for chunk in objs.generator.next, objs.generator do out[#out + 1] = chunk end
        assert.matches("\r\n\r\nx\r\n$", table.concat(out))
        local g = core.message({ body = objs.file }, {})
        out = {}
        for chunk in g.next, g do out[#out + 1] = chunk end
        assert.matches("aGVsbG8NCg==", table.concat(out), 1, true)
        os.remove(path)
    end)

    it("a closed or collected object refuses, never crashes", function()
        local objs, path = make_all()
        local gmt = getmetatable(objs.generator)
        gmt.__close(objs.generator)
        gmt.__gc(objs.generator)
        local chunk, err = objs.generator:next()
        assert.is_nil(chunk)
        assert.are.equal("message generator closed", err)
        assert.is_false((pcall(objs.generator.feed, objs.generator, "x")))
        -- a SASL object wiped twice, then used
        local smt = getmetatable(objs.sasl)
        smt.__gc(objs.sasl)
        smt.__close(objs.sasl)
        local ok, msg, name = objs.sasl:start(objs.client)
        assert.is_nil(ok)
        assert.are.equal("string", type(msg))
        assert.are.equal("string", type(name))
        -- a file closed, then used by a new message: read again by its path
        objs.file:close()
        objs.file:close()
        local g = core.message({ body = objs.file }, {})
        local out = {}
        for c in g.next, g do out[#out + 1] = c end
        assert.matches("aGVsbG8NCg==", table.concat(out), 1, true)
        collectgarbage()
        collectgarbage()
        os.remove(path)
    end)

    it("core.verify_host: metamethods that collect or raise on the names table", function()
        local calls = 0
        local names = setmetatable({}, { __index = function(_, k)
            calls = calls + 1
            collectgarbage()
            if k == "dns" then return { "x\0y", 5, {}, false, "b.example.com" } end
        end })
        local ok, msg, name = core.verify_host("a.example.com", names)
        assert.is_nil(ok)
        assert.are.equal("ETLS_HOST", name)
        assert.matches('it holds DNS:x?y, DNS:b.example.com', msg, 1, true)
        assert.is_true(calls > 0)
        assert.is_true(core.verify_host("b.example.com", names))
        local boom = setmetatable({}, { __index = function() error("boom") end })
        local perr
        ok, perr = pcall(core.verify_host, "a.example.com", boom)
        assert.is_false(ok)
        assert.matches("boom", perr)
    end)

    it("core.verify_host: NULs, odd hosts and a huge certificate", function()
        assert.is_nil((core.verify_host("a.example.com\0evil", { dns = { "a.example.com" } })))
        assert.is_nil((core.verify_host("a.example.com", { dns = { "a.example.com\0.evil" } })))
        assert.is_nil((core.verify_host("", { cn = { "" } })))
        assert.is_nil((core.verify_host("*.example.com", { dns = { "*.example.com" } })))
        assert.is_nil((core.verify_host("xn--a.example.com", { dns = { "*.example.com" } })))
        assert.is_nil((core.verify_host("a.b", { dns = { "*.b" } })))
        assert.is_true(core.verify_host("A.EXAMPLE.COM", { dns = { "a.example.com" } }))
        -- an IP host: iPAddress names only, written in any form smtp_host reads
        assert.is_true(core.verify_host("[::1]", { ip = { "::1" } }))
        assert.is_true(core.verify_host("::1", { ip = { "[::1]" }, dns = { "::1" } }))
        assert.is_nil((core.verify_host("127.0.0.1", { dns = { "127.0.0.1" } })))
        assert.is_nil((core.verify_host("127.0.0.1", { cn = { "127.0.0.1" } })))
        assert.is_nil((core.verify_host("127.1", { ip = { "127.0.0.1" } })))
        assert.is_nil((core.verify_host("::ffff:127.0.0.1", { ip = { "127.0.0.1" } })))
        -- CN only without subjectAltName; an empty SAN list is none
        assert.is_true(core.verify_host("a.example.com", { dns = {}, ip = {}, cn = { "a.example.com" } }))
        local ok, msg = core.verify_host("a.example.com", { dns = { "b.example.com" }, cn = { "a.example.com" } })
        assert.is_nil(ok)
        assert.matches("its CN does not count", msg, 1, true)
        -- a wrong type where a list belongs is no list
        assert.is_nil((core.verify_host("a.example.com", { dns = "a.example.com" })))
        assert.is_false((pcall(core.verify_host, "x", "y")))
        assert.is_false((pcall(core.verify_host, {}, {})))
        -- 100,000 names of 300 bytes: the refusal shows a bounded, printable part
        local big, long = {}, ("z"):rep(300)
        for i = 1, 100000 do big[i] = long end
        big[100000] = "\1\2\255"
        ok, msg = core.verify_host("a.example.com", { dns = big, ip = big, cn = big })
        assert.is_nil(ok)
        assert.is_true(#msg < 3 * 20 * 300, #msg)
        assert.is_nil(msg:find("[^\32-\126]"))
        big[99999] = "a.example.com"
        assert.is_true(core.verify_host("a.example.com", { dns = big }))
    end)
end)
