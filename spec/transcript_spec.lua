-- The transcript hook (debug = function(direction, line)): every command
-- and reply line, credentials never shown, content summed up. Against the
-- scripted server (clear text on 127.0.0.1, so AUTH is allowed) and the
-- TLS server (STARTTLS).
local H = require("helper")
local smtp = require("socket.smtp")
local mime = require("mime")
local ltn12 = require("ltn12")

local USER, PASSWORD = "joe", "Tr0ub4dor&3 secret"

-- Every way the password could show: as is, in base64 alone, and in the
-- base64 of the PLAIN and LOGIN forms.
local function leaks(text)
    local forms = { PASSWORD, (mime.b64(PASSWORD)), (mime.b64("\0" .. USER .. "\0" .. PASSWORD)),
                    (mime.b64(USER)) }
    for _, f in ipairs(forms) do
        if text:find(f, 1, true) then return f end
    end
    return nil
end

local function script(auth_steps)
    local all = { { send = "220 t ESMTP\r\n" }, { expect = "EHLO client.test" },
                  { send = "250-t\r\n250-AUTH PLAIN LOGIN CRAM-MD5\r\n250 PIPELINING\r\n" } }
    for _, s in ipairs(auth_steps) do all[#all + 1] = s end
    for _, s in ipairs({
        { expect = "MAIL FROM:<a@example.com>" }, { expect = "RCPT TO:<b@example.com>" },
        { expect = "DATA" }, { send = "250 ok\r\n250 ok\r\n354 go\r\n" }, { data = true },
        { send = "250 2.0.0 queued\r\n" }, { expect = "QUIT" }, { send = "221 bye\r\n" },
    }) do all[#all + 1] = s end
    return H.scripted(all)
end

local function send(port, extra)
    local lines = {}
    local t = {
        from = "<a@example.com>", rcpt = "<b@example.com>", server = "127.0.0.1", port = port,
        domain = "client.test", user = USER, password = PASSWORD,
        source = ltn12.source.string("Subject: t\r\n\r\n" .. ("line\r\n"):rep(100)),
        debug = function(direction, line) lines[#lines + 1] = direction .. ": " .. line end,
    }
    for k, v in pairs(extra or {}) do t[k] = v end
    local r, report, det = smtp.send(t)
    return r, report, det, lines
end

describe("the transcript (debug)", function()
    teardown(H.stop_all)

    it("shows every command and reply, hides AUTH PLAIN's initial response", function()
        local srv = script({ { expect = "AUTH PLAIN " .. mime.b64("\0" .. USER .. "\0" .. PASSWORD) },
                             { send = "235 2.7.0 ok\r\n" } })
        finally(function() srv:stop() end)
        local r, report, _, lines = send(srv.port, { auth = "PLAIN" })
        assert.are.equal(1, r, report)
        assert.are.same({
            "S: 220 t ESMTP",
            "C: EHLO client.test",
            "S: 250-t", "S: 250-AUTH PLAIN LOGIN CRAM-MD5", "S: 250 PIPELINING",
            "C: AUTH PLAIN [credentials hidden]",
            "S: 235 2.7.0 ok",
            "C: MAIL FROM:<a@example.com>", "C: RCPT TO:<b@example.com>", "C: DATA",
            "S: 250 ok", "S: 250 ok", "S: 354 go",
            "C: [message content and end-of-data marker: 617 bytes]",
            "S: 250 2.0.0 queued",
            "C: QUIT", "S: 221 bye",
        }, lines)
        assert.is_nil(leaks(table.concat(lines, "\n")))
        assert.is_nil(srv:errors())
    end)

    it("hides each answer of AUTH LOGIN and of a challenge-response mechanism", function()
        local srv = script({ { expect = "AUTH LOGIN" }, { send = "334 VXNlcm5hbWU6\r\n" },
                             { expect = mime.b64(USER) }, { send = "334 UGFzc3dvcmQ6\r\n" },
                             { expect = mime.b64(PASSWORD) }, { send = "235 ok\r\n" } })
        finally(function() srv:stop() end)
        local r, report, _, lines = send(srv.port, { auth = "LOGIN" })
        assert.are.equal(1, r, report)
        local text = table.concat(lines, "\n")
        assert.matches("C: AUTH LOGIN\nS: 334 VXNlcm5hbWU6\nC: %[credentials hidden%]\n" ..
            "S: 334 UGFzc3dvcmQ6\nC: %[credentials hidden%]\nS: 235 ok\n", text)
        assert.is_nil(leaks(text))
        srv:assert_clean()
    end)

    it("hides credentials when the AUTH is refused, and the error holds none", function()
        local srv = H.scripted({ { send = "220 t ESMTP\r\n" }, { expect = "EHLO client.test" },
            { send = "250-t\r\n250 AUTH PLAIN\r\n" },
            { expect = "AUTH PLAIN " .. mime.b64("\0" .. USER .. "\0" .. PASSWORD) },
            { send = "535 5.7.8 no\r\n" }, { expect = "QUIT" }, { send = "221 bye\r\n" } })
        finally(function() srv:stop() end)
        local r, err, det, lines = send(srv.port)
        assert.is_nil(r)
        assert.are.equal("535 5.7.8 no (AUTH PLAIN)", err)
        assert.are.equal("EREFUSED", det.name)
        local text = table.concat(lines, "\n")
        assert.matches("C: AUTH PLAIN %[credentials hidden%]\nS: 535 5.7.8 no\nC: QUIT", text)
        assert.is_nil(leaks(text .. "\n" .. err))
        srv:assert_clean()
    end)

    it("keeps the credentials out of the transcript over STARTTLS too", function()
        local srv = H.tls_server({ user = USER, password = PASSWORD, auth_mechanisms = { "PLAIN" } })
        finally(function() srv:stop() end)
        local r, report, _, lines = send(srv.port, { server = "localhost", tls = "starttls",
                                                     ssl = { cafile = srv.ca }, domain = "client.test" })
        assert.are.equal(1, r, report)
        assert.is_true(report.tls)
        local text = table.concat(lines, "\n")
        assert.matches("C: STARTTLS\nS: 220 [^\n]*\nC: EHLO client.test\n", text)
        assert.matches("C: AUTH PLAIN %[credentials hidden%]\nS: 235 ", text)
        assert.is_nil(leaks(text))
    end)
end)
