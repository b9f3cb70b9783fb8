-- Issue 9, item 1: LuaSec parameter tables work unchanged.
--
-- Users pass `ssl` the table they already give LuaSec's ssl.wrap or
-- ssl.newcontext. smtp-native refused protocol = "any" (its check knew
-- only "tlsv1_2" and "tlsv1_3") and silently dropped every field it did
-- not know (ciphers, ciphersuites, options, depth, curve, verifyext...).
-- Now every field LuaSec's newcontext documents is accepted and passed
-- on; "any" (and its old name "sslv23") is the best version both sides
-- support, never below TLS 1.2; older versions are refused before
-- connecting; mode = "server" is refused; and our own checks (the host
-- name, the TLS 1.2 floor) hold whatever the table says. Only an explicit
-- verify = "none" turns off the certificate checks (chain and host name);
-- the TLS 1.2 floor stays even then.
--
-- Peers: spec/support/tls_server.py (aiosmtpd + TLS, the test CA of
-- tls_certs.sh) on 127.0.0.1. A server that stops at TLS 1.1 needs
-- OpenSSL's security level 0 on both sides (OpenSSL 3 refuses TLS 1.0/1.1
-- otherwise): the spec first shows, with LuaSec alone, that the server
-- really speaks TLS 1.1 to a client that allows it; then that smtp-native
-- refuses it even when the table lowers the security level itself
-- (ciphers = "DEFAULT:@SECLEVEL=0"), so that it is our floor, not
-- OpenSSL's default, that refuses.

local H = require("helper")
if not H.need_luasec("LuaSec parameter tables (issue 9, item 1)") then return end
local luasec = require("ssl")
local M = require("support.mailspec")
local socket = require("socket")
local smtp = require("socket.smtp")

local certs = H.tls_certs()
local CLEAR = M.CLEAR

-- The table of the issue, as users write it for ssl.wrap.
local function manual_table()
    return { mode = "client", protocol = "any", verify = "peer", options = "all", cafile = certs.ca }
end

-- LuaSec's own client example (samples/oneshot/client.lua), with the test
-- PKI's files.
local function luasec_sample()
    return {
        mode = "client",
        protocol = "tlsv1_2",
        key = certs.client.key,
        certificate = certs.client.cert,
        cafile = certs.ca,
        verify = { "peer", "fail_if_no_peer_cert" },
        options = "all",
    }
end

local delivered, stopped_at_starttls, listener = M.delivered, M.stopped_at_starttls, M.listener
-- What the low-level object raised: LuaSocket's exception ({ message })
-- when LuaSocket is there.
local function raised(e)
    if type(e) == "table" then return e[1] end
    return e
end
local function assert_no_connection(l) M.assert_no_connection(l, 0.1) end

