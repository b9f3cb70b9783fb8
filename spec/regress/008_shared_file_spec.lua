-- Issue 8, finding 2: the generator kept the smtp.file object's FILE*
-- between g:next() calls. Another generator finishing the same file
-- object, or f:close(), closed it underneath: interleaving two messages
-- sent a truncated attachment (221,696 of 320,000 bytes), and reading
-- after a close used a freed FILE (segfault). Contract: each generator
-- reads the file through its own handle; f:close() does not disturb a
-- generation under way; a message made after f:close() reopens the file
-- by its path; a file used again is read from its start.
--
-- Each scenario runs in a child process (a use after free may crash),
-- which writes the messages it made to files that are checked here.
local H = require("helper")
local R = require("support.regress8")

local SIZE = 320000

-- Runs `steps` in a child, with `att = smtp.file(<320,000 random bytes>)`,
-- `m(name)` making a message source, `step(name)` calling it once,
-- `drain(name)` calling it until it ends, `close()` closing att. Every
-- message is written to DIR/<name>.eml (or DIR/<name>.err when it failed).
-- Returns the file's content and a table name -> message text or
-- {err = message}.
local function scenario(steps)
    local dir = H.tmpdir()
    math.randomseed(8)
    local data = R.random_bytes(SIZE)
    H.write_file(dir .. "/attachment.bin", data)
    local out = R.assert_child([[
local smtp = require("socket.smtp")
local att = assert(smtp.file(DIR .. "/attachment.bin"))
local sources, texts, names, failed = {}, {}, {}, {}
local function m(name)
    sources[name] = smtp.message{ headers = { subject = name }, body = att }
    texts[name] = {}
    names[#names + 1] = name
end
local function step(name)
    if failed[name] then return nil end
    local chunk, err = sources[name]()
    if chunk then texts[name][#texts[name] + 1] = chunk
    elseif err then failed[name] = err end
    return chunk
end
local function drain(name)
    repeat until step(name) == nil
end
local function close() att:close() end
local function collect() collectgarbage("collect") collectgarbage("collect") end
]] .. steps .. [[

for _, name in ipairs(names) do
    local f
    if failed[name] then
        f = assert(io.open(DIR .. "/" .. name .. ".err", "wb"))
        f:write(tostring(failed[name]))
    else
        f = assert(io.open(DIR .. "/" .. name .. ".eml", "wb"))
        f:write(table.concat(texts[name]))
    end
    f:close()
end
print("CHILD OK")
]], dir)
    local results = {}
    for name in steps:gmatch('m%("([%w_]+)"%)') do
        local err = H.read_file(dir .. "/" .. name .. ".err")
        results[name] = err and { err = err } or H.read_file(dir .. "/" .. name .. ".eml")
        assert(results[name], "no result for " .. name .. ":\n" .. out)
    end
    H.rmdir(dir)
    return data, results
end

-- The message carries the whole file, base64-encoded.
local function assert_whole(data, text, name)
    assert(type(text) == "string", name .. " failed: " .. tostring(type(text) == "table" and text.err))
    local tree = H.parse_email(text)
    assert.equal(name, H.header(tree, "Subject"))
    assert.equal("base64", (H.header(tree, "Content-Transfer-Encoding") or ""):lower())
    assert.equal(0, #tree.defects)
    local body = tree.payload
    assert(#body == #data, ("%s: the attachment has %d bytes, not %d"):format(name, #body, #data))
    assert(body == data, name .. ": the attachment differs from the file")
end

-- Runs `steps` (see scenario) and asserts that each message they make
-- carries the whole file, in the order they make them.
local function assert_all_whole(steps)
    local data, res = scenario(steps)
    for name in steps:gmatch('m%("([%w_]+)"%)') do assert_whole(data, res[name], name) end
end

describe("issue 8 finding 2: one smtp.file shared by several messages", function()
    it("m1(); repeat until m2() == nil; then m1 to its end: both whole", function()
        assert_all_whole([[
m("m1") m("m2")
step("m1")
drain("m2")
drain("m1")
]])
    end)

    it("m1 read into the file, m2 drained, m1 drained", function()
        assert_all_whole([[
m("m1") m("m2")
for _ = 1, 3 do step("m1") end
drain("m2")
drain("m1")
]])
    end)

    it("two messages in lockstep, chunk by chunk", function()
        assert_all_whole([[
m("m1") m("m2")
local a, b
repeat a = step("m1"); b = step("m2") until a == nil and b == nil
]])
    end)

    it("three messages interleaved, the second one started last", function()
        assert_all_whole([[
m("m1") m("m2") m("m3")
step("m1") step("m1") step("m3")
drain("m2")
step("m1")
collect()
drain("m3")
drain("m1")
]])
    end)

    it("att:close() in the middle of a generation does not disturb it", function()
        assert_all_whole([[
m("m1")
step("m1") step("m1") step("m1")
close()
collect()
drain("m1")
]])
    end)

    it("att:close() before the first chunk does not disturb the message", function()
        assert_all_whole([[
m("m1")
close()
drain("m1")
]])
    end)

    it("a message made after att:close() reopens the file by its path", function()
        assert_all_whole([[
m("m1")
drain("m1")
close()
m("m2")
drain("m2")
close()
close()
m("m3")
step("m3")
close()
drain("m3")
]])
    end)

    it("a file used again is read from its start", function()
        assert_all_whole([[
m("m1") drain("m1")
m("m2") drain("m2")
m("m3") step("m3") step("m3")
m("m4") drain("m4")
drain("m3")
]])
    end)
end)
