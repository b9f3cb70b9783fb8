-- Scripts written for LuaSocket's smtp run unchanged on smtp-native.
--
-- The two examples of LuaSocket's smtp reference page (spec/fixtures/, copied
-- verbatim) and a low-level script sending three messages on one
-- connection run as separate processes, exactly as a user runs them, with
-- this checkout first on the Lua paths. What arrives at a real SMTP server
-- (aiosmtpd) is checked with Python's email parser.
local H = require("helper")

local FIX = H.root .. "/spec/fixtures/"

-- Runs a fixture script in its own directory; returns its output.
local function run(dir, script, ...)
    local ok, out = H.sh("cd " .. dir .. " && " .. H.lua_command(script, ...))
    assert(ok, out)
    return out
end

local function payload_of(part)
    return part.payload
end

describe("LuaSocket compatibility", function()
    teardown(H.stop_all)

    it("loads smtp-native for require('socket.smtp')", function()
        local smtp = require("socket.smtp")
        local core = package.loaded["socket.smtp.core"]
        assert.is_table(core)
        assert.matches("^smtp%-native ", core._VERSION)
        assert.are.equal(core._VERSION, smtp._VERSION)
        for _, name in ipairs({ "send", "message", "open" }) do
            assert.is_function(smtp[name], name)
        end
        assert.are.equal(60, smtp.TIMEOUT)
        assert.are.equal(25, smtp.PORT)
        assert.are.equal("localhost", smtp.SERVER)
        assert.are.equal("-0000", smtp.ZONE)
        assert.is_string(smtp.DOMAIN)
        assert.are.equal(smtp, require("socket").smtp)
    end)

    it("runs the first example of the reference unchanged", function()
        local srv = H.capture()
        finally(function() srv:stop() end)
        local dir = H.tmpdir()
        finally(function() H.rmdir(dir) end)
        local out = run(dir, FIX .. "run_example.lua", FIX .. "luasocket_example1.lua",
            "127.0.0.1", srv.port)
        assert.matches("core\ttrue\n", out)
        assert.matches("r\t1\n", out)
        -- LuaSocket returns 1; smtp-native adds the report after it
        assert.matches("e\ttable: ", out)
        assert.matches("accepted\t<fulano@example.com>,<beltrano@example.com>,<sicrano@example.com>\n", out, 1, true)
        local msgs = srv:wait_messages(1)
        assert.are.equal(1, #msgs)
        local m = msgs[1]
        assert.are.equal("luasocket@example.com", m.from)
        assert.are.same({ "fulano@example.com", "beltrano@example.com", "sicrano@example.com" }, m.rcpt)
        local e = H.parse_email(m.data)
        assert.are.same({}, e.defects)
        assert.are.equal("Fulano da Silva <fulano@example.com>", H.header(e, "To"))
        assert.are.equal('"Beltrano F. Nunes" <beltrano@example.com>', H.header(e, "Cc"))
        assert.are.equal("My first message", H.header(e, "Subject"))
        assert.are.equal("1.0", H.header(e, "MIME-Version"))
        assert.matches("^smtp%-native ", H.header(e, "X-Mailer"))
        assert.matches("^%a%a%a, %d%d %a%a%a %d%d%d%d %d%d:%d%d:%d%d %-0000$", H.header(e, "Date"))
        assert.are.equal("text/plain", e.content_type)
        assert.are.equal("iso-8859-1", e.charset)
        -- the body did not end with a line break: the end-of-data marker's
        -- CRLF ends its last line, so exactly one CRLF arrives after it
        assert.are.equal("I hope this works. If it does, I can send you another 1000 copies.\r\n",
            payload_of(e))
        assert.matches("copies%.\r\n$", m.data)
        -- no Bcc header, and sicrano (the blind copy) is not named anywhere
        assert.is_nil(H.header(e, "Bcc"))
        assert.is_nil(m.data:find("sicrano", 1, true))
    end)

    it("runs the second example (multipart, base64 attachment) unchanged", function()
        local srv = H.capture()
        finally(function() srv:stop() end)
        local dir = H.tmpdir()
        finally(function() H.rmdir(dir) end)
        -- "image.png": every byte value, CR/LF pairs, dots at line starts
        local bytes = {}
        for i = 0, 255 do bytes[#bytes + 1] = string.char(i) end
        local image = "\137PNG\r\n\26\n" .. table.concat(bytes):rep(200) .. "\r\n.\r\n.."
        H.write_file(dir .. "/image.png", image)
        local out = run(dir, FIX .. "run_example.lua", FIX .. "luasocket_example2.lua",
            "127.0.0.1", srv.port)
        assert.matches("r\t1\n", out)
        local m = srv:wait_messages(1)[1]
        assert.are.equal("sicrano@example.com", m.from)
        assert.are.same({ "fulano@example.com" }, m.rcpt)
        local e = H.parse_email(m.data)
        assert.are.same({}, e.defects)
        assert.is_true(e.is_multipart)
        assert.are.equal("multipart/mixed", e.content_type)
        assert.are.equal("Here is a message with attachments", H.header(e, "Subject"))
        assert.are.equal("Sicrano de Oliveira <sicrano@example.com>", H.header(e, "From"))
        assert.matches("^If your client doesn't understand attachments, \r?\nit will still display",
            e.preamble)
        -- the blank line after the closing delimiter (LuaSocket's layout)
        -- belongs to the epilogue
        assert.matches("^\r?\nThis might also show up, but after the attachments", e.epilogue)
        assert.are.equal(2, #e.parts)
        local text, png = e.parts[1], e.parts[2]
        assert.are.equal("text/plain", text.content_type)
        assert.matches("Lines in a message body should always end with CRLF%.\r\n", text.payload)
        assert.matches("function does %*NOT%*%.\r\n", text.payload)
        assert.are.equal("image/png", png.content_type)
        assert.are.equal('attachment; filename="image.png"', H.header(png, "Content-Disposition"))
        assert.are.equal("a beautiful image", H.header(png, "Content-Description"))
        assert.are.same({}, png.defects)
        assert.are.equal(#image, #png.payload)
        assert.is_true(image == png.payload, "attachment bytes differ")
    end)

    it("runs a low-level script: three messages and the step-by-step API on one connection", function()
        local srv = H.capture()
        finally(function() srv:stop() end)
        local dir = H.tmpdir()
        finally(function() H.rmdir(dir) end)
        local out = run(dir, FIX .. "luasocket_lowlevel.lua", "127.0.0.1", srv.port)
        assert.matches("^250\t250 ", out)
        local msgs = srv:wait_messages(4)
        assert.are.equal(4, #msgs)
        for i = 1, 3 do
            local m = msgs[i]
            assert.are.equal(1, m.session)
            assert.are.equal("sender@example.com", m.from)
            assert.are.same({ "first@example.com", "second@example.com" }, m.rcpt)
            assert.are.equal("Subject: message " .. i .. "\r\n\r\nbody of message " .. i .. "\r\n", m.data)
        end
        assert.are.equal(1, msgs[4].session)
        assert.are.same({ "first@example.com" }, msgs[4].rcpt)
        assert.are.equal("Subject: by hand\r\n\r\nstep by step\r\n", msgs[4].data)
        local wire = srv:sessions()[1]
        assert.are.equal(1, #srv:sessions())
        assert.matches("^EHLO client%.example\r\n", wire)
        assert.matches("QUIT\r\n$", wire)
    end)

    it("reports low-level failures the LuaSocket way, through socket.protect", function()
        local socket = require("socket")
        local smtp = require("socket.smtp")
        local ltn12 = require("ltn12")
        local srv = H.capture({ reject_rcpt = "nobody@" })
        finally(function() srv:stop() end)
        local f = socket.protect(function()
            local s = smtp.open("127.0.0.1", srv.port)
            s:greet("client.example")
            s:send{ from = "<a@example.com>", rcpt = "<nobody@example.com>",
                    source = ltn12.source.string("Subject: x\r\n\r\nx\r\n") }
            return "not reached"
        end)
        local r, err = f()
        assert.is_nil(r)
        assert.are.equal("550 5.1.1 <nobody@example.com>: no such user (RCPT TO:<nobody@example.com>)", err)
        -- a refused recipient ends the session politely, then closes
        H.sleep(0.2)
        assert.matches("RCPT TO:<nobody@example%.com>\r\nQUIT\r\n$", srv:sessions()[1])
        -- opening a connection to a closed port raises too
        local g = socket.protect(function() return smtp.open("127.0.0.1", 1) end)
        local r2, err2 = g()
        assert.is_nil(r2)
        assert.are.equal("connection refused", err2)
    end)
end)
