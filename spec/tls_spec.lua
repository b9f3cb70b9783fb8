-- TLS in smtp.send and smtp.open (issue #4): the modes (STARTTLS, SMTPS,
-- "auto", false), certificate checks against the test PKI
-- (spec/support/tls_certs.sh), hostile servers (the scripted server's
-- "starttls" step), the ssl.upgrade hook and OpenResty cosockets.
-- Real peers on 127.0.0.1 only: aiosmtpd (H.tls_server), the scripted
-- server, nginx. AUTH and its mechanisms: spec/auth_spec.lua.
--
--   lua5.4 /usr/bin/busted -o TAP --lpath='./lua/?.lua;./lua/?/init.lua;./spec/?.lua' \
--       --cpath=./build/5.4/?.so spec/tls_spec.lua
--   (luajit with --cpath=./build/jit/?.so; lua5.1, lua5.3 likewise)
--
-- TLS on LuaSocket sockets needs LuaSec (Debian: lua-sec, one ssl.so per
-- Lua version). Without it this spec fails with one test that says so: it
-- never passes without having checked anything.

local H = require("helper")
if not H.need_luasec("TLS (issue #4)") then return end
local luasec = require("ssl")
local N = require("support.nginx")
local remote = require("support.remote")
local socket = require("socket")
local smtp = require("socket.smtp")
local tls = require("socket.smtp.tls")
local json = require("dkjson")

local certs = H.tls_certs()
local M = require("support.mailspec")
local USER, PASSWORD, CLEAR = M.USER, M.PASSWORD, M.CLEAR
local b64, send, transaction, steps = M.b64, M.send, M.transaction, M.steps

local delivered, stopped_at_starttls = M.delivered, M.stopped_at_starttls

local function starttls(srv, subject, ssl, extra)
    local t = { tls = "starttls", ssl = ssl }
    for k, v in pairs(extra or {}) do t[k] = v end
    return send(srv.port, subject, t)
end

-- A fixed message for the scripted server, whose wire bytes are known.
local TEXT = "Subject: scripted\r\n\r\nHello over TLS.\r\n"
-- (to "localhost", the name in the test certificate)
local function scripted_send(port, extra)
    return M.send_text("localhost", port, TEXT, extra)
end

local DELIVERY, DELIVERY_WIRE = M.delivery(TEXT)

local greeting = M.greeting

local STARTTLS_STEP = { starttls = { cert = certs.localhost.cert, key = certs.localhost.key } }

