-- Issue 8, finding 8 (and the smtp.file part of 11): smtp.file on a FIFO
-- blocked forever in fopen (no timeout applies); a directory was accepted
-- and failed later; errors while generating gave strerror() alone, without
-- the path. Contract: smtp.file refuses what is not a regular file, at
-- once, with nil, "<path>: not a regular file"-like text; a missing file
-- gives nil, "<path>: No such file or directory"; every later error names
-- the path.
local H = require("helper")
local R = require("support.regress8")
local smtp = require("socket.smtp")

local dir

local function assert_refused(path, f, err)
    assert.is_nil(f)
    assert.equal("string", type(err))
    assert.truthy(err:find(path, 1, true), "the error does not name the path: " .. err)
    assert.truthy(err:find("not a regular file", 1, true), err)
end

describe("issue 8 finding 8: smtp.file takes regular files only", function()
    before_each(function() dir = H.tmpdir() end)
    after_each(function() H.rmdir(dir) end)

    it("a FIFO is refused at once (no blocking open), naming the path", function()
        local fifo = dir .. "/pipe"
        assert(H.sh("mkfifo " .. H.quote(fifo)))
        local ok, out, status = R.child(([[
local smtp = require("socket.smtp")
local f, err = smtp.file(%q)
io.write("RESULT ", tostring(f), "\n", tostring(err), "\n")
print("CHILD OK")
]]):format(fifo), nil, 5)
        assert(status ~= 137, "smtp.file on a FIFO still blocked after 5 s (killed)")
        assert(ok, "child failed (status " .. tostring(status) .. "):\n" .. out)
        local f, err = out:match("RESULT ([^\n]*)\n([^\n]*)\n")
        assert.equal("nil", f)
        assert_refused(fifo, nil, err)
    end)

    it("a directory is refused, naming the path", function()
        assert_refused(dir, smtp.file(dir))
        assert_refused(dir .. "/", smtp.file(dir .. "/"))
    end)

    it("a character device (/dev/null) is refused, naming the path", function()
        assert_refused("/dev/null", smtp.file("/dev/null"))
    end)

    it("a missing file: nil, '<path>: No such file or directory'", function()
        local path = dir .. "/missing.bin"
        local f, err = smtp.file(path)
        assert.is_nil(f)
        assert.equal(path .. ": No such file or directory", err)
    end)

    it("a regular file is accepted (through a symbolic link too)", function()
        H.write_file(dir .. "/a.txt", "hello")
        assert(H.sh("ln -s a.txt " .. H.quote(dir .. "/link.txt")))
        local f = assert(smtp.file(dir .. "/link.txt"))
        local text = assert(R.generate({ body = f }))
        assert.equal("hello", H.parse_email(text).payload)
    end)

    for _, encoding in ipairs({ "base64", "auto" }) do
        it("a file deleted before its second use (encoding " .. encoding .. "): the error names the path", function()
            local path = dir .. "/gone.bin"
            H.write_file(path, ("data\r\n"):rep(1000))
            local f = assert(smtp.file(path, { encoding = encoding }))
            local text = assert(R.generate({ body = f }))
            assert.equal(("data\r\n"):rep(1000), H.parse_email(text).payload)
            os.remove(path)
            local msg, err = R.generate({ body = f })
            assert.is_nil(msg)
            assert.equal("string", type(err))
            assert.truthy(err:find(path, 1, true), "the error does not name the path: " .. err)
            assert.truthy(err:find("No such file or directory", 1, true), err)
        end)
    end
end)
