-- Attack on the issue 8 fixes: smtp.file / core.file take the path with
-- luaL_checkstring and hand it to open(2) as a C string, so a path with
-- an embedded NUL is cut at the NUL, silently:
--
--   smtp.file("/etc/hostname\0.pdf", {filename = "report.pdf"})
--
-- opens and attaches /etc/hostname (a caller that checks the extension of
-- a user-supplied name is bypassed: CWE-158), tostring() shows the cut
-- path, and the errors name a path the caller never gave
-- (smtp.file("/nonexistent\0/etc/hostname") -> "/nonexistent: No such
-- file or directory").
--
-- Breaks doc/design.md rule 4 of section 1 (NUL refused at the edge, with
-- an error naming the field) and the smtp.file rule that every error names
-- the path (doc/design.md "Bindings" rule 3, issue 8 item 8).
--
-- Expected: a path holding a NUL is refused before anything is opened:
-- nil and an error that says the path contains a NUL (or a "bad argument"
-- raise saying so); never a file object.
local H = require("helper")
local smtp = require("socket.smtp")
local core = require("socket.smtp.core")

describe("issue 8 attack: a NUL in an smtp.file path", function()
    local dir, path
    before_each(function()
        dir = H.tmpdir()
        path = dir .. "/secret.txt"
        H.write_file(path, "the secret\n")
    end)
    after_each(function()
        H.rmdir(dir)
    end)

    local function refused(open, p, label)
        local ok, f, err = pcall(open, p, { filename = "report.pdf" })
        local msg = ok and err or f
        assert.is_true(not ok or f == nil,
            label .. ": a path with a NUL gave a file object: " .. tostring(ok and f))
        assert.is_truthy(type(msg) == "string" and msg:find("NUL", 1, true),
            label .. ": the error does not say the path holds a NUL: " .. tostring(msg))
    end

    it("smtp.file refuses it instead of opening the path cut at the NUL", function()
        refused(smtp.file, path .. "\0.pdf", "smtp.file")
    end)

    it("core.file refuses it too", function()
        refused(core.file, path .. "\0.pdf", "core.file")
    end)

    it("the file before the NUL never reaches a message", function()
        local ok, f = pcall(smtp.file, path .. "\0.pdf", { filename = "report.pdf" })
        if ok and f then
            local out = {}
            for chunk in smtp.message({ body = f }) do out[#out + 1] = chunk end
            local text = table.concat(out)
            -- "the secret\n" in base64
            assert.is_falsy(text:find("dGhlIHNlY3JldAo=", 1, true),
                "the file named by the path cut at its NUL was attached")
        end
    end)

    it("a missing path with a NUL is not reported under another path", function()
        local ok, f, err = pcall(smtp.file, dir .. "/missing\0/etc/hostname")
        local msg = ok and err or f
        assert.is_true(not ok or f == nil)
        assert.are_not.equal(dir .. "/missing: No such file or directory", msg)
    end)
end)
