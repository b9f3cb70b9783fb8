-- The low-level object of smtp.open: LuaSocket's methods and return values,
-- exact bytes on the wire (scripted server), AUTH LOGIN and PLAIN.
local H = require("helper")
local smtp = require("socket.smtp")
local socket = require("socket")
local ltn12 = require("ltn12")
local mime = require("mime")

local function session(steps)
    local all = { { send = "220 low ESMTP\r\n" }, { expect = "EHLO client.test" },
                  { send = "250-low\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n" } }
    for _, s in ipairs(steps) do all[#all + 1] = s end
    return H.scripted(all)
end

-- smtp.send as joe/pw against a session whose AUTH goes as auth_steps say,
-- then one message and QUIT. Returns send's results and the server's
-- errors (read before it is stopped: stopping removes its directory).
local function auth_send(auth_steps, auth)
    local steps = {}
    for _, s in ipairs(auth_steps) do steps[#steps + 1] = s end
    for _, s in ipairs({
        { expect = "MAIL" }, { send = "250 ok\r\n" }, { expect = "RCPT" }, { send = "250 ok\r\n" },
        { expect = "DATA" }, { send = "354 go\r\n" }, { data = true }, { send = "250 queued\r\n" },
        { expect = "QUIT" }, { send = "221 bye\r\n" },
    }) do steps[#steps + 1] = s end
    local srv = session(steps)
    local r, report = smtp.send{ from = "<a@example.com>", rcpt = "<b@example.com>",
        server = "127.0.0.1", port = srv.port, domain = "client.test", user = "joe", password = "pw",
        auth = auth, source = ltn12.source.string("Subject: x\r\n\r\nx\r\n") }
    srv:wait_done(1)
    local errors = srv:errors()
    srv:stop()
    return r, report, errors
end

describe("smtp.open", function()
    teardown(H.stop_all)

    it("greet, mail, rcpt, data, rset, noop, quit return what LuaSocket returns", function()
        local srv = session({
            { expect = "MAIL FROM:<a@example.com>" }, { send = "250 2.1.0 sender ok\r\n" },
            { expect = "RCPT TO:<b@example.com>" }, { send = "251 2.1.5 will forward\r\n" },
            { expect = "DATA" }, { send = "354 go on\r\n" },
            { data = true }, { send = "250 2.0.0 queued\r\n" },
            { expect = "RSET" }, { send = "250 2.0.0 reset\r\n" },
            { expect = "NOOP" }, { send = "250 2.0.0 fine\r\n" },
            { expect = "QUIT" }, { send = "221 2.0.0 bye\r\n" },
        })
        finally(function() srv:stop() end)
        local s = smtp.open("127.0.0.1", srv.port)
        assert.are.equal("250-low\n250-AUTH PLAIN LOGIN\n250 8BITMIME", s:greet("client.test"))
        assert.are.same({ 250, "250 2.1.0 sender ok" }, { s:mail("<a@example.com>") })
        assert.are.same({ 251, "251 2.1.5 will forward" }, { s:rcpt("<b@example.com>") })
        assert.are.same({ 250, "250 2.0.0 queued" },
            { s:data(ltn12.source.string("Subject: x\r\n\r\n.dot\r\n")) })
        assert.are.same({ 250, "250 2.0.0 reset" }, { s:rset() })
        assert.are.same({ 250, "250 2.0.0 fine" }, { s:noop() })
        assert.are.same({ 221, "221 2.0.0 bye" }, { s:quit() })
        assert.are.equal(1, s:close())
        assert.are.equal("completed", srv:wait_done(1))
        assert.is_nil(srv:errors())
        assert.are.equal("EHLO client.test\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\n" ..
            "DATA\r\nSubject: x\r\n\r\n..dot\r\n.\r\nRSET\r\nNOOP\r\nQUIT\r\n", srv:transcript(1))
        assert.are.same({ AUTH = "PLAIN LOGIN", ["8BITMIME"] = "" }, s:caps())
    end)

    it("auth uses LOGIN first, as LuaSocket does, with the exact exchange", function()
        local srv = session({
            { expect = "AUTH LOGIN" }, { send = "334 VXNlcm5hbWU6\r\n" },
            { expect = mime.b64("joe") }, { send = "334 UGFzc3dvcmQ6\r\n" },
            { expect = mime.b64("s3cr3t") }, { send = "235 2.7.0 ok\r\n" },
            { expect = "QUIT" }, { send = "221 bye\r\n" },
        })
        finally(function() srv:stop() end)
        local s = smtp.open("127.0.0.1", srv.port)
        local ext = s:greet("client.test")
        assert.are.same({ 235, "235 2.7.0 ok" }, { s:auth("joe", "s3cr3t", ext) })
        s:quit()
        s:close()
        assert.is_nil(srv:errors())
        assert.are.equal("EHLO client.test\r\nAUTH LOGIN\r\nam9l\r\nczNjcjN0\r\nQUIT\r\n", srv:transcript(1))
    end)

    it("plain sends the initial response", function()
        local srv = session({
            { expect = "AUTH PLAIN " .. mime.b64("\0joe\0s3cr3t") }, { send = "235 ok\r\n" },
            { expect = "QUIT" }, { send = "221 bye\r\n" },
        })
        finally(function() srv:stop() end)
        local s = smtp.open("127.0.0.1", srv.port)
        s:greet("client.test")
        assert.are.same({ 235, "235 ok" }, { s:plain("joe", "s3cr3t") })
        s:quit()
        s:close()
        assert.is_nil(srv:errors())
    end)

    it("a failed AUTH raises the server's reply and never shows the password", function()
        local srv = session({
            { expect = "AUTH LOGIN" }, { send = "334 VXNlcm5hbWU6\r\n" },
            { expect = "" }, { send = "334 UGFzc3dvcmQ6\r\n" },
            { expect = "" }, { send = "535 5.7.8 Authentication failed\r\n" },
            { expect = "QUIT" }, { send = "221 bye\r\n" },
        })
        finally(function() srv:stop() end)
        local f = socket.protect(function()
            local s = smtp.open("127.0.0.1", srv.port)
            s:auth("joe", "s3cr3t", s:greet("client.test"))
        end)
        local r, err = f()
        assert.is_nil(r)
        assert.are.equal("535 5.7.8 Authentication failed (AUTH LOGIN)", err)
        assert.are.equal("completed", srv:wait_done(1))
        srv:assert_clean()
    end)

    it("auth without credentials does nothing; without a known mechanism it raises", function()
        local srv = H.scripted({ { send = "220 x\r\n" }, { expect = "EHLO" }, { send = "250-x\r\n250 8BITMIME\r\n" },
                                 { expect = "QUIT" }, { send = "221 bye\r\n" } })
        finally(function() srv:stop() end)
        local s = smtp.open("127.0.0.1", srv.port)
        local ext = s:greet("client.test")
        assert.are.equal(1, s:auth(nil, "x", ext))
        assert.are.equal(1, s:auth("joe", nil, ext))
        local ok, e = pcall(s.auth, s, "joe", "pw", ext)
        assert.is_false(ok)
        -- a LuaSocket exception: socket.protect unwraps it to the message
        assert.are.equal("authentication not supported", type(e) == "table" and e[1] or e)
        assert.are.equal("completed", srv:wait_done(1))
        srv:assert_clean()
    end)

    it("s:send returns 1 and the report, message after message", function()
        local srv = H.capture()
        finally(function() srv:stop() end)
        local s = smtp.open("127.0.0.1", srv.port)
        s:greet("client.test")
        for i = 1, 3 do
            local r, report = s:send{ from = "<a@example.com>", rcpt = { "<b@example.com>", "<c@example.com>" },
                                      source = ltn12.source.string("Subject: " .. i .. "\r\n\r\nx\r\n") }
            assert.are.equal(1, r)
            assert.are.same({ "<b@example.com>", "<c@example.com>" }, report.accepted)
            assert.are.equal(250, report.code)
        end
        s:quit()
        s:close()
        assert.are.equal(3, #srv:wait_messages(3))
    end)

    it("smtp.send authenticates with user and password, the strongest offered mechanism", function()
        -- the server offers PLAIN and LOGIN: PLAIN, one round trip
        local r, report, errors = auth_send({ { expect = "AUTH PLAIN " .. mime.b64("\0joe\0pw") },
                                              { send = "235 ok\r\n" } })
        assert.are.equal(1, r, report)
        assert.are.equal("PLAIN", report.mechanism)
        assert.is_nil(errors)
    end)

    it("smtp.send uses the mechanism auth names (LOGIN, as LuaSocket's smtp)", function()
        local r, report, errors = auth_send({
            { expect = "AUTH LOGIN" }, { send = "334 VXNlcm5hbWU6\r\n" },
            { expect = mime.b64("joe") }, { send = "334 UGFzc3dvcmQ6\r\n" },
            { expect = mime.b64("pw") }, { send = "235 ok\r\n" },
        }, "LOGIN")
        assert.are.equal(1, r, report)
        assert.are.equal("LOGIN", report.mechanism)
        assert.is_nil(errors)
    end)
end)
