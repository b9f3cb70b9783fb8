-- Issue 9, item 10: a TLS fallback is visible.
--
-- With tls = "auto" (the default) to this machine, a certificate that does
-- not verify makes smtp.send give up TLS and send the message on a new
-- connection in clear text. That used to be invisible: the debug
-- transcript read as one session (STARTTLS, 220, then a second greeting),
-- and the report said only tls = false. Now the transcript shows the
-- failed handshake, with its reason, and the reconnect, and the report
-- carries the reason in report.tls_error. With a cafile that verifies the
-- certificate there is no fallback and no tls_error.
--
-- The server is the local TLS server (spec/support/tls_server.py, aiosmtpd
-- with STARTTLS) with certificates from spec/support/tls_certs.sh.
local H = require("helper")
if not H.need_luasec("issue 9 (10): TLS fallback") then return end
local M = require("support.mailspec")

local certs = H.tls_certs()

-- smtp.send to the server with a transcript; returns r, report|err, det, lines.
local function send(srv, subject, extra)
    local lines = {}
    extra = extra or {}
    extra.debug = function(dir, line) lines[#lines + 1] = dir .. ": " .. line end
    local r, report, det = M.send(srv.port, subject, extra)
    return r, report, det, lines
end

local function index_of(lines, pattern, from)
    for i = from or 1, #lines do
        if lines[i]:match(pattern) then return i end
    end
    return nil
end

local HOST_ERR = 'certificate does not match host "localhost": it holds DNS:wrong.example'

describe("issue 9 (10): a TLS fallback is visible", function()
    teardown(H.stop_all)

    it("a certificate for another host: the transcript shows the failure and the reconnect; " ..
        "report.tls_error says why; the message arrives once, in clear text", function()
        local srv = H.tls_server({ cert = "wrong_host" })
        finally(function() srv:stop() end)
        local r, report, _, lines = send(srv, "fallback host", { ssl = { cafile = srv.ca } })
        assert.are.equal(1, r, report)
        assert.is_false(report.tls)
        assert.are.equal("string", type(report.tls_error))
        assert.are.equal(HOST_ERR, report.tls_error:sub(1, #HOST_ERR))

        local text = table.concat(lines, "\n")
        local starttls = index_of(lines, "^C: STARTTLS$")
        assert.is_not_nil(starttls, text)
        assert.matches("^S: 220 ", lines[starttls + 1], nil, text)
        -- then the failure, with its reason, and the reconnect, as lines of their own
        assert.are.equal("C: [TLS failed: " .. report.tls_error .. "]", lines[starttls + 2], text)
        assert.are.equal("C: [connection closed; reconnecting without TLS]", lines[starttls + 3], text)
        -- then a new session: greeting, EHLO, no STARTTLS
        assert.matches("^S: 220 ", lines[starttls + 4], nil, text)
        assert.are.equal("C: EHLO client.test", lines[starttls + 5], text)
        assert.is_nil(index_of(lines, "^C: STARTTLS$", starttls + 1), text)

        -- one message, in clear text, on the second connection
        local msgs, err = srv:wait_messages(1)
        assert.is_nil(err, "no message arrived")
        assert.are.equal(1, #msgs)
        local m = M.check_message(msgs[1], "fallback host")
        assert.is_false(m.tls)
        H.sleep(0.2)
        assert.are.equal(1, #srv:messages())
        assert.are.same({ M.CLEAR, "EHLO client.test\r\n" .. M.transaction(m) }, srv:sessions())
    end)

    it("a certificate from a CA we do not trust: the chain failure is the reason", function()
        local srv = H.tls_server()
        finally(function() srv:stop() end)
        local r, report, _, lines = send(srv, "fallback chain", { ssl = { cafile = certs.other_ca } })
        assert.are.equal(1, r, report)
        assert.is_false(report.tls)
        assert.are.equal("string", type(report.tls_error))
        assert.is_nil(report.tls_error:find(HOST_ERR, 1, true))
        assert.matches("certificate", report.tls_error)
        local text = table.concat(lines, "\n")
        assert.is_not_nil(index_of(lines, "^C: %[TLS failed: .*certificate"), text)
        assert.is_not_nil(index_of(lines, "^C: %[connection closed; reconnecting without TLS%]$"), text)
        local msgs = srv:wait_messages(1)
        assert.are.equal(1, #msgs)
        assert.is_false(msgs[1].tls)
    end)

    it("with a cafile that verifies the certificate: TLS, no fallback, no tls_error", function()
        local srv = H.tls_server()
        finally(function() srv:stop() end)
        local r, report, _, lines = send(srv, "no fallback", { ssl = { cafile = srv.ca } })
        assert.are.equal(1, r, report)
        assert.is_true(report.tls)
        assert.is_nil(report.tls_error)
        local text = table.concat(lines, "\n")
        assert.is_nil(index_of(lines, "TLS failed"), text)
        assert.is_nil(index_of(lines, "reconnecting"), text)
        local msgs = srv:wait_messages(1)
        assert.are.equal(1, #msgs)
        assert.is_true(msgs[1].tls)
        assert.are.equal(1, #srv:sessions())
    end)

    it("a STARTTLS refused with 454: clear text on the same connection, the refusal in report.tls_error",
        function()
            local srv = H.scripted({
                { send = "220 scripted.test ESMTP\r\n" },
                { expect = "EHLO client.test" }, { send = "250-scripted.test\r\n250 STARTTLS\r\n" },
                { expect = "STARTTLS" }, { send = "454 4.7.0 TLS not available due to local problem\r\n" },
                { expect = "MAIL FROM:" }, { send = "250 ok\r\n" },
                { expect = "RCPT TO:" }, { send = "250 ok\r\n" },
                { expect = "DATA" }, { send = "354 go\r\n" },
                { data = true }, { send = "250 2.0.0 queued\r\n" },
                { expect = "QUIT" }, { send = "221 bye\r\n" },
            })
            finally(function() srv:stop() end)
            local r, report, _, lines = send(srv, "refused", { ssl = { cafile = certs.ca } })
            srv:assert_clean()
            assert.are.equal(1, r, report)
            assert.is_false(report.tls)
            assert.are.equal("454 4.7.0 TLS not available due to local problem (STARTTLS)", report.tls_error)
            assert.is_nil(index_of(lines, "reconnecting"))
        end)

    it("tls = false: no STARTTLS, no second connection, no tls_error", function()
        local srv = H.tls_server({ cert = "wrong_host" })
        finally(function() srv:stop() end)
        local r, report, _, lines = send(srv, "clear", { tls = false })
        assert.are.equal(1, r, report)
        assert.is_false(report.tls)
        assert.is_nil(report.tls_error)
        assert.is_nil(index_of(lines, "^C: STARTTLS$"))
        assert.are.equal(1, #srv:sessions())
    end)
end)
