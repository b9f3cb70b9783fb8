-- Specs for the test support itself (spec/helper.lua, spec/support/*.py).
--
-- They drive the servers with LuaSocket's OWN smtp module, loaded from the
-- system file, so they do not depend on smtp-native.
--
--   lua5.4 /usr/bin/busted --lpath='spec/?.lua' spec/support_spec.lua
--   luajit /usr/bin/busted --lpath='spec/?.lua' spec/support_spec.lua

local H = require("helper")
local socket = require("socket")
local ltn12 = require("ltn12")
local mime = require("mime")

-- LuaSocket's smtp.lua assigns socket.smtp; put back whatever was there.
local lsmtp
do
    local ver = H.lua_version == "jit" and "5.1" or H.lua_version
    local saved = socket.smtp
    lsmtp = dofile("/usr/share/lua/" .. ver .. "/socket/smtp.lua")
    socket.smtp = saved
    lsmtp.TIMEOUT = 5   -- fail fast instead of after LuaSocket's 60 s
end

-- The whole output of an LTN12 source, as a string.
local function drain(src)
    local t = {}
    assert(ltn12.pump.all(src, (ltn12.sink.table(t))))
    return table.concat(t)
end

-- One complete (possibly multi-line) SMTP reply from a raw LuaSocket client.
local function reply(c)
    local lines = {}
    repeat
        local line = assert(c:receive("*l"))
        lines[#lines + 1] = line
    until line:sub(4, 4) ~= "-"
    return table.concat(lines, "\n")
end

local function send(c, line)
    assert(c:send(line .. "\r\n"))
    return reply(c)
end

local function connect(port)
    local c = socket.tcp()
    c:settimeout(5)
    assert(c:connect("127.0.0.1", port))
    return c
end

describe("capture server", function()
    teardown(H.stop_all)

    it("captures envelope, data and the exact wire bytes of a LuaSocket send", function()
        local srv = H.capture()
        finally(function() srv:stop() end)
        local body = "Hello\r\n.leading dot\r\nbye"
        local msg = drain(lsmtp.message{
            headers = { subject = "support", to = "<bob@example.net>" },
            body = body,
        })
        local ok, err = lsmtp.send{
            from = "<alice@example.org>",
            rcpt = { "<bob@example.net>", "<carol@example.net>" },
            source = ltn12.source.string(msg),
            server = "127.0.0.1", port = srv.port, domain = "client.test",
        }
        assert.are.equal(1, ok, err)
        local msgs = srv:wait_messages(1)
        assert.are.equal(1, #msgs)
        local m = msgs[1]
        assert.are.equal("alice@example.org", m.from)
        assert.are.same({ "bob@example.net", "carol@example.net" }, m.rcpt)
        assert.are.same({}, m.mail_options)
        assert.are.equal("client.test", m.helo)
        assert.are.equal(1, m.session)
        -- LuaSocket always sends CRLF.CRLF, so the server sees an extra CRLF.
        assert.are.equal(msg .. "\r\n", m.data)
        local stuffed = msg:gsub("\r\n%.", "\r\n..")
        assert.are.same({
            "EHLO client.test\r\n"
            .. "MAIL FROM:<alice@example.org>\r\n"
            .. "RCPT TO:<bob@example.net>\r\n"
            .. "RCPT TO:<carol@example.net>\r\n"
            .. "DATA\r\n"
            .. stuffed .. "\r\n.\r\n"
            .. "QUIT\r\n",
        }, srv:sessions())
        assert.truthy(srv:sessions()[1]:find("\r\n..leading dot\r\n", 1, true))
    end)

    it("numbers messages and sessions across connections", function()
        local srv = H.capture()
        finally(function() srv:stop() end)
        for i = 1, 2 do
            assert.are.equal(1, lsmtp.send{
                from = "<a@example.org>", rcpt = "<b" .. i .. "@example.net>",
                source = ltn12.source.string("Subject: " .. i .. "\r\n\r\nbody\r\n"),
                server = "127.0.0.1", port = srv.port,
            })
        end
        local msgs = srv:wait_messages(2)
        assert.are.equal(2, #msgs)
        assert.are.same({ "b1@example.net" }, msgs[1].rcpt)
        assert.are.same({ "b2@example.net" }, msgs[2].rcpt)
        assert.are.equal(2, msgs[2].session)
        assert.are.equal(2, #srv:sessions())
    end)

    it("refuses a matching recipient with 550 (reject_rcpt)", function()
        local srv = H.capture{ reject_rcpt = "^nobody@" }
        finally(function() srv:stop() end)
        local ok, err = lsmtp.send{
            from = "<alice@example.org>", rcpt = { "<nobody@example.net>" },
            source = ltn12.source.string("Subject: x\r\n\r\nx\r\n"),
            server = "127.0.0.1", port = srv.port, domain = "client.test",
        }
        assert.is_nil(ok)
        assert.are.equal("550 5.1.1 <nobody@example.net>: no such user", err)
        assert.are.same({}, srv:messages())
        -- LuaSocket just closes: no RSET, no QUIT.
        assert.are.same({
            "EHLO client.test\r\nMAIL FROM:<alice@example.org>\r\n"
            .. "RCPT TO:<nobody@example.net>\r\n",
        }, srv:sessions())
    end)

    it("refuses a matching sender with 553 (reject_mail)", function()
        local srv = H.capture{ reject_mail = "spam" }
        finally(function() srv:stop() end)
        local ok, err = lsmtp.send{
            from = "<spammer@example.org>", rcpt = "<bob@example.net>",
            source = ltn12.source.string("x\r\n"),
            server = "127.0.0.1", port = srv.port,
        }
        assert.is_nil(ok)
        assert.are.equal("553 5.1.8 sender refused", err)
    end)

    it("refuses the message at end of data with 554 (reject_data)", function()
        local srv = H.capture{ reject_data = true }
        finally(function() srv:stop() end)
        local ok, err = lsmtp.send{
            from = "<alice@example.org>", rcpt = "<bob@example.net>",
            source = ltn12.source.string("x\r\n"),
            server = "127.0.0.1", port = srv.port,
        }
        assert.is_nil(ok)
        assert.are.equal("554 5.6.0 message refused", err)
        assert.are.same({}, srv:messages())
    end)

    it("answers EHLO with 502 and still accepts HELO (ehlo_unsupported)", function()
        local srv = H.capture{ ehlo_unsupported = true }
        finally(function() srv:stop() end)
        local ok, err = lsmtp.send{
            from = "<alice@example.org>", rcpt = "<bob@example.net>",
            source = ltn12.source.string("x\r\n"),
            server = "127.0.0.1", port = srv.port, domain = "client.test",
        }
        assert.is_nil(ok)
        assert.are.equal("502 5.5.2 EHLO not supported", err)

        local c = connect(srv.port)
        finally(function() c:close() end)
        assert.matches("^220 ", reply(c))
        assert.are.equal("502 5.5.2 EHLO not supported", send(c, "EHLO fallback.test"))
        assert.matches("^250 ", send(c, "HELO fallback.test"))
        assert.are.equal("250 OK", send(c, "MAIL FROM:<alice@example.org>"))
        assert.are.equal("250 OK", send(c, "RCPT TO:<bob@example.net>"))
        assert.matches("^354 ", send(c, "DATA"))
        assert.matches("^250 2%.0%.0 ", send(c, "Subject: helo\r\n\r\nbody\r\n."))
        assert.matches("^221 ", send(c, "QUIT"))
        local m = srv:wait_messages(1)[1]
        assert.are.equal("fallback.test", m.helo)
        assert.are.equal("Subject: helo\r\n\r\nbody\r\n", m.data)
    end)
end)

describe("scripted server", function()
    teardown(H.stop_all)

    it("delivers a byte-split multi-line reply and records the client's bytes", function()
        local srv = H.scripted{
            { send = "220-smtp.test greets\r\n220 ready\r\n", split = 5 },
            { expect = "EHLO " },
            { send = "250-smtp.test\r\n250-8BITMIME\r\n250 HELP\r\n", split = 1, gap = 0.002 },
            { expect = "QUIT" },
            { send = "221 bye\r\n" },
        }
        finally(function() srv:stop() end)
        local s = lsmtp.open("127.0.0.1", srv.port)
        local ext = s:greet("client.test")
        assert.are.equal("250-smtp.test\n250-8BITMIME\n250 HELP", ext)
        assert.are.equal(221, s:quit())
        s:close()
        assert.are.equal("completed", srv:wait_done(1))
        assert.are.equal("EHLO client.test\r\nQUIT\r\n", srv:transcript(1))
        assert.is_nil(srv:errors())
    end)

    it("runs one script per connection, records data and notes deviations", function()
        local srv = H.scripted{
            {
                { send = "220 one\r\n" },
                { expect = "HELO" },          -- LuaSocket sends EHLO: noted
                { send = "250 ok\r\n" },
                { expect = "MAIL FROM:<a@example.org>" },
                { send = "250 ok\r\n" },
                { expect = "RCPT" },
                { send = "250 ok\r\n" },
                { expect = "rcpt to:" },      -- prefixes match in any case
                { send = "250 ok\r\n" },
                { expect = "DATA" },
                { send = "354 go\r\n" },
                { data = true },
                { send = "250 queued\r\n" },
                { expect = "QUIT" },
                { send = "221 bye\r\n" },
            },
            { { send = "554 no service for \xe9\r\n" } },
            { { send = "220 three\r\n" }, { expect = "NOOP", count = 2 },
              { send = "250 a\r\n250 b\r\n" } },
        }
        finally(function() srv:stop() end)
        local mail = {
            from = "<a@example.org>", rcpt = { "<b@example.net>", "<c@example.net>" },
            server = "127.0.0.1", port = srv.port, domain = "client.test",
        }
        mail.source = ltn12.source.string("Subject: x\r\n\r\n.dot\r\n")
        assert.are.equal(1, lsmtp.send(mail))
        assert.are.equal("completed", srv:wait_done(1))
        assert.are.equal("EHLO client.test\r\nMAIL FROM:<a@example.org>\r\n"
            .. "RCPT TO:<b@example.net>\r\nRCPT TO:<c@example.net>\r\nDATA\r\n"
            .. "Subject: x\r\n\r\n..dot\r\n\r\n.\r\nQUIT\r\n", srv:transcript(1))

        -- Connection 2 gets the second script (latin-1 bytes kept).
        mail.source = ltn12.source.string("x\r\n")
        local ok, err = lsmtp.send(mail)
        assert.is_nil(ok)
        assert.are.equal("554 no service for \xe9", err)
        assert.are.equal("completed", srv:wait_done(2))
        assert.are.equal("", srv:transcript(2))

        -- Connections 3 and later get the last script; "count" reads
        -- pipelined lines.
        for n = 3, 4 do
            local c = connect(srv.port)
            finally(function() c:close() end)
            assert.are.equal("220 three", reply(c))
            assert(c:send("NOOP\r\nNOOP\r\n"))
            assert.are.equal("250 a", reply(c))
            assert.are.equal("250 b", reply(c))
            assert.are.equal("completed", srv:wait_done(n))
            assert.are.equal("NOOP\r\nNOOP\r\n", srv:transcript(n))
        end
        assert.are.equal("conn 1: expected 'HELO', got b'EHLO client.test\\r\\n'\n",
                         srv:errors())
    end)

    it("hangs until the client gives up", function()
        local srv = H.scripted{ { send = "220 hi\r\n" }, { expect = "EHLO" }, { hang = true } }
        finally(function() srv:stop() end)
        local saved = lsmtp.TIMEOUT
        lsmtp.TIMEOUT = 0.3
        finally(function() lsmtp.TIMEOUT = saved end)
        local ok, err = lsmtp.send{
            from = "<a@example.org>", rcpt = "<b@example.net>",
            source = ltn12.source.string("x\r\n"),
            server = "127.0.0.1", port = srv.port, domain = "client.test",
        }
        assert.is_nil(ok)
        assert.are.equal("timeout", err)
        assert.are.equal("completed", srv:wait_done(1))
        assert.are.equal("EHLO client.test\r\n", srv:transcript(1))
        srv:assert_clean()
    end)

    it("resets the connection and floods on request", function()
        local srv = H.scripted{
            { { send = "220 hi\r\n" }, { expect = "EHLO" }, { reset_close = true } },
            { { send = "220 hi\r\n" }, { expect = "EHLO" }, { flood = 300000 } },
        }
        finally(function() srv:stop() end)
        local mail = {
            from = "<a@example.org>", rcpt = "<b@example.net>",
            source = ltn12.source.string("x\r\n"),
            server = "127.0.0.1", port = srv.port, domain = "client.test",
        }
        local ok, err = lsmtp.send(mail)
        assert.is_nil(ok)
        assert.are.equal("closed", err)            -- LuaSocket's word for ECONNRESET
        assert.are.equal("completed", srv:wait_done(1))

        -- LuaSocket reads the whole 300000-byte "line" before failing.
        local c = connect(srv.port)
        finally(function() c:close() end)
        assert.are.equal("220 hi", c:receive("*l"))
        assert(c:send("EHLO client.test\r\n"))
        local line, rerr, partial = c:receive("*l")
        assert.is_nil(line)
        assert.are.equal("closed", rerr)
        assert.are.equal(string.rep("A", 300000), partial)
        assert.are.equal("completed", srv:wait_done(2))
        srv:assert_clean()
    end)

    -- The "starttls" and "scram" steps (issue #4), driven by LuaSocket and
    -- LuaSec directly.
    local function tls_wrap(c)
        local ssl = require("ssl")
        local s = assert(ssl.wrap(c, {
            mode = "client", protocol = "any", verify = "peer", cafile = H.tls_certs().ca,
            options = { "all", "no_sslv2", "no_sslv3", "no_tlsv1", "no_tlsv1_1" },
        }))
        s:settimeout(5)
        s:sni("localhost")
        assert(s:dohandshake())
        return s
    end

    it("starttls: a TLS handshake on the connection; clear and decrypted bytes recorded apart", function()
        local certs = H.tls_certs()
        local tls = { starttls = { cert = certs.localhost.cert, key = certs.localhost.key } }
        local function script(after)
            local out = { { send = "220 hi\r\n" }, { expect = "STARTTLS" }, { send = "220 go\r\n" }, tls }
            for _, st in ipairs(after) do out[#out + 1] = st end
            return out
        end
        local srv = H.scripted{
            script({ { expect = "NOOP" }, { send = "250 ok\r\n" } }),
            script({ { expect = "RSET" }, { send = "250 reset\r\n" } }),
            script({ { expect = "NOOP" } }),
        }
        finally(function() srv:stop() end)

        -- 1: STARTTLS, handshake (SNI localhost), NOOP over TLS
        local c = connect(srv.port)
        finally(function() c:close() end)
        assert.are.equal("220 hi", reply(c))
        assert.are.equal("220 go", send(c, "STARTTLS"))
        local s = tls_wrap(c)
        assert.are.equal("250 ok", send(s, "NOOP"))
        s:close()
        assert.are.equal("completed", srv:wait_done(1))
        assert.are.equal("STARTTLS\r\n", srv:clear_transcript(1))
        assert.are.equal("STARTTLS\r\nNOOP\r\n", srv:transcript(1))
        local info = srv:tls_info(1)
        assert.are.equal("localhost", info.sni)
        assert.matches("^TLSv1%.[23]$", info.version)
        assert.is_nil(srv:errors())

        -- 2: clear text pipelined after STARTTLS is noted and dropped
        c = connect(srv.port)
        assert.are.equal("220 hi", reply(c))
        assert(c:send("STARTTLS\r\nNOOP\r\n"))
        assert.are.equal("220 go", reply(c))
        s = tls_wrap(c)
        assert.are.equal("250 reset", send(s, "RSET"))
        s:close()
        assert.are.equal("completed", srv:wait_done(2))
        assert.are.equal("STARTTLS\r\nNOOP\r\n", srv:clear_transcript(2))
        assert.are.equal("STARTTLS\r\nNOOP\r\nRSET\r\n", srv:transcript(2))
        assert.are.equal("conn 2: clear text after the last line, before the TLS handshake: b'NOOP\\r\\n'\n",
            srv:errors())

        -- 3: a client that closes instead of a handshake: the connection
        -- is aborted at the starttls step, and the failure noted
        c = connect(srv.port)
        assert.are.equal("220 hi", reply(c))
        assert.are.equal("220 go", send(c, "STARTTLS"))
        c:close()
        assert.matches("^aborted at step 4 %(starttls%): ", srv:wait_done(3))
        assert.matches("\nconn 3: TLS handshake failed: [^\n]+\n$", srv:errors())
        assert.is_nil(srv:tls_info(3))
    end)

    it("scram: the RFC 7677 and RFC 5802 example exchanges, and the hostile variants", function()
        local function b64(x) return (mime.b64(x)) end
        local function unb64(x) return (mime.unb64(x)) end
        local RFC7677 = {   -- SCRAM-SHA-256, RFC 7677 section 3
            first = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
            server_first = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
            final = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                .. "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
            server_final = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
        }
        local RFC5802 = {   -- SCRAM-SHA-1, RFC 5802 section 5
            first = "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
            server_first = "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
            final = "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
            server_final = "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=",
        }
        local sha256 = { scram = "SCRAM-SHA-256", user = "user", password = "pencil",
            salt = "W22ZaJ0SNY7soEsUEjb6gQ==", nonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0" }
        local function with(step, extra)
            local out = {}
            for k, v in pairs(step) do out[k] = v end
            for k, v in pairs(extra) do out[k] = v end
            return out
        end
        local srv = H.scripted{
            { { send = "220 hi\r\n" }, sha256, { expect = "" }, { send = "235 ok\r\n" } },
            { { send = "220 hi\r\n" },
              { scram = "SCRAM-SHA-1", user = "user", password = "pencil", salt = "QSXCR+Q6sek8bf92",
                nonce = "3rfcNHYJY1ZVvWVs7j" },
              { expect = "" }, { send = "235 ok\r\n" } },
            { { send = "220 hi\r\n" }, with(sha256, { final = "wrong_v", password = "other" }),
              { expect = "*" }, { send = "501 cancelled\r\n" } },
            { { send = "220 hi\r\n" }, with(sha256, { final = "e" }), { expect = "" }, { send = "535 no\r\n" } },
            { { send = "220 hi\r\n" }, with(sha256, { final = "none" }), { send = "235 trust me\r\n" } },
        }
        finally(function() srv:stop() end)

        -- 1: SCRAM-SHA-256 with an initial response: RFC 7677's exchange
        local c = connect(srv.port)
        assert.are.equal("220 hi", reply(c))
        assert.are.equal("334 " .. b64(RFC7677.server_first), send(c, "AUTH SCRAM-SHA-256 " .. b64(RFC7677.first)))
        assert.are.equal("334 " .. b64(RFC7677.server_final), send(c, b64(RFC7677.final)))
        assert.are.equal("235 ok", send(c, ""))
        c:close()
        assert.are.equal("completed", srv:wait_done(1))
        assert.is_nil(srv:errors())

        -- 2: SCRAM-SHA-1 without one (the server asks with "334 "): RFC 5802's
        c = connect(srv.port)
        assert.are.equal("220 hi", reply(c))
        assert.are.equal("334 ", send(c, "AUTH SCRAM-SHA-1"))
        assert.are.equal("334 " .. b64(RFC5802.server_first), send(c, b64(RFC5802.first)))
        assert.are.equal("334 " .. b64(RFC5802.server_final), send(c, b64(RFC5802.final)))
        assert.are.equal("235 ok", send(c, ""))
        c:close()
        assert.are.equal("completed", srv:wait_done(2))
        assert.is_nil(srv:errors())

        -- 3: the server's password differs (the client's proof is wrong:
        -- noted), and final = "wrong_v" sends a signature that is not the RFC's
        c = connect(srv.port)
        assert.are.equal("220 hi", reply(c))
        assert.are.equal("334 " .. b64(RFC7677.server_first), send(c, "AUTH SCRAM-SHA-256 " .. b64(RFC7677.first)))
        local v = send(c, b64(RFC7677.final))
        assert.matches("^v=[%w+/]+=*$", unb64(v:sub(5)))
        assert.are_not.equal(RFC7677.server_final, unb64(v:sub(5)))
        assert.are.equal("501 cancelled", send(c, "*"))
        c:close()
        assert.are.equal("completed", srv:wait_done(3))
        assert.are.equal("conn 3: SCRAM client proof is wrong\n", srv:errors())

        -- 4: final = "e": the server's error instead of its signature
        c = connect(srv.port)
        assert.are.equal("220 hi", reply(c))
        send(c, "AUTH SCRAM-SHA-256 " .. b64(RFC7677.first))
        assert.are.equal("334 " .. b64("e=invalid-proof"), send(c, b64(RFC7677.final)))
        assert.are.equal("535 no", send(c, ""))
        c:close()
        assert.are.equal("completed", srv:wait_done(4))

        -- 5: final = "none": nothing after client-final; the next step's 235
        c = connect(srv.port)
        assert.are.equal("220 hi", reply(c))
        send(c, "AUTH SCRAM-SHA-256 " .. b64(RFC7677.first))
        assert.are.equal("235 trust me", send(c, b64(RFC7677.final)))
        c:close()
        assert.are.equal("completed", srv:wait_done(5))
        assert.are.equal("conn 3: SCRAM client proof is wrong\n", srv:errors())
    end)
end)

describe("parse_email", function()
    it("returns the structure of a LuaSocket multipart message", function()
        local bin = {}
        for i = 0, 255 do bin[#bin + 1] = string.char(i) end
        bin = table.concat(bin)
        local raw = drain(lsmtp.message{
            headers = { from = "<alice@example.org>", subject = "parts" },
            body = {
                preamble = "This is a multi-part message.",
                { body = "plain text\r\nline 2" },
                {
                    headers = {
                        ["content-type"] = 'application/octet-stream; name="x.bin"',
                        ["content-transfer-encoding"] = "base64",
                    },
                    body = ltn12.source.chain(ltn12.source.string(bin),
                        ltn12.filter.chain(mime.encode("base64"), mime.wrap())),
                },
                epilogue = "the end",
            },
        })
        local tree = H.parse_email(raw)
        assert.is_true(tree.is_multipart)
        assert.are.equal("multipart/mixed", tree.content_type)
        assert.are.same({}, tree.defects)
        assert.are.equal("parts", H.header(tree, "subject"))
        assert.are.equal("1.0", H.header(tree, "MIME-Version"))
        assert.matches('boundary="' .. tree.boundary:gsub("%p", "%%%0") .. '"',
                       H.header(tree, "content-type"))
        local names = {}
        for _, h in ipairs(tree.headers) do
            assert.are.equal(h.name, h[1])
            assert.are.equal(h.value, h[2])
            names[#names + 1] = h.name
        end
        table.sort(names)
        assert.are.same({ "Content-Type", "Date", "From", "MIME-Version",
                          "Subject", "X-Mailer" }, names)
        assert.are.equal("This is a multi-part message.\r\n", tree.preamble)
        assert.are.equal("\r\nthe end\r\n", tree.epilogue)

        assert.are.equal(2, #tree.parts)
        local text, att = tree.parts[1], tree.parts[2]
        assert.are.equal("text/plain", text.content_type)
        assert.are.equal("iso-8859-1", text.charset)
        assert.is_false(text.is_multipart)
        assert.are.equal("plain text\r\nline 2", text.payload)
        assert.are.equal("application/octet-stream", att.content_type)
        assert.are.equal(bin, att.payload)
        assert.matches("^[%w+/=\r\n]+$", att.raw_payload)
        assert.are.same({}, att.defects)
    end)

    it("keeps 8-bit header and body bytes and reports defects", function()
        local tree = H.parse_email("Subject: caf\xe9\r\n\r\nbody\xff\r\n")
        assert.are.equal("caf\xe9", H.header(tree, "subject"))
        assert.are.equal("body\xff\r\n", tree.payload)
        assert.is_nil(tree.preamble)

        local broken = H.parse_email('Content-Type: multipart/mixed; boundary="b"\r\n\r\nno parts\r\n')
        assert.are.same({ "StartBoundaryNotFoundDefect", "MultipartInvariantViolationDefect" },
                        broken.defects)
    end)
end)

describe("helper", function()
    it("runs shell commands and makes temporary directories", function()
        local ok, out, status = H.sh("echo hi; exit 3")
        assert.is_false(ok)
        assert.are.equal("hi\n", out)
        assert.are.equal(3, status)
        local dir = H.tmpdir()
        assert.is_true((H.sh("test -d " .. H.quote(dir))))
        H.rmdir(dir)
        assert.is_false((H.sh("test -e " .. H.quote(dir))))
        assert.has_error(function() H.rmdir("/tmp") end)
        assert.truthy(H.lua_version == "jit" or H.lua_version:match("^5%.%d$"))
        assert.is_true((H.sh("test -f " .. H.quote(H.root .. "/spec/helper.lua"))))
    end)

    it("leaves no server behind after stop() or stop_all()", function()
        local cap, scr = H.capture(), H.scripted{ { send = "220 hi\r\n" } }
        local spare = H.capture()
        local all = { cap, scr, spare }
        finally(function() for _, s in ipairs(all) do s:stop() end end)
        for _, s in ipairs(all) do assert.is_true(s:alive()) end
        local c = connect(cap.port)   -- an open client must not delay stop
        finally(function() c:close() end)

        cap:stop()
        scr:assert_clean()
        scr:stop()
        cap:stop()                    -- idempotent
        H.stop_all()                  -- stops `spare`
        for _, s in ipairs(all) do
            assert.is_false(s:alive())
            assert.is_false((H.sh("kill -0 " .. s.pid)))
            assert.is_false((H.sh("test -e " .. H.quote(s.dir))))
            local probe = socket.tcp()
            probe:settimeout(1)
            local ok, err = probe:connect("127.0.0.1", s.port)
            probe:close()
            assert.is_nil(ok)
            assert.are.equal("connection refused", err)
        end
    end)
end)