describe("LuaSec parameter tables (issue 9, item 1)", function()
    teardown(H.stop_all)

    local function server(opts)
        local srv = H.tls_server(opts)
        finally(function() srv:stop() end)
        return srv
    end

    it("the manual's table ({mode, protocol = \"any\", verify, options = \"all\", cafile}) sends over STARTTLS",
        function()
            local srv = server()
            local r, report = M.send(srv.port, "manual starttls", { tls = "starttls", ssl = manual_table() })
            assert.are.equal(1, r, report)
            assert.is_true(report.tls)
            assert.is_true(delivered(srv, "manual starttls").tls)
            assert.are.same({ CLEAR }, srv:clear_sessions())
            assert.are.equal("TLSv1.3", srv:tls_info(1).version)
        end)

    it("the manual's table sends over SMTPS, with smtp.send and with smtp.open", function()
        local srv = server({ tls = "implicit" })
        local r, report = M.send(srv.port, "manual smtps", { tls = "smtps", ssl = manual_table() })
        assert.are.equal(1, r, report)
        assert.is_true(report.tls)
        assert.is_true(delivered(srv, "manual smtps").tls)
        assert.are.same({ "" }, srv:clear_sessions())

        local s = smtp.open("localhost", srv.port, nil, { tls = "smtps", ssl = manual_table(), timeout = 5 })
        assert.matches("^250%-tls%.smtp%-native%.test", s:greet("client.test"))
        s:close()
    end)

    it("s:starttls takes the manual's table", function()
        local srv = server()
        local s = smtp.open("localhost", srv.port, nil, { timeout = 5 })
        s:greet("client.test")
        local ext = s:starttls(manual_table())
        assert.matches("AUTH", ext)
        s:quit()
        s:close()
        assert.are.equal("TLSv1.3", srv:tls_info(1).version)
    end)

    it("LuaSec's own client example (a client certificate, verify = {\"peer\", ...}) sends; the certificate "
        .. "reaches the server", function()
        local srv = server({ verify_client = "required" })
        local r, report = M.send(srv.port, "luasec sample", { tls = "starttls", ssl = luasec_sample() })
        assert.are.equal(1, r, report)
        assert.is_true(delivered(srv, "luasec sample").tls)
        assert.are.equal("client.test", srv:tls_info(1).client_cert)
    end)

    it('protocol = "any" negotiates the best both support: TLS 1.3, or 1.2 from a server that stops there',
        function()
            local srv = server({ tls_max = "1.2" })
            local r, report = M.send(srv.port, "any 1.2", { tls = "starttls", ssl = manual_table() })
            assert.are.equal(1, r, report)
            assert.are.equal("TLSv1.2", srv:tls_info(1).version)
            delivered(srv, "any 1.2")
        end)

    it('protocol = "sslv23" (LuaSec\'s older name for "any") works as "any"', function()
        local srv = server()
        local t = manual_table()
        t.protocol = "sslv23"
        local r, report = M.send(srv.port, "sslv23", { tls = "starttls", ssl = t })
        assert.are.equal(1, r, report)
        assert.are.equal("TLSv1.3", srv:tls_info(1).version)
    end)

    it('protocol = "tlsv1_2" and "tlsv1_3" keep working (the lowest version allowed)', function()
        local srv = server({ tls_max = "1.2" })
        local t = manual_table()
        t.protocol = "tlsv1_2"
        local r, report = M.send(srv.port, "tlsv1_2", { tls = "starttls", ssl = t })
        assert.are.equal(1, r, report)
        assert.are.equal("TLSv1.2", srv:tls_info(1).version)
        srv:stop()

        srv = server()
        t.protocol = "tlsv1_3"
        r, report = M.send(srv.port, "tlsv1_3", { tls = "starttls", ssl = t })
        assert.are.equal(1, r, report)
        assert.are.equal("TLSv1.3", srv:tls_info(1).version)
    end)

    it('protocol = "any" refuses a server that stops at TLS 1.1, even with the security level lowered and '
        .. 'verify = "none"', function()
        local srv = server({ tls_max = "1.1" })
        -- The server does speak TLS 1.1 to a client that allows it (LuaSec
        -- alone, security level 0): so the refusal below is ours.
        local c = socket.tcp()
        c:settimeout(5)
        assert(c:connect("127.0.0.1", srv.port))
        assert.matches("^220 ", c:receive("*l"))
        c:send("EHLO probe.test\r\n")
        repeat local line = assert(c:receive("*l")) until line:sub(4, 4) == " "
        c:send("STARTTLS\r\n")
        assert.matches("^220 ", c:receive("*l"))
        local conn = assert(luasec.wrap(c, { mode = "client", protocol = "tlsv1_1", verify = "none",
            ciphers = "DEFAULT:@SECLEVEL=0" }))
        conn:settimeout(5)
        assert.is_true(conn:dohandshake())
        assert.are.equal("TLSv1.1", conn:info("protocol"))
        conn:close()
        assert.are.equal("TLSv1.1", srv:tls_info(1).version)
        srv:stop()

        for _, extra in ipairs({ {}, { ciphers = "DEFAULT:@SECLEVEL=0" },
                { ciphers = "DEFAULT:@SECLEVEL=0", verify = "none" } }) do
            srv = server({ tls_max = "1.1" })
            local t = manual_table()
            for k, v in pairs(extra) do t[k] = v end
            local r, err, det = M.send(srv.port, "tls 1.1", { tls = "starttls", ssl = t })
            M.handshake_failed(srv, r, err, det)
            srv:stop()
        end
    end)

    it('protocol = "tlsv1", "tlsv1_1", "sslv3": refused before connecting, naming ssl.protocol and the floor',
        function()
            local l, port = listener()
            finally(function() l:close() end)
            local names = { tlsv1 = "TLS 1.0", tlsv1_1 = "TLS 1.1", sslv3 = "SSL 3.0" }
            for p, name in pairs(names) do
                local t = manual_table()
                t.protocol = p
                local r, err, det = M.send(port, "old", { tls = "starttls", ssl = t })
                assert.is_nil(r)
                assert.are.equal(('invalid ssl.protocol: "%s" (%s) is below the TLS 1.2 floor (RFC 8996 '
                    .. 'retires TLS 1.0 and 1.1): use "any", "tlsv1_2" or "tlsv1_3"'):format(p, name), err)
                assert.are.same({ stage = "argument", field = "ssl.protocol", name = "EARG" }, det)
                local ok, oerr = pcall(smtp.open, "localhost", port, nil, { tls = "smtps", ssl = t })
                assert.is_false(ok)
                assert.are.equal(err, raised(oerr))
            end
            assert_no_connection(l)
        end)

    it('a wrong host name is refused with verify = "peer" though the table says nothing of host names',
        function()
            for _, ssl in ipairs({ manual_table(), luasec_sample() }) do
                local srv = server({ cert = "wrong_host" })
                local r, err, det = M.send(srv.port, "wrong host", { tls = "starttls", ssl = ssl })
                assert.is_nil(r)
                assert.are.equal('certificate does not match host "localhost": it holds DNS:wrong.example, '
                    .. "CN=wrong.example (its CN does not count: it has subjectAltName)", err)
                assert.are.same({ stage = "tls", name = "ETLS_HOST" }, det)
                stopped_at_starttls(srv)
                srv:stop()
            end
        end)

    it('verify = "none" given explicitly turns off the chain and host-name checks (only those)', function()
        for _, cert in ipairs({ "wrong_host", "untrusted", "expired" }) do
            local srv = server({ cert = cert })
            local t = manual_table()
            t.verify = "none"
            local r, report = M.send(srv.port, "verify none " .. cert, { tls = "starttls", ssl = t })
            assert.are.equal(1, r, report)
            assert.is_true(delivered(srv, "verify none " .. cert).tls)
            srv:stop()
        end
        -- a list holding only "none" is the same opt-out; any other flag keeps the checks
        local srv = server({ cert = "wrong_host" })
        local t = manual_table()
        t.verify = { "none" }
        assert.are.equal(1, (M.send(srv.port, "verify {none}", { tls = "starttls", ssl = t })))
        srv:stop()
        srv = server({ cert = "wrong_host" })
        t.verify = { "client_once" }
        local r, err, det = M.send(srv.port, "verify client_once", { tls = "starttls", ssl = t })
        assert.is_nil(r)
        assert.are.same({ stage = "tls", name = "ETLS_HOST" }, det, err)
    end)

    it("every field LuaSec's newcontext documents is accepted and reaches LuaSec", function()
        local srv = server({ verify_client = "required" })
        local dh_calls = 0
        local t = {
            mode = "client", protocol = "any", verify = { "peer" }, options = { "all", "no_ticket" },
            key = certs.client.key, certificate = certs.client.cert, password = "unused (key not encrypted)",
            cafile = certs.ca, capath = certs.dir, depth = 4,
            ciphers = "DEFAULT", ciphersuites = "TLS_CHACHA20_POLY1305_SHA256",
            curve = "prime256v1", curveslist = "P-256:X25519",
            dhparam = function() dh_calls = dh_calls + 1 end, verifyext = { "lsec_continue", "crl_check" },
        }
        -- crl_check without a CRL fails the chain: it was passed on
        local r, err, det = M.send(srv.port, "all fields", { tls = "starttls", ssl = t })
        assert.is_nil(r)
        assert.are.equal("certificate verification failed: unable to get certificate CRL (depth 0)", err)
        assert.are.same({ stage = "tls", name = "ETLS_VERIFY" }, det)
        srv:stop()

        srv = server({ verify_client = "required" })
        t.verifyext = "lsec_continue"
        local report
        r, report = M.send(srv.port, "all fields", { tls = "starttls", ssl = t })
        assert.are.equal(1, r, report)
        local info = srv:tls_info(1)
        assert.are.equal("TLS_CHACHA20_POLY1305_SHA256", info.cipher)
        assert.are.equal("client.test", info.client_cert)
        assert.is_true(delivered(srv, "all fields").tls)
        assert.are.equal(0, dh_calls) -- (a client never asks for DH parameters)
        srv:stop()

        -- ciphers reach TLS 1.2
        srv = server({ tls_max = "1.2" })
        r, report = M.send(srv.port, "ciphers", { tls = "starttls",
            ssl = { protocol = "any", cafile = certs.ca, ciphers = "ECDHE-ECDSA-AES256-GCM-SHA384" } })
        assert.are.equal(1, r, report)
        assert.are.equal("ECDHE-ECDSA-AES256-GCM-SHA384", srv:tls_info(1).cipher)
    end)

    local bad = {
        { "mode", "server", 'must be "client": smtp-native is the client of an SMTP server ("server" is for '
            .. 'accepting TLS connections)' },
        { "mode", "peer", 'must be "client"' },
        { "mode", 1, "must be a string, got number" },
        { "protocol", "tlsv9", 'must be "any" (the best both sides support, at least TLS 1.2), "tlsv1_2" or '
            .. '"tlsv1_3" (the lowest version allowed)' },
        { "protocol", true, "must be a string, got boolean" },
        { "key", {}, "must be a string, got table" },
        { "certificate", 1, "must be a string, got number" },
        { "password", 1, "must be a string or a function, got number" },
        { "cafile", false, "must be a string, got boolean" },
        { "capath", 1, "must be a string, got number" },
        { "verify", 1, "must be a string or a list of strings, got number" },
        { "verify", "peeer", 'unknown verify flag "peeer"' },
        { "verify", { "peer", 2 }, "must be a string or a list of strings, got a number at [2]" },
        { "options", 1, "must be a string or a list of strings, got number" },
        { "options", { "all", "no_such_option" }, 'unknown option "no_such_option"' },
        { "options", { all = true }, "must be a string or a list of strings (a table with other keys given)" },
        { "ciphers", 1, "must be a string, got number" },
        { "ciphersuites", {}, "must be a string, got table" },
        { "depth", "4", "must be a whole number >= 0, got string" },
        { "depth", -1, "must be a whole number >= 0, got -1" },
        { "depth", 1.5, "must be a whole number >= 0, got 1.5" },
        { "curve", 1, "must be a string, got number" },
        { "curveslist", 1, "must be a string, got number" },
        { "dhparam", "dh.pem", "must be a function, got string" },
        { "verifyext", 1, "must be a string or a list of strings, got number" },
        { "verifyext", "crl", 'unknown verifyext flag "crl"' },
        { "sni", 1, "must be a string, got number" },
        { "upgrade", "x", "must be a function, got string" },
    }

    it("a wrong value is refused before connecting, naming the field (smtp.send, smtp.open, s:starttls)",
        function()
            local l, port = listener()
            finally(function() l:close() end)
            for _, case in ipairs(bad) do
                local field, value, msg = case[1], case[2], case[3]
                local t = manual_table()
                t[field] = value
                local want = "invalid ssl." .. field .. ": " .. msg
                local r, err, det = M.send(port, "bad", { ssl = t })
                assert.is_nil(r)
                assert.are.equal(want, err)
                assert.are.same({ stage = "argument", field = "ssl." .. field, name = "EARG" }, det)
                local ok, oerr = pcall(smtp.open, "localhost", port, nil, { tls = "smtps", ssl = t })
                assert.is_false(ok)
                assert.are.equal(want, raised(oerr))
            end
            assert_no_connection(l)

            -- s:starttls: before STARTTLS is sent
            local srv = server()
            local s = smtp.open("localhost", srv.port, nil, { timeout = 5 })
            s:greet("client.test")
            local t = manual_table()
            t.protocol = "tlsv1_1"
            local ok, err = pcall(s.starttls, s, t)
            assert.is_false(ok)
            assert.matches('^invalid ssl%.protocol: "tlsv1_1" %(TLS 1%.1%) is below the TLS 1%.2 floor', raised(err))
            s:close() -- (the failure ended the session with QUIT, as any low-level failure does)
            H.sleep(0.1)
            assert.are.same({ "EHLO client.test\r\nQUIT\r\n" }, srv:sessions())
        end)

    it("a field LuaSec does not document is refused, named (nothing is silently ignored)", function()
        local l, port = listener()
        finally(function() l:close() end)
        for _, key in ipairs({ "verfy", "cafiles", "alpn" }) do
            local t = manual_table()
            t[key] = "x"
            local r, err, det = M.send(port, "unknown", { ssl = t })
            assert.is_nil(r)
            assert.matches("^invalid ssl%." .. key .. ": not a TLS parameter %(the fields are LuaSec's "
                .. "newcontext parameters and sni, upgrade: cafile, capath, certificate, ", err)
            assert.are.same({ stage = "argument", field = "ssl." .. key, name = "EARG" }, det)
        end
        assert_no_connection(l)
    end)
end)
