-- Yield safety: smtp.send under a coroutine scheduler whose sockets yield
-- before every call, with sources and steps that yield too. Any C frame
-- between the scheduler and a yield (socket.protect, pcall in 5.1, a C
-- function calling Lua) would fail with "attempt to yield across a C-call
-- boundary"; smtp-native keeps every yield in a Lua frame.
local H = require("helper")
local smtp = require("socket.smtp")
local socket = require("socket")
local ltn12 = require("ltn12")

-- A LuaSocket-shaped socket that hands control back to the scheduler
-- before each call, as copas or an event loop would.
local function yielding_socket(log)
    local real = socket.tcp()
    local obj = {}
    local function wrap(name)
        obj[name] = function(_, ...)
            log[#log + 1] = name
            coroutine.yield(name)
            return real[name](real, ...)
        end
    end
    for _, name in ipairs({ "connect", "settimeout", "send", "receive", "close", "setoption" }) do
        wrap(name)
    end
    return obj
end

-- Round-robin scheduler: runs the functions as coroutines to completion and
-- returns their results and how often each yielded.
local function run_all(fns)
    local cos, results, yields = {}, {}, {}
    for i, f in ipairs(fns) do
        cos[i] = coroutine.create(f)
        yields[i] = 0
    end
    local live = #cos
    while live > 0 do
        for i, co in ipairs(cos) do
            if coroutine.status(co) ~= "dead" then
                local res = { coroutine.resume(co) }
                if not res[1] then error("coroutine " .. i .. " failed: " .. tostring(res[2])) end
                if coroutine.status(co) == "dead" then
                    results[i] = { res[2], res[3], res[4] }
                    live = live - 1
                else
                    yields[i] = yields[i] + 1
                end
            end
        end
    end
    return results, yields
end

describe("yield safety", function()
    teardown(H.stop_all)

    it("sends two messages concurrently on sockets that yield before every call", function()
        local srv = H.capture()
        finally(function() srv:stop() end)
        local logs = { {}, {} }
        local function job(i)
            return function()
                -- the message body comes from a source that yields as well
                local parts = { "first line " .. i .. "\r\n", "second line\r\n", "third line\r\n" }
                local k = 0
                local body = function()
                    coroutine.yield("source")
                    k = k + 1
                    return parts[k]
                end
                return smtp.send{
                    from = "<a@example.com>", rcpt = { "<b" .. i .. "@example.com>", "<c@example.com>" },
                    server = "127.0.0.1", port = srv.port, domain = "client.test",
                    create = function() return yielding_socket(logs[i]) end,
                    source = smtp.message{ headers = { subject = "job " .. i }, body = body },
                    step = function(src, snk)
                        coroutine.yield("step")
                        return ltn12.pump.step(src, snk)
                    end,
                }
            end
        end
        local results, yields = run_all({ job(1), job(2) })
        for i = 1, 2 do
            assert.are.equal(1, results[i][1], tostring(results[i][2]))
            assert.are.same({ "<b" .. i .. "@example.com>", "<c@example.com>" }, results[i][2].accepted)
            -- every socket call yielded, and the source and step did too
            assert.is_true(yields[i] > #logs[i], "yields " .. yields[i] .. " calls " .. #logs[i])
            assert.is_true(#logs[i] >= 10)
        end
        local msgs = srv:wait_messages(2)
        assert.are.equal(2, #msgs)
        for _, m in ipairs(msgs) do
            local e = H.parse_email(m.data)
            local i = tonumber(H.header(e, "Subject"):match("job (%d)"))
            assert.are.equal("first line " .. i .. "\r\nsecond line\r\nthird line\r\n", e.payload)
        end
    end)

    it("is a real check: LuaSocket's own smtp.message breaks on a yielding source", function()
        -- LuaSocket's message runs the body source inside its private
        -- coroutine, so the source's yield never reaches the scheduler
        local ver = H.lua_version == "jit" and "5.1" or H.lua_version
        local saved = socket.smtp
        local lsmtp = dofile("/usr/share/lua/" .. ver .. "/socket/smtp.lua")
        socket.smtp = saved
        local results, yields = run_all({ function()
            local src = lsmtp.message{ body = function() coroutine.yield("source") return nil end }
            local chunks = {}
            while true do
                local c = src()
                if not c then break end
                chunks[#chunks + 1] = c
            end
            return #chunks
        end })
        assert.are.equal(0, yields[1]) -- the scheduler never saw the yield
        assert.is_number(results[1][1])
    end)

    it("reports failures as return values inside the coroutine", function()
        local srv = H.capture({ reject_rcpt = "nobody@" })
        finally(function() srv:stop() end)
        local results = run_all({ function()
            return smtp.send{
                from = "<a@example.com>", rcpt = "<nobody@example.com>",
                server = "127.0.0.1", port = srv.port,
                create = function() return yielding_socket({}) end,
                source = ltn12.source.string("Subject: x\r\n\r\nx\r\n"),
            }
        end })
        assert.is_nil(results[1][1])
        assert.matches("^550 5%.1%.1 ", results[1][2])
    end)

    it("drives the low-level API inside a coroutine", function()
        local srv = H.capture()
        finally(function() srv:stop() end)
        local results, yields = run_all({ function()
            local s = smtp.open("127.0.0.1", srv.port, function() return yielding_socket({}) end)
            s:greet("client.test")
            for i = 1, 2 do
                s:send{ from = "<a@example.com>", rcpt = "<b@example.com>",
                        source = ltn12.source.string("Subject: " .. i .. "\r\n\r\nx\r\n") }
            end
            local code = s:quit()
            s:close()
            return code
        end })
        assert.are.equal(221, results[1][1])
        assert.is_true(yields[1] > 10)
        assert.are.equal(2, #srv:wait_messages(2))
    end)

    it("a yielding source works on a plain LuaSocket socket too", function()
        local srv = H.capture()
        finally(function() srv:stop() end)
        local results = run_all({ function()
            local n = 0
            return smtp.send{
                from = "<a@example.com>", rcpt = "<b@example.com>",
                server = "127.0.0.1", port = srv.port,
                source = function()
                    coroutine.yield()
                    n = n + 1
                    if n == 1 then return "Subject: y\r\n\r\n" end
                    if n <= 4 then return "line " .. n .. "\r\n" end
                end,
            }
        end })
        assert.are.equal(1, results[1][1], tostring(results[1][2]))
        assert.are.equal("Subject: y\r\n\r\nline 2\r\nline 3\r\nline 4\r\n", srv:wait_messages(1)[1].data)
    end)
end)
