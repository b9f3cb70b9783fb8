-- AUTH in smtp.send and the low-level object (issue #4): every mechanism
-- each real peer offers (aiosmtpd: PLAIN, LOGIN, CRAM-MD5; Dovecot: SCRAM-
-- SHA-256, SCRAM-SHA-1, CRAM-MD5, DIGEST-MD5, PLAIN, LOGIN, XOAUTH2,
-- OAUTHBEARER), the default choice, implicit TLS, credentials never in
-- clear text, and hostile servers (the scripted server's "scram" step:
-- a wrong server signature, none, an e= error; AUTH offered only in clear
-- text by a server that is not this machine). The mechanisms' RFC example
-- exchanges are in spec/c/test_sasl.c. TLS itself: spec/tls_spec.lua.
--
--   lua5.4 /usr/bin/busted -o TAP --lpath='./lua/?.lua;./lua/?/init.lua;./spec/?.lua' \
--       --cpath=./build/5.4/?.so spec/auth_spec.lua
--   (luajit with --cpath=./build/jit/?.so; lua5.1, lua5.3 likewise)
--
-- The real peers only offer AUTH over TLS, which needs LuaSec; Dovecot
-- needs dovecot-core and dovecot-submissiond. Without either, this spec
-- fails with a test that says what is missing (it never passes silently).

local H = require("helper")
if not H.need_luasec("AUTH (issue #4)") then return end
local remote = require("support.remote")
local smtp = require("socket.smtp")
local socket = require("socket")
local ltn12 = require("ltn12")
local mime = require("mime")

local M = require("support.mailspec")
local USER, PASSWORD, CLEAR = M.USER, M.PASSWORD, M.CLEAR
local b64, send, check_message, transaction, steps = M.b64, M.send, M.check_message, M.transaction, M.steps
local NONE, merge = M.NONE, M.merge

-- Neither the password nor its base64 (alone, or in a PLAIN blob), nor
-- an AUTH command, in `bytes`.
local function no_credentials(bytes, what)
    for _, secret in ipairs({ PASSWORD, b64(PASSWORD), b64("\0" .. USER .. "\0" .. PASSWORD), "AUTH" }) do
        assert.is_nil(bytes:find(secret, 1, true), what .. " contains " .. secret)
    end
end

-- The bytes a client sends for AUTH with mechanism `mech` (aiosmtpd), or
-- a pattern for CRAM-MD5, whose response depends on the challenge.
local AUTH_WIRE = {
    PLAIN = "AUTH PLAIN " .. b64("\0" .. USER .. "\0" .. PASSWORD) .. "\r\n",
    LOGIN = "AUTH LOGIN\r\n" .. b64(USER) .. "\r\n" .. b64(PASSWORD) .. "\r\n",
}

describe("AUTH (issue #4)", function()
    teardown(H.stop_all)

    describe("aiosmtpd over STARTTLS", function()
        local ALL3 = { "PLAIN", "LOGIN", "CRAM-MD5" }

        local function deliver(mech, opts, extra)
            local srv = H.tls_server(opts or { auth_mechanisms = ALL3 })
            finally(function() srv:stop() end)
            local subject = "aiosmtpd " .. (type(mech) == "table" and table.concat(mech, " ") or mech or "default")
            local t = { tls = "starttls", ssl = { cafile = srv.ca }, user = USER, password = PASSWORD, auth = mech }
            local r, report = send(srv.port, subject, merge(t, extra))
            assert.are.equal(1, r, report)
            assert.is_true(report.tls)
            local msgs, err = srv:wait_messages(1)
            assert.is_nil(err, "no message arrived")
            local m = check_message(msgs[1], subject)
            assert.is_true(m.tls)
            assert.are.equal(USER, m.auth_login)
            assert.are.equal(report.mechanism, m.auth_mechanism)
            return srv, report, m
        end

        for _, mech in ipairs({ "PLAIN", "LOGIN", "CRAM-MD5" }) do
            it("delivers with auth = " .. mech .. "; no credentials in clear text", function()
                local srv, report, m = deliver(mech)
                assert.are.equal(mech, report.mechanism)
                local clear = srv:clear_sessions()
                assert.are.same({ CLEAR }, clear)
                no_credentials(clear[1], "the clear-text part")
                local wire = srv:sessions()[1]
                local head = CLEAR .. "EHLO client.test\r\n"
                assert.are.equal(head, wire:sub(1, #head))
                assert.are.equal(transaction(m), wire:sub(-#transaction(m)))
                local auth = wire:sub(#head + 1, -#transaction(m) - 1)
                if AUTH_WIRE[mech] then
                    assert.are.equal(AUTH_WIRE[mech], auth)
                else -- CRAM-MD5: "user hex(HMAC-MD5(password, challenge))"
                    local resp = auth:match("^AUTH CRAM%-MD5\r\n([%w+/=]+)\r\n$")
                    assert.is_string(resp, auth)
                    assert.matches("^alice %x+$", mime.unb64(resp))
                    assert.are.equal(#"alice " + 32, #mime.unb64(resp))
                end
            end)
        end

        it("without auth, CRAM-MD5: the strongest of PLAIN LOGIN CRAM-MD5", function()
            local _, report = deliver(nil)
            assert.are.equal("CRAM-MD5", report.mechanism)
        end)

        it("without auth, PLAIN when the server offers PLAIN and LOGIN", function()
            local _, report = deliver(nil, {})
            assert.are.equal("PLAIN", report.mechanism)
        end)

        it("auth as a list: the first one the server offers, in the caller's order", function()
            local _, report = deliver({ "SCRAM-SHA-256", "LOGIN", "PLAIN" })
            assert.are.equal("LOGIN", report.mechanism)
        end)

        it('implicit TLS (tls = "smtps"): AUTH from the first byte encrypted', function()
            local srv, report, m = deliver(nil, { tls = "implicit" }, { tls = "smtps" })
            assert.are.equal("PLAIN", report.mechanism)
            assert.are.same({ "" }, srv:clear_sessions())
            assert.are.equal("EHLO client.test\r\n" .. AUTH_WIRE.PLAIN .. transaction(m), srv:sessions()[1])
        end)

        it("tls = false to this machine: AUTH in clear text is allowed (nothing crosses a network)", function()
            local srv = H.tls_server({ auth_require_tls = false })
            finally(function() srv:stop() end)
            local r, report = send(srv.port, "clear auth", {
                tls = false, server = "127.0.0.1", user = USER, password = PASSWORD,
            })
            assert.are.equal(1, r, report)
            assert.is_false(report.tls)
            assert.are.equal("PLAIN", report.mechanism)
            local m = check_message(srv:wait_messages(1)[1], "clear auth")
            assert.is_false(m.tls)
            assert.are.equal("PLAIN", m.auth_mechanism)
            local wire = "EHLO client.test\r\n" .. AUTH_WIRE.PLAIN .. transaction(m)
            assert.are.same({ wire }, srv:clear_sessions())
        end)

        it("a wrong password: 535, nothing delivered, no credentials in the error", function()
            local srv = H.tls_server({ auth_mechanisms = ALL3 })
            finally(function() srv:stop() end)
            local wrong = "Wr0ng!pw"
            local r, err, det = send(srv.port, "wrong password", {
                tls = "starttls", ssl = { cafile = srv.ca }, user = USER, password = wrong, auth = "PLAIN",
            })
            assert.is_nil(r)
            assert.are.equal("535 5.7.8 Authentication credentials invalid (AUTH PLAIN)", err)
            assert.are.equal("EREFUSED", det.name)
            assert.are.equal("auth", det.stage)
            assert.are.equal(535, det.code)
            assert.are.equal("PLAIN", det.mechanism)
            assert.are.equal("AUTH PLAIN", det.command)
            for _, secret in ipairs({ wrong, b64("\0" .. USER .. "\0" .. wrong) }) do
                assert.is_nil(err:find(secret, 1, true))
                for _, v in pairs(det) do
                    assert.is_nil(tostring(v):find(secret, 1, true))
                end
            end
            H.sleep(0.1)
            assert.are.same({}, srv:messages())
            local wire = srv:sessions()[1]
            assert.are.equal(CLEAR .. "EHLO client.test\r\nAUTH PLAIN " .. b64("\0" .. USER .. "\0" .. wrong)
                .. "\r\nQUIT\r\n", wire)
            assert.are.same({ CLEAR }, srv:clear_sessions())
        end)

        it("auth names a mechanism the server does not offer: ESASL_NO_MECH, no AUTH sent", function()
            local srv = H.tls_server()
            finally(function() srv:stop() end)
            local r, err, det = send(srv.port, "no mech", {
                tls = "starttls", ssl = { cafile = srv.ca }, user = USER, password = PASSWORD, auth = "CRAM-MD5",
            })
            assert.is_nil(r)
            assert.are.equal("no authentication mechanism in common with the server "
                .. "(the server offers: LOGIN PLAIN)", err)
            assert.are.same({ stage = "auth", name = "ESASL_NO_MECH" }, det)
            assert.are.same({ CLEAR .. "EHLO client.test\r\nQUIT\r\n" }, srv:sessions())
        end)
    end)

    describe("Dovecot submission (STARTTLS and implicit TLS)", function()
        local available, why = H.dovecot_available()
        if not H.need_peer("dovecot", available, why, "the Dovecot cases") then return end

        -- One Dovecot for the whole block (~1.5 s to start and stop).
        local srv
        setup(function() srv = H.dovecot() end)
        teardown(function() if srv then srv:stop() end end)

        -- The captured message with this subject (Dovecot relays it to
        -- srv.capture, with a Received: header on top).
        local function relayed(subject)
            local found
            H.poll(5, function()
                for _, m in ipairs(srv:messages()) do
                    if m.data:find("\r\nSubject: " .. subject .. "\r\n", 1, true) then
                        found = m
                        return true
                    end
                end
            end)
            assert(found, "no message with subject " .. subject .. " reached the capture server")
            assert.matches("^Received: ", found.data)
            return check_message(found, subject)
        end

        -- Dovecot's own record of successful logins over TLS with mechanism
        -- `mech` (DIGEST-MD5 logins carry the realm: user=<alice@localhost>).
        local function logins(mech)
            local n = 0
            local pattern = "Login: user=<" .. USER .. "[@%w]*>, method=" .. mech:gsub("%-", "%%-")
                .. ", rip=127%.0%.0%.1, lip=127%.0%.0%.1, mpid=%d+, TLS, "
            for line in srv:log():gmatch("[^\n]+") do
                if line:find(pattern) then n = n + 1 end
            end
            return n
        end

        local function deliver(subject, extra)
            local t = merge({ tls = "starttls", ssl = { cafile = srv.ca }, user = USER, password = PASSWORD }, extra)
            local r, report = send(t.port or srv.port, subject, t)
            assert.are.equal(1, r, report)
            assert.is_true(report.tls)
            relayed(subject)
            return report
        end

        -- deliver(), then Dovecot must have logged one more login with the
        -- mechanism the report names.
        local function deliver_logged(subject, extra, mech)
            local before = logins(mech)
            local report = deliver(subject, extra)
            assert.are.equal(mech, report.mechanism)
            assert.is_truthy(H.poll(3, function() return logins(mech) == before + 1 end),
                "Dovecot did not log a " .. mech .. " login:\n" .. srv:log():sub(-2000))
            return report
        end

        for _, mech in ipairs({ "SCRAM-SHA-256", "SCRAM-SHA-1", "CRAM-MD5", "DIGEST-MD5", "PLAIN", "LOGIN" }) do
            it("delivers with auth = " .. mech, function()
                deliver_logged("dovecot " .. mech, { auth = mech }, mech)
            end)
        end

        for _, mech in ipairs({ "XOAUTH2", "OAUTHBEARER" }) do
            it("delivers with auth = " .. mech .. " and token = the password (no password)", function()
                deliver_logged("dovecot " .. mech, { auth = mech, password = NONE, token = PASSWORD }, mech)
            end)
        end

        it("the server offers all eight mechanisms", function()
            local sorted = {}
            for i, m in ipairs(srv.mechanisms) do sorted[i] = m end
            table.sort(sorted)
            assert.are.same({ "CRAM-MD5", "DIGEST-MD5", "LOGIN", "OAUTHBEARER", "PLAIN", "SCRAM-SHA-1",
                "SCRAM-SHA-256", "XOAUTH2" }, sorted)
        end)

        it("without auth, SCRAM-SHA-256: the strongest offered", function()
            deliver_logged("dovecot default", {}, "SCRAM-SHA-256")
        end)

        it("with a token and no password, OAUTHBEARER", function()
            deliver_logged("dovecot token default", { password = NONE, token = PASSWORD }, "OAUTHBEARER")
        end)

        it('tls = "auto" (the default) upgrades and authenticates', function()
            deliver_logged("dovecot auto", { tls = "auto" }, "SCRAM-SHA-256")
        end)

        it('implicit TLS: tls = "smtps" on the submissions port', function()
            deliver_logged("dovecot smtps", { tls = "smtps", port = srv.smtps_port }, "SCRAM-SHA-256")
        end)

        it("a wrong password: SCRAM ends in 535; nothing delivered", function()
            local r, err, det = send(srv.port, "dovecot wrong", {
                tls = "starttls", ssl = { cafile = srv.ca }, user = USER, password = "Wr0ng!pw",
            })
            assert.is_nil(r)
            assert.are.equal("535 5.7.8 Authentication failed. (AUTH SCRAM-SHA-256)", err)
            assert.are.equal("EREFUSED", det.name)
            assert.are.equal("SCRAM-SHA-256", det.mechanism)
            assert.is_nil(det.local_error)
            H.sleep(0.2)
            for _, m in ipairs(srv:messages()) do
                assert.is_nil(m.data:find("Subject: dovecot wrong", 1, true))
            end
        end)

        describe("low level", function()
            it("smtp.open, greet, starttls, authenticate, send, quit", function()
                local before = logins("SCRAM-SHA-256")
                local s = smtp.open("localhost", srv.port)
                -- (Dovecot offers AUTH before TLS too: it trusts 127.0.0.1)
                assert.matches("\n250%-STARTTLS\n", s:greet("client.test"))
                local ext2 = s:starttls({ cafile = srv.ca })
                assert.matches("\n250%-AUTH PLAIN LOGIN CRAM%-MD5 DIGEST%-MD5 SCRAM%-SHA%-1 SCRAM%-SHA%-256 "
                    .. "OAUTHBEARER XOAUTH2\n", ext2)
                assert.is_nil(ext2:find("STARTTLS", 1, true))
                assert.is_string(s:caps().AUTH)
                assert.is_nil(s:caps().STARTTLS)
                assert.are.same({ 235, "235 2.7.0 Logged in." },
                    { s:authenticate({ user = USER, password = PASSWORD }) })
                -- the strongest offered: Dovecot's log names the mechanism
                assert.is_truthy(H.poll(3, function() return logins("SCRAM-SHA-256") == before + 1 end),
                    "Dovecot did not log a SCRAM-SHA-256 login")
                local ok, report = s:send{
                    from = "<sender@example.com>", rcpt = "<rcpt@example.org>",
                    source = smtp.message{
                        headers = { subject = "dovecot low level", to = "<rcpt@example.org>" },
                        body = "Body of dovecot low level.\r\n",
                    },
                }
                assert.are.equal(1, ok)
                assert.are.equal(250, report.code)
                assert.are.same({ "<rcpt@example.org>" }, report.accepted)
                assert.are.equal(221, (s:quit()))
                assert.are.equal(1, s:close())
                relayed("dovecot low level")
            end)

            it('smtp.open with tls = "smtps", then authenticate with auth = "DIGEST-MD5"', function()
                local before = logins("DIGEST-MD5")
                local s = smtp.open("localhost", srv.smtps_port, nil, { tls = "smtps", ssl = { cafile = srv.ca } })
                local ext = s:greet("client.test")
                assert.matches("\n250%-AUTH ", ext)
                assert.is_nil(ext:find("STARTTLS", 1, true))
                assert.are.same({ 235, "235 2.7.0 Logged in." },
                    { s:authenticate({ user = USER, password = PASSWORD, auth = "DIGEST-MD5" }) })
                assert.are.equal(221, (s:quit()))
                s:close()
                assert.is_truthy(H.poll(3, function() return logins("DIGEST-MD5") == before + 1 end),
                    "Dovecot did not log a DIGEST-MD5 login")
            end)

            it("s:starttls raises when the certificate does not verify; s.error has the details", function()
                local s = smtp.open("localhost", srv.port)
                s:greet("client.test")
                local ok, err = socket.protect(function() return s:starttls({}) end)()
                assert.is_nil(ok)
                assert.are.equal("certificate verification failed: unable to get local issuer certificate "
                    .. "(depth 0); unable to verify the first certificate (depth 0)", err)
                assert.are.same({ stage = "tls", name = "ETLS_VERIFY" }, s.error)
            end)
        end)
    end)

    describe("hostile servers (scripted)", function()
        local TEXT = "Subject: scripted\r\n\r\nHello.\r\n"
        local DELIVERY, DELIVERY_WIRE = M.delivery(TEXT)

        local function scripted_send(port, extra)
            local t = {
                from = "<sender@example.com>", rcpt = "<rcpt@example.org>",
                server = "127.0.0.1", port = port, domain = "client.test", timeout = 5,
                source = ltn12.source.string(TEXT), user = USER, password = PASSWORD,
            }
            return smtp.send(merge(t, extra))
        end

        -- Greeting and EHLO offering `mechs`, then the server side of SCRAM.
        local function scram_script(mech, final, after)
            return steps({
                { send = "220 scripted.test ESMTP\r\n" }, { expect = "EHLO client.test" },
                { send = "250-scripted.test\r\n250 AUTH " .. mech .. " PLAIN\r\n" },
                { scram = mech, user = USER, password = PASSWORD, final = final },
            }, after)
        end

        -- The client's side of the exchange as the server recorded it:
        -- "AUTH <mech> <client-first>\r\n<client-final>\r\n" and the rest.
        local function scram_wire(srv, mech)
            local wire = srv:transcript(1)
            local first, final, rest = wire:match("^EHLO client%.test\r\nAUTH " .. mech:gsub("%-", "%%-")
                .. " ([%w+/=]+)\r\n([%w+/=]+)\r\n(.*)$")
            assert.is_string(first, wire)
            assert.matches("^n,,n=alice,r=[%w+/]+$", mime.unb64(first))
            assert.matches("^c=biws,r=[%w+/]+srvNONCE42,p=[%w+/=]+$", mime.unb64(final))
            return rest
        end

        for _, mech in ipairs({ "SCRAM-SHA-256", "SCRAM-SHA-1" }) do
            it(mech .. " with a server that proves the password: delivered", function()
                local srv = H.scripted(scram_script(mech, "v",
                    steps({ { expect = "" }, { send = "235 2.7.0 ok\r\n" } }, DELIVERY)))
                finally(function() srv:stop() end)
                local r, report = scripted_send(srv.port, { auth = mech })
                assert.are.equal(1, r, report)
                assert.are.equal(mech, report.mechanism)
                assert.are.equal("completed", srv:wait_done(1))
                -- the script checked the client's proof with its own SCRAM
                assert.is_nil(srv:errors())
                assert.are.equal("\r\n" .. DELIVERY_WIRE, scram_wire(srv, mech))
            end)
        end

        it("SCRAM-SHA-256, wrong server signature: cancelled with *, ESASL_SERVER_PROOF, the server's "
            .. "reply after it, closed without MAIL or QUIT", function()
            local srv = H.scripted(scram_script("SCRAM-SHA-256", "wrong_v", {
                { expect = "*" }, { send = "501 5.7.0 authentication cancelled\r\n" }, { read_all = true },
            }))
            finally(function() srv:stop() end)
            local r, err, det = scripted_send(srv.port)
            assert.is_nil(r)
            assert.are.equal("server signature is wrong: the server does not know the password "
                .. "(AUTH SCRAM-SHA-256; the server then said: 501 5.7.0 authentication cancelled)", err)
            assert.are.same({
                stage = "auth", name = "ESASL_SERVER_PROOF", mechanism = "SCRAM-SHA-256",
                command = "AUTH SCRAM-SHA-256",
                code = 501, enhanced = "5.7.0", reply = "501 5.7.0 authentication cancelled",
            }, det)
            assert.are.equal("completed", srv:wait_done(1))
            assert.is_nil(srv:errors())
            assert.are.equal("*\r\n", scram_wire(srv, "SCRAM-SHA-256"))
        end)

        it("SCRAM-SHA-256, wrong server signature, and 235 anyway: ESASL_SERVER_PROOF, closed without "
            .. "MAIL or QUIT", function()
            local srv = H.scripted(scram_script("SCRAM-SHA-256", "wrong_v", {
                { expect = "*" }, { send = "235 2.7.0 welcome, whoever you are\r\n" }, { read_all = true },
            }))
            finally(function() srv:stop() end)
            local r, err, det = scripted_send(srv.port)
            assert.is_nil(r)
            assert.are.equal("server signature is wrong: the server does not know the password "
                .. "(AUTH SCRAM-SHA-256)", err)
            assert.are.same({ stage = "auth", name = "ESASL_SERVER_PROOF", mechanism = "SCRAM-SHA-256" }, det)
            assert.are.equal("completed", srv:wait_done(1))
            assert.is_nil(srv:errors())
            assert.are.equal("*\r\n", scram_wire(srv, "SCRAM-SHA-256"))
        end)

        it("SCRAM-SHA-1, 235 without the server's signature: ESASL_NO_SERVER_PROOF, closed without MAIL "
            .. "or QUIT", function()
            local srv = H.scripted(scram_script("SCRAM-SHA-1", "none", {
                { send = "235 2.7.0 ok\r\n" }, { read_all = true },
            }))
            finally(function() srv:stop() end)
            local r, err, det = scripted_send(srv.port, { auth = "SCRAM-SHA-1" })
            assert.is_nil(r)
            assert.are.equal("server reported success without proving that it knows the password "
                .. "(AUTH SCRAM-SHA-1)", err)
            assert.are.same({ stage = "auth", name = "ESASL_NO_SERVER_PROOF", mechanism = "SCRAM-SHA-1" }, det)
            assert.are.equal("completed", srv:wait_done(1))
            assert.is_nil(srv:errors())
            assert.are.equal("", scram_wire(srv, "SCRAM-SHA-1"))
        end)

        local E_SCRIPT = {
            { expect = "*" }, { send = "535 5.7.8 authentication failed\r\n" },
            { expect = "QUIT" }, { send = "221 2.0.0 bye\r\n" },
        }

        it("SCRAM-SHA-256 with a server error (e=): cancelled, ESASL_SERVER_ERROR, then QUIT", function()
            local srv = H.scripted(scram_script("SCRAM-SHA-256", "e", E_SCRIPT))
            finally(function() srv:stop() end)
            local r, err, det = scripted_send(srv.port)
            assert.is_nil(r)
            assert.are.equal("server reported an authentication error: invalid-proof (AUTH SCRAM-SHA-256; "
                .. "the server then said: 535 5.7.8 authentication failed)", err)
            assert.are.same({
                stage = "auth", name = "ESASL_SERVER_ERROR", mechanism = "SCRAM-SHA-256",
                command = "AUTH SCRAM-SHA-256",
                code = 535, enhanced = "5.7.8", reply = "535 5.7.8 authentication failed",
            }, det)
            assert.are.equal("completed", srv:wait_done(1))
            assert.is_nil(srv:errors())
            assert.are.equal("*\r\nQUIT\r\n", scram_wire(srv, "SCRAM-SHA-256"))
        end)


        local CLEAR_AUTH = {
            { send = "220 mail.example.test ESMTP\r\n" }, { expect = "EHLO client.test" },
            { send = "250-mail.example.test\r\n250 AUTH PLAIN LOGIN\r\n" },
        }
        local INSECURE = 'refusing to send credentials to mail.example.test over an unencrypted connection '
            .. '(use tls = "starttls" or "smtps", or set insecure_auth = true)'

        for _, mode in ipairs({ false, "auto" }) do
            it("AUTH offered only in clear text by a server that is not this machine (tls = " .. tostring(mode)
                .. "): EINSECURE_AUTH, no AUTH sent", function()
                local srv = H.scripted(steps(CLEAR_AUTH, { { expect = "QUIT" }, { send = "221 2.0.0 bye\r\n" } }))
                finally(function() srv:stop() end)
                local create, log = remote.create()
                local r, err, det = scripted_send(srv.port, {
                    server = "mail.example.test", create = create, tls = mode,
                })
                assert.is_nil(r)
                assert.are.equal(INSECURE, err)
                assert.are.same({ stage = "auth", name = "EINSECURE_AUTH" }, det)
                assert.are.same({ "mail.example.test" }, log.hosts)
                assert.are.equal("completed", srv:wait_done(1))
                assert.is_nil(srv:errors())
                assert.are.equal("EHLO client.test\r\nQUIT\r\n", srv:transcript(1))
            end)
        end

        it("the same server with insecure_auth = true: AUTH goes, in clear, as asked", function()
            local srv = H.scripted(steps(CLEAR_AUTH, {
                { expect = "AUTH PLAIN " .. b64("\0" .. USER .. "\0" .. PASSWORD) }, { send = "235 2.7.0 ok\r\n" },
            }, DELIVERY))
            finally(function() srv:stop() end)
            local create = remote.create()
            local r, report = scripted_send(srv.port, {
                server = "mail.example.test", create = create, tls = false, insecure_auth = true,
            })
            assert.are.equal(1, r, report)
            assert.are.equal("PLAIN", report.mechanism)
            assert.is_false(report.tls)
            assert.are.equal("completed", srv:wait_done(1))
            assert.is_nil(srv:errors())
            assert.are.equal("EHLO client.test\r\nAUTH PLAIN " .. b64("\0" .. USER .. "\0" .. PASSWORD) .. "\r\n"
                .. DELIVERY_WIRE, srv:transcript(1))
        end)
    end)
end)
