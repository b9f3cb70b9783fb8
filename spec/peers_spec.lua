-- Specs for the TLS/AUTH test peers of issue #4 (spec/helper.lua:
-- H.tls_certs, H.tls_server, H.dovecot). They drive the peers with
-- LuaSocket and LuaSec directly, not with socket.smtp, so they show that
-- the peers work before the module under test uses them.
--
--   lua5.4 /usr/bin/busted -o TAP --lpath='./lua/?.lua;./lua/?/init.lua;./spec/?.lua' \
--       --cpath=./build/5.4/?.so spec/peers_spec.lua
--   (luajit likewise)

local H = require("helper")
local socket = require("socket")
local mime = require("mime")
local ssl = require("ssl")

local function b64(s) return (mime.b64(s)) end

-- One complete SMTP reply: code (number), lines (text after "NNN-").
local function reply(c)
    local lines = {}
    local code
    repeat
        local line = assert(c:receive("*l"))
        code = tonumber(line:sub(1, 3))
        lines[#lines + 1] = line:sub(5)
    until line:sub(4, 4) ~= "-"
    return code, lines
end

local function cmd(c, line)
    assert(c:send(line .. "\r\n"))
    return reply(c)
end

local function connect(host, port)
    local c = socket.tcp()
    c:settimeout(5)
    assert(c:connect(host, port))
    return c
end

-- Client TLS parameters that verify the chain against the test CA.
local function tls_params(cafile)
    return {
        mode = "client",
        protocol = "any",
        verify = { "peer", "fail_if_no_peer_cert" },
        cafile = cafile,
        options = { "all", "no_sslv2", "no_sslv3", "no_tlsv1", "no_tlsv1_1" },
    }
end

-- Wraps c in TLS (SNI `name`), handshakes; returns the TLS socket or nil, err.
local function handshake(c, cafile, name)
    local s = assert(ssl.wrap(c, tls_params(cafile)))
    s:settimeout(5)
    s:sni(name or "localhost")
    local ok, err = s:dohandshake()
    if not ok then
        s:close()
        return nil, err
    end
    return s
end

-- Upper-cased EHLO keywords -> their parameters.
local function capabilities(lines)
    local caps = {}
    for i = 2, #lines do
        local kw, rest = lines[i]:match("^(%S+)%s*(.*)$")
        if kw then caps[kw:upper()] = rest end
    end
    return caps
end

local function words(s)
    local out = {}
    for w in (s or ""):gmatch("%S+") do out[#out + 1] = w:upper() end
    table.sort(out)
    return out
end

-- subjectAltName DNS names of the peer's certificate.
local function san_dns(s)
    local cert = assert(s:getpeercertificate())
    local san = cert:extensions()["2.5.29.17"] or {}
    return san.dNSName or {}
end

local function send_message(c, from, to, body)
    assert.are.equal(250, (cmd(c, "MAIL FROM:<" .. from .. ">")))
    assert.are.equal(250, (cmd(c, "RCPT TO:<" .. to .. ">")))
    assert.are.equal(354, (cmd(c, "DATA")))
    assert.are.equal(250, (cmd(c, body .. "\r\n.")))
end

-- Nothing listens on port any more.
local function closed(port)
    local c = socket.tcp()
    c:settimeout(1)
    local ok = c:connect("127.0.0.1", port)
    c:close()
    return not ok
end

describe("test peers (issue #4)", function()
    teardown(H.stop_all)

    it("H.tls_certs makes the CA and every documented certificate, once", function()
        local certs = H.tls_certs()
        assert.is_truthy(H.exists(certs.ca))
        assert.is_truthy(H.exists(certs.other_ca))
        assert.are.equal(11, #certs.names)
        for _, name in ipairs(certs.names) do
            assert.is_truthy(H.exists(certs[name].cert), name)
            assert.is_truthy(H.exists(certs[name].key), name)
        end
        assert.are.equal(certs, H.tls_certs())          -- shared per process
        local dir = H.tmpdir()
        finally(function() H.rmdir(dir) end)
        local own = H.tls_certs(dir)                      -- explicit dir
        assert.are.equal(dir .. "/ca.pem", own.ca)
        local before = H.read_file(own.localhost.cert)
        H.tls_certs(dir)                                  -- idempotent
        assert.are.equal(before, H.read_file(own.localhost.cert))
    end)

    it("H.tls_server STARTTLS: verified handshake, AUTH only after TLS, capture", function()
        local srv = H.tls_server()
        finally(function() srv:stop() end)
        local c = connect(srv.host, srv.port)
        assert.are.equal(220, (reply(c)))
        local code, lines = cmd(c, "EHLO client.test")
        assert.are.equal(250, code)
        local caps = capabilities(lines)
        assert.is_truthy(caps.STARTTLS)
        assert.is_nil(caps.AUTH)
        assert.are.equal(220, (cmd(c, "STARTTLS")))
        local s = assert(handshake(c, srv.ca, "localhost"))
        assert.are.same({ "localhost" }, san_dns(s))
        code, lines = cmd(s, "EHLO client.test")
        assert.are.equal(250, code)
        caps = capabilities(lines)
        assert.is_nil(caps.STARTTLS)
        assert.are.same({ "LOGIN", "PLAIN" }, words(caps.AUTH))
        assert.are.equal(235, (cmd(s, "AUTH PLAIN " .. b64("\0" .. srv.user .. "\0" .. srv.password))))
        send_message(s, "from@x.test", "to@y.test", "Subject: starttls\r\n\r\nhello")
        assert.are.equal(221, (cmd(s, "QUIT")))
        s:close()

        local msgs = assert(srv:wait_messages(1))
        assert.are.equal(1, #msgs)
        assert.are.equal("from@x.test", msgs[1].from)
        assert.are.same({ "to@y.test" }, msgs[1].rcpt)
        assert.are.equal("Subject: starttls\r\n\r\nhello\r\n", msgs[1].data)
        assert.is_true(msgs[1].tls)
        assert.are.equal("alice", msgs[1].auth_login)
        assert.are.equal("PLAIN", msgs[1].auth_mechanism)
        local info = srv:tls_info(msgs[1].session)
        assert.are.equal("starttls", info.mode)
        assert.are.equal("localhost", info.sni)
        local clear = srv:clear_sessions()[msgs[1].session]
        assert.are.equal("EHLO client.test\r\nSTARTTLS\r\n", clear)
        assert.is_truthy(srv:sessions()[msgs[1].session]:find("AUTH PLAIN ", #clear + 1, true))
    end)

    it("H.tls_server implicit TLS: TLS from the first byte, AUTH LOGIN", function()
        local srv = H.tls_server({ tls = "implicit" })
        finally(function() srv:stop() end)
        local s = assert(handshake(connect(srv.host, srv.port), srv.ca, "localhost"))
        assert.are.equal(220, (reply(s)))
        local code, lines = cmd(s, "EHLO client.test")
        assert.are.equal(250, code)
        local caps = capabilities(lines)
        assert.is_nil(caps.STARTTLS)
        assert.are.same({ "LOGIN", "PLAIN" }, words(caps.AUTH))
        assert.are.equal(334, (cmd(s, "AUTH LOGIN")))
        assert.are.equal(334, (cmd(s, b64(srv.user))))
        assert.are.equal(235, (cmd(s, b64(srv.password))))
        send_message(s, "a@x.test", "b@y.test", "Subject: smtps\r\n\r\nhi")
        s:close()
        local msgs = assert(srv:wait_messages(1))
        assert.are.equal("LOGIN", msgs[1].auth_mechanism)
        assert.are.equal("implicit", srv:tls_info(1).mode)
        assert.are.equal("", srv:clear_sessions()[1])
    end)

    it("H.tls_server with an expired or untrusted certificate fails verification", function()
        for _, name in ipairs({ "expired", "untrusted" }) do
            local srv = H.tls_server({ tls = "implicit", cert = name })
            finally(function() srv:stop() end)
            local s, err = handshake(connect(srv.host, srv.port), srv.ca, "localhost")
            assert.is_nil(s)
            assert.matches("certificate", err)
            srv:stop()
        end
    end)

    it("H.tls_server stop() leaves nothing listening", function()
        local srv = H.tls_server({ tls = "implicit" })
        local port = srv.port
        srv:stop()
        assert.is_false(srv:alive())
        assert.is_true(closed(port))
    end)

    describe("H.dovecot", function()
        local available, why = H.dovecot_available()
        if not H.need_peer("dovecot", available, why, "the Dovecot cases") then return end

        local ALL = { "CRAM-MD5", "DIGEST-MD5", "LOGIN", "OAUTHBEARER", "PLAIN",
            "SCRAM-SHA-1", "SCRAM-SHA-256", "XOAUTH2" }

        it("offers every mechanism after STARTTLS and over implicit TLS, and relays", function()
            local srv = H.dovecot()
            finally(function() srv:stop() end)
            local sorted = {}
            for i, m in ipairs(srv.mechanisms) do sorted[i] = m end
            table.sort(sorted)
            assert.are.same(ALL, sorted)

            -- STARTTLS on srv.port
            local c = connect(srv.host, srv.port)
            assert.are.equal(220, (reply(c)))
            local code, lines = cmd(c, "EHLO client.test")
            assert.are.equal(250, code)
            assert.is_truthy(capabilities(lines).STARTTLS)
            assert.are.equal(220, (cmd(c, "STARTTLS")))
            local s = assert(handshake(c, srv.ca, "localhost"))
            code, lines = cmd(s, "EHLO client.test")
            assert.are.equal(250, code)
            local caps = capabilities(lines)
            assert.is_nil(caps.STARTTLS)
            assert.are.same(ALL, words(caps.AUTH))
            assert.are.equal(235, (cmd(s, "AUTH PLAIN " .. b64("\0" .. srv.user .. "\0" .. srv.password))))
            send_message(s, "from@x.test", "to@y.test", "Subject: via dovecot\r\n\r\nrelayed")
            s:close()

            -- implicit TLS on srv.smtps_port
            s = assert(handshake(connect(srv.host, srv.smtps_port), srv.ca, "localhost"))
            assert.are.equal(220, (reply(s)))
            code, lines = cmd(s, "EHLO client.test")
            assert.are.equal(250, code)
            assert.are.same(ALL, words(capabilities(lines).AUTH))
            assert.are.equal(535, (cmd(s, "AUTH PLAIN " .. b64("\0" .. srv.user .. "\0wrong"))))
            s:close()

            local msgs = assert(srv:wait_messages(1))
            assert.are.equal("from@x.test", msgs[1].from)
            assert.are.same({ "to@y.test" }, msgs[1].rcpt)
            assert.matches("^Received: ", msgs[1].data)
            assert.is_truthy(msgs[1].data:find("\r\nSubject: via dovecot\r\n\r\nrelayed\r\n", 1, true))
        end)

        it("stop() takes down Dovecot, its children and the capture server", function()
            local srv = H.dovecot({ mechanisms = { "SCRAM-SHA-256", "PLAIN" } })
            assert.are.same({ "SCRAM-SHA-256", "PLAIN" }, srv.mechanisms)
            local port, sport, relay = srv.port, srv.smtps_port, srv.capture.port
            local marker = "saslpeer-" .. port .. "/"
            local _, ps = H.sh("ps -e -o cmd=")
            assert.is_truthy(ps:find(marker, 1, true))
            srv:stop()
            assert.is_false(srv:alive())
            assert.is_false(H.running(srv.dovecot_pid))
            assert.is_false(srv.capture:alive())
            _, ps = H.sh("ps -e -o stat=,cmd=")
            for line in ps:gmatch("[^\n]+") do
                if line:find(marker, 1, true) then
                    assert.matches("^Z", line)     -- at most an unreaped zombie
                end
            end
            assert.is_true(closed(port))
            assert.is_true(closed(sport))
            assert.is_true(closed(relay))
        end)
    end)
end)
