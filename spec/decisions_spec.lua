-- The security decisions of smtp.send, each against the scripted server
-- (127.0.0.1 only): a reply code that must be exact, TLS that was asked
-- for, credentials in clear text. Each `it` here kills one or more mutants
-- of tools/mutate/mutants.txt (named in brackets); `make mutate` checks
-- that they still do.
--
--   lua5.4 /usr/bin/busted --lpath='./lua/?.lua;./lua/?/init.lua;./spec/?.lua' \
--       --cpath=./build/5.4/?.so spec/decisions_spec.lua
local H = require("helper")
local mime = require("mime")
local remote = require("support.remote")
local M = require("support.mailspec")

local USER, PASSWORD = "alice", "S3cret!pw"
local PLAIN = "AUTH PLAIN " .. mime.b64("\0" .. USER .. "\0" .. PASSWORD)
local TEXT = "Subject: decisions\r\n\r\nHello.\r\n"

local steps, greeting = M.steps, M.greeting

local QUIT = { { expect = "QUIT" }, { send = "221 2.0.0 bye\r\n" } }
-- a delivery of TEXT and QUIT
local DELIVERY, DELIVERY_WIRE = M.delivery(TEXT)

-- (to 127.0.0.1, an address: the loopback rule is among the decisions)
local function send(port, extra)
    return M.send_text("127.0.0.1", port, TEXT, extra)
end

-- The server saw exactly `wire`, and nothing it did not expect.
local function saw(srv, wire)
    assert.are.equal("completed", srv:wait_done(1))
    srv:assert_clean()
    assert.are.equal(wire, srv:transcript(1))
end

describe("a reply code that must be exact", function()
    teardown(H.stop_all)

    it("DATA answered 250 (not 354): refused, no content sent [data-354]", function()
        local srv = H.scripted(steps(greeting("250 scripted.test\r\n"),
            { { expect = "MAIL FROM:" }, { send = "250 2.1.0 ok\r\n" },
              { expect = "RCPT TO:" }, { send = "250 2.1.5 ok\r\n" },
              { expect = "DATA" }, { send = "250 2.0.0 ok\r\n" } }, QUIT))
        finally(function() srv:stop() end)
        local r, err, det = send(srv.port)
        assert.is_nil(r)
        assert.are.equal("250 2.0.0 ok (DATA)", err)
        assert.are.equal("EREFUSED", det.name)
        assert.are.equal("data", det.stage)
        assert.are.equal(250, det.code)
        saw(srv, "EHLO client.test\r\nMAIL FROM:<sender@example.com>\r\nRCPT TO:<rcpt@example.org>\r\n"
            .. "DATA\r\nQUIT\r\n")
    end)

    it("STARTTLS answered 250 (not 220): refused, no handshake, no clear-text fallback [starttls-220]",
        function()
            local srv = H.scripted(steps(greeting("250-scripted.test\r\n250 STARTTLS\r\n"),
                { { expect = "STARTTLS" }, { send = "250 2.0.0 sure\r\n" } }, QUIT))
            finally(function() srv:stop() end)
            local upgrades = 0
            local ssl = { upgrade = function() upgrades = upgrades + 1; return nil, "no TLS here (spec)" end }
            local r, err, det = send(srv.port, { tls = "starttls", ssl = ssl })
            assert.is_nil(r)
            assert.are.equal("250 2.0.0 sure (STARTTLS)", err)
            assert.are.equal("EREFUSED", det.name)
            assert.are.equal("starttls", det.stage)
            assert.are.equal(250, det.code)
            assert.are.equal(0, upgrades)
            saw(srv, "EHLO client.test\r\nSTARTTLS\r\nQUIT\r\n")
        end)

    for _, case in ipairs({
        { "PLAIN", { { expect = PLAIN }, { send = "250 2.7.0 fine\r\n" } }, PLAIN .. "\r\n" },
        { "LOGIN", { { expect = "AUTH LOGIN" }, { send = "334 VXNlcm5hbWU6\r\n" },
                     { expect = mime.b64(USER) }, { send = "334 UGFzc3dvcmQ6\r\n" },
                     { expect = mime.b64(PASSWORD) }, { send = "250 2.7.0 fine\r\n" } },
          "AUTH LOGIN\r\n" .. mime.b64(USER) .. "\r\n" .. mime.b64(PASSWORD) .. "\r\n" },
    }) do
        local mech, script, wire = case[1], case[2], case[3]
        it("AUTH " .. mech .. " answered 250 (not 235): not authenticated, no MAIL [auth-235]", function()
            local srv = H.scripted(steps(greeting("250-scripted.test\r\n250 AUTH " .. mech .. "\r\n"),
                script, QUIT))
            finally(function() srv:stop() end)
            local r, err, det = send(srv.port, { user = USER, password = PASSWORD, auth = mech })
            assert.is_nil(r)
            assert.are.equal("250 2.7.0 fine (AUTH " .. mech .. ")", err)
            assert.are.equal("auth", det.stage)
            assert.are.equal(250, det.code)
            saw(srv, "EHLO client.test\r\n" .. wire .. "QUIT\r\n")
        end)
    end
end)