-- tlspolicy that records its calls and answers `answer`.
local function policy(answer)
    local calls = {}
    return function(code, text)
        calls[#calls + 1] = { code = code, text = text }
        return answer
    end, calls
end

describe("TLS (issue #4)", function()
    teardown(H.stop_all)

    describe("modes", function()
        it('tls = "starttls": STARTTLS, a fresh EHLO, the message encrypted; only EHLO and STARTTLS in clear',
            function()
                local srv = H.tls_server()
                finally(function() srv:stop() end)
                local r, report = starttls(srv, "starttls mode", { cafile = srv.ca })
                assert.are.equal(1, r, report)
                assert.is_true(report.tls)
                assert.is_nil(report.mechanism)
                local m = delivered(srv, "starttls mode")
                assert.is_true(m.tls)
                assert.are.same({ CLEAR }, srv:clear_sessions())
                assert.are.same({ CLEAR .. "EHLO client.test\r\n" .. transaction(m) }, srv:sessions())
                local info = srv:tls_info(1)
                assert.are.equal("starttls", info.mode)
                assert.are.equal("localhost", info.sni)
            end)

        it('tls = "auto" (the default) upgrades when the server offers STARTTLS', function()
            local srv = H.tls_server()
            finally(function() srv:stop() end)
            local r, report = send(srv.port, "auto mode", { ssl = { cafile = srv.ca } })
            assert.are.equal(1, r, report)
            assert.is_true(report.tls)
            local m = delivered(srv, "auto mode")
            assert.is_true(m.tls)
            assert.are.same({ CLEAR .. "EHLO client.test\r\n" .. transaction(m) }, srv:sessions())
        end)

        it("tls = false stays in clear text although STARTTLS is offered", function()
            local srv = H.tls_server()
            finally(function() srv:stop() end)
            local r, report = send(srv.port, "clear mode", { tls = false, ssl = { cafile = srv.ca } })
            assert.are.equal(1, r, report)
            assert.is_false(report.tls)
            local m = delivered(srv, "clear mode")
            assert.is_false(m.tls)
            local wire = "EHLO client.test\r\n" .. transaction(m)
            assert.are.same({ wire }, srv:clear_sessions())
            assert.are.same({ wire }, srv:sessions())
            assert.is_nil(srv:tls_info(1))
        end)

        it('tls = "smtps": TLS from the first byte, no STARTTLS, nothing in clear', function()
            local srv = H.tls_server({ tls = "implicit" })
            finally(function() srv:stop() end)
            local r, report = send(srv.port, "smtps mode", { tls = "smtps", ssl = { cafile = srv.ca } })
            assert.are.equal(1, r, report)
            assert.is_true(report.tls)
            local m = delivered(srv, "smtps mode")
            assert.is_true(m.tls)
            assert.are.same({ "" }, srv:clear_sessions())
            assert.are.same({ "EHLO client.test\r\n" .. transaction(m) }, srv:sessions())
            assert.are.equal("implicit", srv:tls_info(1).mode)
            assert.are.equal("localhost", srv:tls_info(1).sni)
        end)

        it('tls = "smtps" to a clear-text server fails in the handshake; no fallback, whatever tlspolicy says',
            function()
                local srv = H.capture()
                finally(function() srv:stop() end)
                local pol, calls = policy("insecure")
                local r, err, det = send(srv.port, "smtps to clear", {
                    tls = "smtps", ssl = { cafile = certs.ca }, tlspolicy = pol,
                })
                assert.is_nil(r)
                assert.are.equal("ETLS", det.name)
                assert.are.equal("tls", det.stage)
                assert.matches("^TLS handshake failed: .", err)
                assert.are.same({}, calls)
                H.sleep(0.1)
                assert.are.same({}, srv:messages())
                -- the server saw a TLS ClientHello (a handshake record), no SMTP
                local wire = srv:sessions()[1] or ""
                assert.are.equal("\22\3", wire:sub(1, 2))
                assert.is_nil(wire:find("EHLO", 1, true))
                assert.is_nil(wire:find("MAIL", 1, true))
            end)

        it('tls = "auto" to this machine goes on in clear, on a new connection, when the certificate fails',
            function()
                local srv = H.tls_server({ cert = "wrong_host" })
                finally(function() srv:stop() end)
                local r, report = send(srv.port, "auto fallback", { ssl = { cafile = srv.ca } })
                assert.are.equal(1, r, report)
                assert.is_false(report.tls)
                local m = delivered(srv, "auto fallback")
                assert.is_false(m.tls)
                assert.are.same({ CLEAR, "EHLO client.test\r\n" .. transaction(m) }, srv:sessions())
            end)

        it('tls = "auto" with a tlspolicy that does not say "insecure" fails instead', function()
            local srv = H.tls_server({ cert = "wrong_host" })
            finally(function() srv:stop() end)
            local pol, calls = policy("secure")
            local r, err, det = send(srv.port, "auto policy", { ssl = { cafile = srv.ca }, tlspolicy = pol })
            assert.is_nil(r)
            local text = 'certificate does not match host "localhost": it holds DNS:wrong.example, '
                .. "CN=wrong.example (its CN does not count: it has subjectAltName)"
            assert.are.equal(text, err)
            assert.are.same({ stage = "tls", name = "ETLS_HOST" }, det)
            assert.are.same({ { text = text } }, calls)
            stopped_at_starttls(srv)
        end)

        it('tls = "auto" to a server that is not this machine fails closed when TLS fails', function()
            local srv = H.scripted(steps(
                greeting("250-scripted.test\r\n250-STARTTLS\r\n250 AUTH PLAIN\r\n"),
                { { expect = "STARTTLS" }, { send = "220 2.0.0 go ahead\r\n" }, { read_all = true } }))
            finally(function() srv:stop() end)
            local create, log = remote.create()
            local upgrades = {}
            local ssl = {
                upgrade = function(sock, host, params)
                    upgrades[#upgrades + 1] = { sock = sock, host = host, params = params }
                    return nil, "no TLS layer here (spec)"
                end,
            }
            local r, err, det = scripted_send(srv.port, {
                server = "mail.example.test", create = create, ssl = ssl, user = USER, password = PASSWORD,
            })
            assert.is_nil(r)
            assert.are.equal("no TLS layer here (spec)", err)
            assert.are.same({ stage = "tls", name = "ETLS" }, det)
            assert.are.same({ "mail.example.test" }, log.hosts)
            assert.are.equal(1, #upgrades)
            assert.are.equal(log.socks[1], upgrades[1].sock)
            assert.are.equal("mail.example.test", upgrades[1].host)
            assert.are.equal(ssl, upgrades[1].params)
            assert.are.equal("completed", srv:wait_done(1))
            assert.are.equal(CLEAR, srv:transcript(1))
            assert.is_nil(srv:errors())
        end)

        it("ssl.upgrade: the caller's own TLS layer, after which credentials may go to a remote server",
            function()
                local srv = H.scripted(steps(
                    greeting("250-scripted.test\r\n250 STARTTLS\r\n"),
                    { { expect = "STARTTLS" }, { send = "220 2.0.0 go ahead\r\n" }, STARTTLS_STEP,
                      { expect = "EHLO client.test" }, { send = "250-scripted.test\r\n250 AUTH PLAIN\r\n" },
                      { expect = "AUTH PLAIN " .. b64("\0" .. USER .. "\0" .. PASSWORD) },
                      { send = "235 2.7.0 ok\r\n" } },
                    DELIVERY))
                finally(function() srv:stop() end)
                local create = remote.create()
                local hosts = {}
                local ssl = {
                    upgrade = function(sock, host)
                        hosts[#hosts + 1] = host
                        local conn = assert(luasec.wrap(sock.inner, {
                            mode = "client", protocol = "any", verify = "peer", cafile = certs.ca,
                            options = { "all", "no_sslv2", "no_sslv3", "no_tlsv1", "no_tlsv1_1" },
                        }))
                        conn:sni("localhost")
                        conn:settimeout(5)
                        local ok, err = conn:dohandshake()
                        if not ok then return nil, err end
                        return conn
                    end,
                }
                local r, report = scripted_send(srv.port, {
                    server = "mail.example.test", create = create, ssl = ssl, tls = "starttls",
                    user = USER, password = PASSWORD,
                })
                assert.are.equal(1, r, report)
                assert.is_true(report.tls)
                assert.are.equal("PLAIN", report.mechanism)
                assert.are.same({ "mail.example.test" }, hosts)
                assert.are.equal("completed", srv:wait_done(1))
                assert.is_nil(srv:errors())
                assert.are.equal(CLEAR, srv:clear_transcript(1))
                assert.are.equal(CLEAR .. "EHLO client.test\r\nAUTH PLAIN " .. b64("\0" .. USER .. "\0" .. PASSWORD)
                    .. "\r\n" .. DELIVERY_WIRE, srv:transcript(1))
                assert.are.equal("localhost", srv:tls_info(1).sni)
            end)
    end)

    describe("certificates", function()
        -- One server per certificate name, shared by the tests below.
        local servers = {}
        local function server(name)
            if not servers[name] then servers[name] = H.tls_server({ cert = name }) end
            return servers[name]
        end
        -- A fresh server: for tests that count sessions.
        local function fresh(opts)
            local srv = H.tls_server(opts)
            finally(function() srv:stop() end)
            return srv
        end
        teardown(function()
            for _, srv in pairs(servers) do srv:stop() end
        end)

        local function fails(name, host, expect_err, expect_name, ssl)
            local srv = fresh({ cert = name })
            local r, err, det = starttls(srv, "cert " .. name, ssl or { cafile = certs.ca }, { server = host })
            assert.is_nil(r)
            assert.are.equal(expect_err, err)
            assert.are.same({ stage = "tls", name = expect_name }, det)
            stopped_at_starttls(srv)
        end

        local function passes(name, host, ssl)
            local srv = fresh({ cert = name })
            local r, report = starttls(srv, "cert " .. name, ssl or { cafile = certs.ca }, { server = host })
            assert.are.equal(1, r, report)
            assert.is_true(report.tls)
            assert.is_true(delivered(srv, "cert " .. name).tls)
            return srv
        end

        it('"localhost" (SAN DNS:localhost, IP:127.0.0.1) passes for "localhost" and for 127.0.0.1', function()
            passes("localhost", "localhost")
            passes("localhost", "127.0.0.1")
        end)

        it("SNI carries the server name; none for an IP literal; ssl.sni names it explicitly", function()
            local srv = fresh()
            assert.are.equal(1, (starttls(srv, "sni name", { cafile = srv.ca })))
            assert.are.equal(1, (starttls(srv, "sni ip", { cafile = srv.ca }, { server = "127.0.0.1" })))
            assert.are.equal(1, (starttls(srv, "sni given", { cafile = srv.ca, sni = "localhost" },
                { server = "127.0.0.1" })))
            assert.are.equal("localhost", srv:tls_info(1).sni)
            assert.is_nil(srv:tls_info(2).sni)
            assert.are.equal("localhost", srv:tls_info(3).sni)
        end)

        it("wrong_host fails: the error names the host and what the certificate holds", function()
            fails("wrong_host", "localhost", 'certificate does not match host "localhost": it holds '
                .. "DNS:wrong.example, CN=wrong.example (its CN does not count: it has subjectAltName)",
                "ETLS_HOST")
        end)

        it("cn_ignored (CN=localhost but a SAN without it) fails: the CN does not count", function()
            fails("cn_ignored", "localhost", 'certificate does not match host "localhost": it holds '
                .. "DNS:wrong.example, CN=localhost (its CN does not count: it has subjectAltName)",
                "ETLS_HOST")
        end)

        it("cn_only (CN=localhost, no SAN) passes for localhost", function()
            passes("cn_only", "localhost")
        end)

        it("ip_only (SAN IP:127.0.0.1) passes for 127.0.0.1 and fails for localhost", function()
            passes("ip_only", "127.0.0.1")
            fails("ip_only", "localhost", 'certificate does not match host "localhost": it holds '
                .. "IP:127.0.0.1, CN=ip-only.test (its CN does not count: it has subjectAltName)", "ETLS_HOST")
        end)

        it("a wildcard matches one left-most label only; a wildcard elsewhere never", function()
            local wild = server("wildcard")
            local r, report = starttls(wild, "wildcard", { cafile = certs.ca, sni = "mail.example.test" },
                { server = "127.0.0.1" })
            assert.are.equal(1, r, report)
            assert.are.equal("mail.example.test", wild:tls_info(1).sni)
            for _, name in ipairs({ "example.test", "a.mail.example.test" }) do
                local r2, err, det = starttls(wild, "wildcard " .. name, { cafile = certs.ca, sni = name },
                    { server = "127.0.0.1" })
                assert.is_nil(r2)
                assert.are.equal("ETLS_HOST", det.name)
                assert.are.equal('certificate does not match host "' .. name .. '": it holds '
                    .. "DNS:*.example.test, CN=*.example.test (its CN does not count: it has subjectAltName)", err)
            end
            local inner = server("wildcard_inner")
            local r3, err, det = starttls(inner, "wildcard inner", { cafile = certs.ca, sni = "mail.x.test" },
                { server = "127.0.0.1" })
            assert.is_nil(r3)
            assert.are.equal("ETLS_HOST", det.name)
            assert.are.equal('certificate does not match host "mail.x.test": it holds DNS:mail.*.test, '
                .. "CN=mail.x.test (its CN does not count: it has subjectAltName)", err)
            assert.are.same({}, inner:messages())
        end)

        it("expired fails verification (ETLS_VERIFY)", function()
            fails("expired", "localhost", "certificate verification failed: certificate has expired (depth 0)",
                "ETLS_VERIFY")
        end)

        it("not_yet_valid fails verification (ETLS_VERIFY)", function()
            fails("not_yet_valid", "localhost",
                "certificate verification failed: certificate is not yet valid (depth 0)", "ETLS_VERIFY")
        end)

        it("untrusted (signed by another CA) fails verification (ETLS_VERIFY)", function()
            fails("untrusted", "localhost", "certificate verification failed: unable to get local issuer "
                .. "certificate (depth 0); unable to verify the first certificate (depth 0)", "ETLS_VERIFY")
        end)

        it("verification is on by default: the system CAs refuse the test CA's certificate", function()
            assert.is_string(tls.system_cafile(), "this test needs the system's CA bundle")
            fails("localhost", "localhost", "certificate verification failed: unable to get local issuer "
                .. "certificate (depth 0); unable to verify the first certificate (depth 0)", "ETLS_VERIFY", {})
        end)

        it('ssl.verify = "none" is the explicit opt-out: wrong_host and expired are accepted', function()
            passes("wrong_host", "localhost", { verify = "none" })
            passes("expired", "localhost", { verify = "none" })
        end)

        it('ssl.protocol = "tlsv1_3" refuses a server that stops at TLS 1.2 (which passes by default)', function()
            local srv = fresh({ tls_max = "1.2" })
            local r, err, det = starttls(srv, "tls 1.3 floor", { cafile = srv.ca, protocol = "tlsv1_3" })
            M.handshake_failed(srv, r, err, det)
            srv:stop()

            srv = fresh({ tls_max = "1.2" })
            local r2, report = starttls(srv, "tls 1.2", { cafile = srv.ca })
            assert.are.equal(1, r2, report)
            assert.are.equal("TLSv1.2", srv:tls_info(1).version)
        end)

        it("ssl.certificate and ssl.key: a client certificate for a server that requires one", function()
            local srv = fresh({ verify_client = "required" })
            local r, report = starttls(srv, "client cert", {
                cafile = certs.ca, certificate = certs.client.cert, key = certs.client.key,
            })
            assert.are.equal(1, r, report)
            assert.are.equal("client.test", srv:tls_info(1).client_cert)
            assert.is_true(delivered(srv, "client cert").tls)
        end)
    end)

    describe("hostile servers (scripted)", function()
        local INJECTED = "250-evil.test\r\n250 AUTH PLAIN\r\n"

        -- STARTTLS answered with a 220 and, in the same write, an EHLO reply
        -- that offers PLAIN; the real one after the handshake offers LOGIN.
        local function injection_script(after)
            return steps(
                greeting("250-scripted.test\r\n250-STARTTLS\r\n250 AUTH PLAIN\r\n"),
                { { expect = "STARTTLS" }, { send = "220 2.0.0 go ahead\r\n" .. INJECTED }, STARTTLS_STEP,
                  { expect = "EHLO client.test" }, { send = "250-real.test\r\n250 AUTH LOGIN\r\n" } },
                after)
        end

        it("a reply injected after the STARTTLS 220 is dropped: the session follows the EHLO after TLS",
            function()
                local srv = H.scripted(injection_script(steps({
                    { expect = "AUTH LOGIN" }, { send = "334 VXNlcm5hbWU6\r\n" },
                    { expect = b64(USER) }, { send = "334 UGFzc3dvcmQ6\r\n" },
                    { expect = b64(PASSWORD) }, { send = "235 2.7.0 ok\r\n" },
                }, DELIVERY)))
                finally(function() srv:stop() end)
                local r, report = scripted_send(srv.port, {
                    tls = "starttls", ssl = { cafile = certs.ca }, user = USER, password = PASSWORD,
                })
                assert.are.equal(1, r, report)
                assert.is_true(report.tls)
                -- PLAIN was only in the injected lines; the real EHLO offers LOGIN
                assert.are.equal("LOGIN", report.mechanism)
                assert.are.equal("completed", srv:wait_done(1))
                assert.is_nil(srv:errors())
                assert.are.equal(CLEAR, srv:clear_transcript(1))
                assert.are.equal(CLEAR .. "EHLO client.test\r\nAUTH LOGIN\r\n" .. b64(USER) .. "\r\n"
                    .. b64(PASSWORD) .. "\r\n" .. DELIVERY_WIRE, srv:transcript(1))
            end)

        it("low level: s:starttls drops the injected bytes and returns the capabilities after TLS", function()
            local srv = H.scripted(injection_script({ { expect = "QUIT" }, { send = "221 2.0.0 bye\r\n" } }))
            finally(function() srv:stop() end)
            local s = smtp.open("localhost", srv.port)
            assert.are.equal("250-scripted.test\n250-STARTTLS\n250 AUTH PLAIN", s:greet("client.test"))
            assert.are.equal("250-real.test\n250 AUTH LOGIN", s:starttls({ cafile = certs.ca }))
            assert.are.same({ AUTH = "LOGIN" }, s:caps())
            assert.are.equal(#INJECTED, s.session.core:discarded())
            assert.are.same({ 221, "221 2.0.0 bye" }, { s:quit() })
            s:close()
            assert.are.equal("completed", srv:wait_done(1))
            assert.is_nil(srv:errors())
            assert.are.equal(CLEAR .. "EHLO client.test\r\nQUIT\r\n", srv:transcript(1))
        end)

        local REFUSAL = steps(
            greeting("250-scripted.test\r\n250-STARTTLS\r\n250 AUTH PLAIN\r\n"),
            { { expect = "STARTTLS" }, { send = "454 4.7.0 TLS not available\r\n" } })

        it("STARTTLS refused (454) with tls = \"starttls\": fails before MAIL and AUTH, ends with QUIT", function()
            local srv = H.scripted(steps(REFUSAL, { { expect = "QUIT" }, { send = "221 2.0.0 bye\r\n" } }))
            finally(function() srv:stop() end)
            local pol, calls = policy(nil)
            local r, err, det = scripted_send(srv.port, {
                tls = "starttls", user = USER, password = PASSWORD, tlspolicy = pol,
            })
            assert.is_nil(r)
            assert.are.equal("454 4.7.0 TLS not available (STARTTLS)", err)
            assert.are.equal("EREFUSED", det.name)
            assert.are.equal("starttls", det.stage)
            assert.are.equal(454, det.code)
            assert.are.equal("4.7.0", det.enhanced)
            assert.are.same({ { code = 454, text = "454 4.7.0 TLS not available" } }, calls)
            assert.are.equal("completed", srv:wait_done(1))
            assert.is_nil(srv:errors())
            assert.are.equal(CLEAR .. "QUIT\r\n", srv:transcript(1))
        end)

        it('STARTTLS refused, and tlspolicy says "insecure": the message goes in clear text', function()
            local srv = H.scripted(steps(REFUSAL, DELIVERY))
            finally(function() srv:stop() end)
            local pol, calls = policy("insecure")
            local r, report = scripted_send(srv.port, { tls = "starttls", tlspolicy = pol })
            assert.are.equal(1, r, report)
            assert.is_false(report.tls)
            assert.are.same({ { code = 454, text = "454 4.7.0 TLS not available" } }, calls)
            assert.are.equal("completed", srv:wait_done(1))
            assert.is_nil(srv:errors())
            assert.are.equal(CLEAR .. DELIVERY_WIRE, srv:transcript(1))
        end)

        local BROKEN = steps(greeting("250-scripted.test\r\n250 STARTTLS\r\n"),
            { { expect = "STARTTLS" }, { send = "220 2.0.0 go ahead\r\n" } })

        it("a handshake that fails (the server closes after 220): ETLS, nothing more sent", function()
            local srv = H.scripted(steps(BROKEN, { { close = true } }))
            finally(function() srv:stop() end)
            local r, err, det = scripted_send(srv.port, {
                tls = "starttls", ssl = { cafile = certs.ca }, user = USER, password = PASSWORD,
            })
            assert.is_nil(r)
            -- OpenSSL's words for the EOF ("unexpected eof while reading" in 3.0)
            assert.matches("^TLS handshake failed: .", err)
            assert.are.same({ stage = "tls", name = "ETLS" }, det)
            assert.are.equal("completed", srv:wait_done(1))
            -- the ClientHello may or may not have been read before the close
            local wire = srv:transcript(1)
            assert.are.equal(CLEAR, wire:sub(1, #CLEAR))
            local rest = wire:sub(#CLEAR + 1)
            assert.is_true(rest == "" or rest:sub(1, 2) == "\22\3", rest)
            srv:assert_clean()
        end)

        it("a handshake that fails (garbage after 220): ETLS; tlspolicy \"insecure\" delivers on a new "
            .. "connection, in clear", function()
            -- a TLS handshake record of 4 bytes that are no handshake message,
            -- once the client has read the 220 (bytes that came with the 220
            -- would be dropped as an injection, and the handshake would wait)
            local garbage = steps(BROKEN,
                { { sleep = 0.3 }, { send = "\22\3\3\0\4junk" }, { read_all = true } })
            local srv = H.scripted({
                garbage, garbage, steps(greeting("250-scripted.test\r\n250 STARTTLS\r\n"), DELIVERY),
            })
            finally(function() srv:stop() end)
            -- without a policy: fails (connection 1)
            local r, err, det = scripted_send(srv.port, { tls = "starttls", ssl = { cafile = certs.ca } })
            assert.is_nil(r)
            assert.matches("^TLS handshake failed: .", err)
            assert.are.same({ stage = "tls", name = "ETLS" }, det)
            assert.are.equal("completed", srv:wait_done(1))
            local wire = srv:transcript(1)
            assert.are.equal(CLEAR, wire:sub(1, #CLEAR))
            assert.are.equal("\22\3", wire:sub(#CLEAR + 1, #CLEAR + 2)) -- the ClientHello, nothing else
            assert.is_nil(wire:find("MAIL", 1, true))

            -- with tlspolicy "insecure": connection 2 fails the same way, 3 delivers
            local pol, calls = policy("insecure")
            local r2, report = scripted_send(srv.port, {
                tls = "starttls", ssl = { cafile = certs.ca }, tlspolicy = pol,
            })
            assert.are.equal(1, r2, report)
            assert.is_false(report.tls)
            assert.are.equal(1, #calls)
            assert.is_nil(calls[1].code)
            assert.matches("^TLS handshake failed: .", calls[1].text)
            assert.are.equal("completed", srv:wait_done(2))
            assert.are.equal("completed", srv:wait_done(3))
            assert.are.equal(CLEAR, srv:transcript(2):sub(1, #CLEAR))
            assert.are.equal("EHLO client.test\r\n" .. DELIVERY_WIRE, srv:transcript(3))
            assert.is_nil(srv:errors())
        end)

        it("a handshake the server never answers: ETIMEOUT at the tls stage, after the step's timeout",
            function()
            local srv = H.scripted(steps(BROKEN, { { hang = true } }))
            finally(function() srv:stop() end)
            local t0 = socket.gettime()
            local r, err, det = scripted_send(srv.port, {
                tls = "starttls", ssl = { cafile = certs.ca }, user = USER, password = PASSWORD, timeout = 1,
            })
            local took = socket.gettime() - t0
            assert.is_nil(r)
            assert.are.equal("TLS handshake failed: timeout", err)
            assert.are.same({ stage = "tls", name = "ETIMEOUT" }, det)
            assert.is_true(took >= 0.9 and took < 5, "took " .. took .. " s")
            assert.are.equal("completed", srv:wait_done(1)) -- the client closed: the hang ended
            local wire = srv:transcript(1)
            assert.are.equal(CLEAR, wire:sub(1, #CLEAR))
            assert.is_nil(wire:find("AUTH", 1, true))
            assert.is_nil(wire:find("MAIL", 1, true))
            srv:assert_clean()
        end)

        it('tls = "starttls" on a socket smtp-native cannot upgrade: ETLS_NOLAYER before STARTTLS, then QUIT',
            function()
            local srv = H.scripted(steps(greeting("250-scripted.test\r\n250 STARTTLS\r\n"),
                { { expect = "QUIT" }, { send = "221 2.0.0 bye\r\n" } }))
            finally(function() srv:stop() end)
            local create = remote.create()
            local pol, calls = policy(nil)
            local r, err, det = scripted_send(srv.port, {
                server = "127.0.0.1", create = create, tls = "starttls", ssl = { cafile = certs.ca },
                tlspolicy = pol,
            })
            local text = "no TLS layer for this socket: pass ssl.upgrade = function(sock, host, params)"
            assert.is_nil(r)
            assert.are.equal(text, err)
            assert.are.same({ stage = "tls", name = "ETLS_NOLAYER" }, det)
            assert.are.same({ { text = text } }, calls)
            assert.are.equal("completed", srv:wait_done(1))
            assert.is_nil(srv:errors())
            assert.are.equal("EHLO client.test\r\nQUIT\r\n", srv:transcript(1))
        end)

        local NO_STARTTLS = greeting("250-scripted.test\r\n250 AUTH PLAIN\r\n")
        local NOT_OFFERED = 'TLS required (tls = "starttls") but the server does not offer STARTTLS'

        -- The two cases below repeat the STARTTLS-refused pair above with a
        -- server that does not offer it: each states its own session whole.
        it('tls = "starttls" and no STARTTLS offered: ETLS_NOTOFFERED; tlspolicy asked with (nil, text)',
            function()
                local srv = H.scripted(steps(NO_STARTTLS, { { expect = "QUIT" }, { send = "221 bye\r\n" } }))
                finally(function() srv:stop() end)
                local pol, calls = policy(nil)
                local r, err, det = scripted_send(srv.port, {
                    tls = "starttls", tlspolicy = pol, user = USER, password = PASSWORD,
                })
                assert.is_nil(r)
                assert.are.equal(NOT_OFFERED, err)
                assert.are.same({ stage = "tls", name = "ETLS_NOTOFFERED" }, det)
                assert.are.same({ { text = NOT_OFFERED } }, calls)
                assert.are.equal("completed", srv:wait_done(1))
                assert.is_nil(srv:errors())
                assert.are.equal("EHLO client.test\r\nQUIT\r\n", srv:transcript(1))
            end)

        it('tls = "starttls", no STARTTLS offered, tlspolicy "insecure": delivered in clear', function()
            local srv = H.scripted(steps(NO_STARTTLS, DELIVERY))
            finally(function() srv:stop() end)
            local pol, calls = policy("insecure")
            local r, report = scripted_send(srv.port, { tls = "starttls", tlspolicy = pol })
            assert.are.equal(1, r, report)
            assert.is_false(report.tls)
            assert.are.same({ { text = NOT_OFFERED } }, calls)
            assert.are.equal("completed", srv:wait_done(1))
            assert.are.equal("EHLO client.test\r\n" .. DELIVERY_WIRE, srv:transcript(1))
            srv:assert_clean()
        end)
    end)
end)

--------------------------------------------------------------------------
-- OpenResty: the handshake is the cosocket's sslhandshake; nginx checks
-- the chain (lua_ssl_trusted_certificate) and the host name.
--------------------------------------------------------------------------

local HANDLER = [==[
local smtp = require("socket.smtp")
local json = require("dkjson")
local args = ngx.req.get_uri_args()
local r, e, det = smtp.send{
    from = "<sender@example.com>", rcpt = "<rcpt@example.org>",
    server = "127.0.0.1", port = tonumber(args.port), domain = "client.test", timeout = 5,
    tls = "starttls", ssl = { sni = args.sni }, user = "alice", password = "S3cret!pw",
    source = smtp.message{
        headers = { subject = args.subject, to = "<rcpt@example.org>" },
        body = "Body of " .. args.subject .. ".\r\n",
    },
    create = ngx.socket.tcp,
}
ngx.say(json.encode({ r = r, err = (not r) and e or nil, report = r and e or nil, det = det }))
]==]

local nginx_ok, nginx_why = N.available()

describe("TLS in nginx on cosockets (issue #4)", function()
    if not H.need_peer("nginx", nginx_ok, nginx_why, "the OpenResty TLS cases") then return end

    local ngx_srv = N.start_tls_for_block({ ["/tls"] = HANDLER }, certs.ca)

    -- lua-resty-core 0.1.25 (Debian 12) sometimes raises "assertion
    -- failed!" from sslhandshake instead of returning nginx's reason for a
    -- refused certificate (its issue #499; timing decides which). tls.lua
    -- returns that as a refusal too (ETLS_VERIFY), without the reason: the
    -- nginx cases below accept exactly that text as the other outcome.
    local RESTY_CORE_499 = "certificate verification failed: nginx refused the handshake (lua-resty-core: "
        .. "/usr/share/lua/5.1/resty/core/socket.lua:244: assertion failed!; the reason is in nginx's "
        .. "error log)"

    local function get(port, subject)
        -- (not a tail call: get_json's error blames our caller)
        local res = ngx_srv():get_json(("/tls?port=%d&sni=localhost&subject=%s"):format(port, subject))
        return res
    end

    it("sends with STARTTLS and AUTH over the cosocket (sslhandshake, verified by nginx)", function()
        local srv = H.tls_server()
        finally(function() srv:stop() end)
        local res = get(srv.port, "nginx-tls")
        assert.are.equal(1, res.r, json.encode(res))
        assert.is_true(res.report.tls)
        assert.are.equal("PLAIN", res.report.mechanism)
        local m = delivered(srv, "nginx-tls")
        assert.is_true(m.tls)
        assert.are.equal("PLAIN", m.auth_mechanism)
        assert.are.equal("alice", m.auth_login)
        assert.are.same({ CLEAR }, srv:clear_sessions())
        assert.are.equal("localhost", srv:tls_info(1).sni)
        assert.are.equal(CLEAR .. "EHLO client.test\r\nAUTH PLAIN " .. b64("\0alice\0S3cret!pw") .. "\r\n"
            .. transaction(m), srv:sessions()[1])
    end)

    it("a certificate for another host fails (ETLS_HOST), before AUTH and MAIL", function()
        local srv = H.tls_server({ cert = "wrong_host" })
        finally(function() srv:stop() end)
        local res = get(srv.port, "nginx-wrong-host")
        assert.is_nil(res.r)
        if res.err == RESTY_CORE_499 then
            assert.are.same({ stage = "tls", name = "ETLS_VERIFY" }, res.det)
        else
            assert.are.equal('certificate does not match host "localhost" (nginx: certificate host mismatch)',
                res.err)
            assert.are.same({ stage = "tls", name = "ETLS_HOST" }, res.det)
        end
        stopped_at_starttls(srv)
    end)

    it("an expired certificate fails (ETLS_VERIFY), before AUTH and MAIL", function()
        local srv = H.tls_server({ cert = "expired" })
        finally(function() srv:stop() end)
        local res = get(srv.port, "nginx-expired")
        assert.is_nil(res.r)
        if res.err ~= RESTY_CORE_499 then
            assert.are.equal("certificate verification failed: 10: certificate has expired", res.err)
        end
        assert.are.same({ stage = "tls", name = "ETLS_VERIFY" }, res.det)
        stopped_at_starttls(srv)
    end)
end)
