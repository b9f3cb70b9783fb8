-- Issue 10, attack on the split message compiler (helper E): lmime.c now
-- hands parts to the engine mime_msg (header policy, name and line
-- caches), lmime_gen.c runs the program, lfile.c owns smtp.file. No
-- finding: these pin what the suite lacked. Contract: header values
-- equal in content but distinct strings, and distinct values at a reused
-- address, go out as written in every part; a collection inside a body
-- source or between g:next() calls changes nothing; a generator abandoned
-- in a coroutine mid-message is collected cleanly and its file stays
-- usable by another message; two generators share one smtp.file, closed
-- half-way, and both send the whole file.
local core = require("socket.smtp.core")

local function drain(g)
    local out = {}
    while true do
        local chunk, src = g:next()
        if chunk then
            out[#out + 1] = chunk
        elseif chunk == false then
            collectgarbage()
            g:feed(src())
        else
            assert(src == nil, src)
            break
        end
    end
    return table.concat(out)
end

local function count(s, pat)
    local n = 0
    for _ in s:gmatch(pat) do n = n + 1 end
    return n
end

local function tmpfile(content)
    local path = os.tmpname()
    local fh = assert(io.open(path, "wb"))
    fh:write(content)
    fh:close()
    return path
end

describe("message compiler under attack (issue 10)", function()
    it("the line cache: same content in different strings, different content at one address",
       function()
        local v1 = ("v"):rep(60)
        local v2 = ("v"):rep(59) .. "v"      -- equal, another (long) string
        local long = ("X-"):rep(30) .. "B"
        local parts = {}
        for i = 1, 200 do
            -- a fresh value string per part: collected ones free their
            -- addresses for the next
            local fresh = "w" .. i .. ("w"):rep(50)
            parts[i] = { headers = { { "X-A", v1 }, { "X-A", v2 }, { long, v1 }, { "X-C", fresh } },
                         body = "p" .. i .. "\r\n" }
            if i % 20 == 0 then collectgarbage() end
        end
        local text = drain(core.message({ headers = { subject = "cache" }, body = parts }, {}))
        assert.are.equal(400, count(text, "\nX%-A: " .. v1 .. "\r"))
        assert.are.equal(200, count(text, "\n" .. long:gsub("%-", "%%-") .. ": " .. v1 .. "\r"))
        for i = 1, 200 do
            assert.are.equal(1, count(text, "\nX%-C: w" .. i .. ("w"):rep(50) .. "\r"), i)
        end
    end)

    it("collections inside a body source and between chunks", function()
        local n = 0
        local g = core.message({ headers = { subject = "gc" }, body = {
            { body = function()
                n = n + 1
                collectgarbage()
                if n <= 4 then return (("a"):rep(70) .. "\r\n"):rep(1000) end
            end },
            { body = (("b"):rep(70) .. "\r\n"):rep(3000) },
        } }, {})
        local out = {}
        while true do
            collectgarbage()
            local chunk, src = g:next()
            if chunk then
                out[#out + 1] = chunk
            elseif chunk == false then
                local v, e = src()
                collectgarbage()
                g:feed(v, e)
            else
                break
            end
        end
        local text = table.concat(out)
        assert.are.equal(4000, count(text, "\n" .. ("a"):rep(70) .. "\r"))
        assert.are.equal(3000, count(text, "\n" .. ("b"):rep(70) .. "\r"))
    end)

    it("generators abandoned in coroutines mid-message; their file still serves others", function()
        local path = tmpfile("hello\r\n")
        local f = assert(core.file(path))
        for _ = 1, 100 do
            local g = core.message({ body = { { body = f },
                                              { body = function() coroutine.yield() end } } }, {})
            local co = coroutine.wrap(function()
                while true do
                    local chunk, src = g:next()
                    if chunk == false then g:feed(src()) elseif not chunk then break end
                end
            end)
            co()
        end
        collectgarbage()
        collectgarbage()
        local text = drain(core.message({ body = f }, {}))
        assert.matches("aGVsbG8NCg==", text, 1, true)
        f:close()
        os.remove(path)
    end)

    it("two generators share an smtp.file closed half-way: both send all of it", function()
        local data = {}
        for i = 1, 3000 do data[i] = ("line %05d of the shared file\r\n"):format(i) end
        data = table.concat(data)
        local path = tmpfile(data)
        local f = assert(core.file(path, { encoding = "7bit" }))
        local g1 = core.message({ body = f }, {})
        local g2 = core.message({ body = { { body = f }, { body = f } } }, {})
        local a, b = {}, {}
        for i = 1, 10000 do
            local x = g1:next()
            if x then a[#a + 1] = x end
            local y = g2:next()
            if y then b[#b + 1] = y end
            if i == 2 then
                f:close()
                collectgarbage()
            end
            if not x and not y then break end
        end
        a, b = table.concat(a), table.concat(b)
        assert.are.equal(3000, count(a, "line %d+ of the shared file\r\n"))
        assert.are.equal(6000, count(b, "line %d+ of the shared file\r\n"))
        os.remove(path)
    end)
end)