describe('tls = "starttls" without a tlspolicy', function()
    teardown(H.stop_all)

    it("to a server that does not offer STARTTLS: ETLS_NOTOFFERED, nothing in clear text "
        .. "[starttls-not-offered]", function()
        local srv = H.scripted(steps(greeting("250-scripted.test\r\n250 AUTH PLAIN\r\n"), QUIT))
        finally(function() srv:stop() end)
        local r, err, det = send(srv.port, { tls = "starttls", user = USER, password = PASSWORD })
        assert.is_nil(r)
        assert.are.equal('TLS required (tls = "starttls") but the server does not offer STARTTLS', err)
        assert.are.same({ stage = "tls", name = "ETLS_NOTOFFERED" }, det)
        saw(srv, "EHLO client.test\r\nQUIT\r\n")
    end)

    it("STARTTLS refused (454) by this machine: fails, no clear-text fallback [starttls-lenient]", function()
        local srv = H.scripted(steps(greeting("250-scripted.test\r\n250 STARTTLS\r\n"),
            { { expect = "STARTTLS" }, { send = "454 4.7.0 TLS not available\r\n" } }, QUIT))
        finally(function() srv:stop() end)
        local ssl = { upgrade = function() error("no handshake may be tried") end }
        local r, err, det = send(srv.port, { tls = "starttls", ssl = ssl })
        assert.is_nil(r)
        assert.are.equal("454 4.7.0 TLS not available (STARTTLS)", err)
        assert.are.equal("starttls", det.stage)
        assert.are.equal(454, det.code)
        saw(srv, "EHLO client.test\r\nSTARTTLS\r\nQUIT\r\n")
    end)

    it('a tlspolicy that answers anything but "insecure" does not allow clear text [tlspolicy-insecure]',
        function()
            for _, answer in ipairs({ "secure", true, "INSECURE", "insecure " }) do
                local srv = H.scripted(steps(greeting("250 scripted.test\r\n"), QUIT))
                finally(function() srv:stop() end)
                local r, err, det = send(srv.port, { tls = "starttls", tlspolicy = function() return answer end })
                assert.is_nil(r, tostring(answer))
                assert.are.equal('TLS required (tls = "starttls") but the server does not offer STARTTLS', err)
                assert.are.equal("ETLS_NOTOFFERED", det.name)
                saw(srv, "EHLO client.test\r\nQUIT\r\n")
                srv:stop()
            end
        end)
end)

-- Credentials in clear text go only to this machine. The connection is
-- always to 127.0.0.1 (support.remote); the server *name* is what the rule
-- sees, as with any socket that cannot tell its peer's address.
describe("credentials in clear text", function()
    teardown(H.stop_all)

    local function refused(name)
        return "refusing to send credentials to " .. name .. " over an unencrypted connection "
            .. '(use tls = "starttls" or "smtps", or set insecure_auth = true)'
    end

    local remote_names = {
        "10.0.0.1", "192.168.1.1", "128.0.0.1", "1.127.0.0", "::2", "[::2]", "::ffff:127.0.0.1",
        "localhost.example.com", "localhost.", "localhostx", "mylocalhost", "127.0.0.1.example.com",
        "127.evil.example",
    }
    for _, name in ipairs(remote_names) do
        it(("%q is not this machine: EINSECURE_AUTH, no AUTH sent [loopback-*]"):format(name), function()
            local srv = H.scripted(steps(greeting("250-scripted.test\r\n250 AUTH PLAIN\r\n"), QUIT))
            finally(function() srv:stop() end)
            local create, log = remote.create()
            local r, err, det = send(srv.port, {
                server = name, create = create, tls = false, user = USER, password = PASSWORD,
            })
            assert.is_nil(r)
            assert.are.equal(refused(name), err)
            assert.are.same({ stage = "auth", name = "EINSECURE_AUTH" }, det)
            assert.are.same({ name }, log.hosts)
            saw(srv, "EHLO client.test\r\nQUIT\r\n")
        end)
    end

    for _, name in ipairs({ "127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost" }) do
        it(("%q is this machine: AUTH PLAIN goes in clear text"):format(name), function()
            local srv = H.scripted(steps(greeting("250-scripted.test\r\n250 AUTH PLAIN\r\n"),
                { { expect = PLAIN }, { send = "235 2.7.0 ok\r\n" } }, DELIVERY))
            finally(function() srv:stop() end)
            local create, log = remote.create()
            local r, report = send(srv.port, {
                server = name, create = create, tls = false, user = USER, password = PASSWORD,
            })
            assert.are.equal(1, r, report)
            assert.are.equal("PLAIN", report.mechanism)
            assert.is_false(report.tls)
            assert.are.same({ name }, log.hosts)
            saw(srv, "EHLO client.test\r\n" .. PLAIN .. "\r\n" .. DELIVERY_WIRE)
        end)
    end
end)
