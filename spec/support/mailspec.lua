-- What the delivery specs share (spec/tls_spec.lua, spec/auth_spec.lua,
-- the issue-9 specs): the test account, the generated message and its
-- checks, TLS refusal checks, and the scripted server's side of a plain
-- delivery.
local H = require("helper")
local smtp = require("socket.smtp")
local mime = require("mime")
local ltn12 = require("ltn12")
local assert = require("luassert") -- busted's, which specs get as a global

local M = {}

M.USER, M.PASSWORD = "alice", "S3cret!pw"
-- What a STARTTLS session sends in clear text, and nothing more.
M.CLEAR = "EHLO client.test\r\nSTARTTLS\r\n"

function M.b64(s) return (mime.b64(s)) end

-- In `extra` tables: remove this field.
M.NONE = {}
function M.merge(t, extra)
    for k, v in pairs(extra or {}) do
        if v == M.NONE then t[k] = nil else t[k] = v end
    end
    return t
end

-- The one message the capture server srv got, checked against what
-- M.send made with `subject` (M.check_message).
function M.delivered(srv, subject)
    local msgs, err = srv:wait_messages(1)
    assert.is_nil(err, "no message arrived")
    assert.are.equal(1, #msgs)
    return M.check_message(msgs[1], subject)
end

-- A failed TLS setup: the server got EHLO and STARTTLS in clear text and
-- nothing else, in clear or encrypted; no message.
function M.stopped_at_starttls(srv)
    assert.are.same({ M.CLEAR }, srv:clear_sessions())
    assert.are.same({ M.CLEAR }, srv:sessions())
    assert.are.same({}, srv:messages())
end

-- A listening socket on 127.0.0.1 that nobody should connect to (a
-- refusal happens before connect), and its port.
function M.listener()
    local l = assert(require("socket").bind("127.0.0.1", 0))
    local _, port = l:getsockname()
    return l, tonumber(port)
end

-- Nobody connected to listener l within `wait` seconds (default 0.2).
function M.assert_no_connection(l, wait, why)
    l:settimeout(wait or 0.2)
    local c = l:accept()
    if c then c:close() end
    assert.is_nil(c, why or "a connection was made")
end

-- A TLS handshake the client gave up on (r, err, det from M.send): ETLS,
-- and the server got EHLO and STARTTLS in clear text, nothing else, and
-- never finished a handshake.
function M.handshake_failed(srv, r, err, det)
    assert.is_nil(r)
    assert.matches("^TLS handshake failed: .", err)
    assert.are.same({ stage = "tls", name = "ETLS" }, det)
    M.stopped_at_starttls(srv)
    assert.is_nil(srv:tls_info(1))
end

-- Low-level API: after EHLO, the scripted server says `said` (a reply
-- line) and resets the connection while the client is idle; then s:noop(),
-- whose write fails. Returns what s:noop() gave (ok, err) and the object
-- (s.error holds the details).
function M.noop_after_reset(said)
    local socket = require("socket")
    local srv = H.scripted({
        { send = "220 mx.example.com ESMTP\r\n" },
        { expect = "EHLO" }, { send = "250-mx.example.com\r\n250 8BITMIME\r\n" },
        { sleep = 0.1 }, -- (the reply is not read with the EHLO reply)
        { send = said .. "\r\n" },
        { reset_close = true },
    })
    local s = smtp.open("127.0.0.1", srv.port, nil, { timeout = 10 })
    s:greet("client.test")
    socket.sleep(0.4) -- the reply and the RST have arrived
    local ok, err = socket.protect(function() return s:noop() end)()
    s:close()
    srv:assert_clean()
    srv:stop()
    return ok, err, s
end

-- smtp.send of `source` from <a@example.com> to <b@example.com> on
-- 127.0.0.1:port (domain "client.test", 5 s per step); `extra` overrides.
function M.send_source(port, source, extra)
    return smtp.send(M.merge({ from = "<a@example.com>", rcpt = "<b@example.com>", server = "127.0.0.1",
        port = port, domain = "client.test", timeout = 5, source = source }, extra))
end

-- smtp.send of a generated message with subject `subject` (server
-- "localhost", domain "client.test", 5 s per step); `extra` overrides.
function M.send(port, subject, extra)
    local t = {
        from = "<sender@example.com>", rcpt = "<rcpt@example.org>",
        server = "localhost", port = port, domain = "client.test", timeout = 5,
        source = smtp.message{
            headers = { subject = subject, to = "<rcpt@example.org>" },
            body = "Body of " .. subject .. ".\r\n",
        },
    }
    return smtp.send(M.merge(t, extra))
end

-- smtp.send of the fixed text `text` (its wire bytes are known: see
-- M.delivery) to `server` (a name or address of this machine); `extra`
-- overrides.
function M.send_text(server, port, text, extra)
    local t = {
        from = "<sender@example.com>", rcpt = "<rcpt@example.org>",
        server = server, port = port, domain = "client.test", timeout = 5,
        source = ltn12.source.string(text),
    }
    return smtp.send(M.merge(t, extra))
end

-- Checks a captured message against what send() made.
function M.check_message(m, subject)
    assert.are.equal("sender@example.com", m.from)
    assert.are.same({ "rcpt@example.org" }, m.rcpt)
    local tree = H.parse_email(m.data)
    assert.are.same({}, tree.defects)
    assert.are.equal(subject, H.header(tree, "Subject"))
    assert.are.equal("Body of " .. subject .. ".\r\n", tree.payload)
    return m
end

-- The envelope, content and QUIT of a session, as the server saw them.
function M.transaction(m)
    return "MAIL FROM:<sender@example.com>\r\nRCPT TO:<rcpt@example.org>\r\nDATA\r\n"
        .. m.data .. ".\r\nQUIT\r\n"
end

-- Script steps: the server side of a plain-text delivery of `text`, and
-- the bytes the client sends for it.
function M.delivery(text)
    local steps = {
        { expect = "MAIL FROM:<sender@example.com>" }, { send = "250 2.1.0 ok\r\n" },
        { expect = "RCPT TO:<rcpt@example.org>" }, { send = "250 2.1.5 ok\r\n" },
        { expect = "DATA" }, { send = "354 go ahead\r\n" },
        { data = true }, { send = "250 2.0.0 queued\r\n" },
        { expect = "QUIT" }, { send = "221 2.0.0 bye\r\n" },
    }
    local wire = "MAIL FROM:<sender@example.com>\r\nRCPT TO:<rcpt@example.org>\r\nDATA\r\n"
        .. text .. ".\r\nQUIT\r\n"
    return steps, wire
end

-- Script steps: the server's greeting, the client's EHLO and the reply `ehlo`.
function M.greeting(ehlo)
    return { { send = "220 scripted.test ESMTP\r\n" }, { expect = "EHLO client.test" }, { send = ehlo } }
end

-- Script steps: a server (mx.example.com, 8BITMIME) that takes the
-- envelope and answers DATA with `go` (default "354 End data with
-- <CR><LF>.<CR><LF>"), then runs `after`, a list of steps.
function M.to_content(after, go)
    return M.steps({
        { send = "220 mx.example.com ESMTP\r\n" },
        { expect = "EHLO" }, { send = "250-mx.example.com\r\n250 8BITMIME\r\n" },
        { expect = "MAIL FROM:" }, { send = "250 2.1.0 Ok\r\n" },
        { expect = "RCPT TO:" }, { send = "250 2.1.5 Ok\r\n" },
        { expect = "DATA" }, { send = (go or "354 End data with <CR><LF>.<CR><LF>") .. "\r\n" },
    }, after)
end

-- Script steps: a server that greets, answers EHLO (offering PIPELINING
-- when `pipelining`) and then expects QUIT only: a client that refuses its
-- own envelope must send nothing else.
function M.greet_then_quit(pipelining)
    return {
        { send = "220 mx\r\n" }, { expect = "EHLO" },
        { send = pipelining and "250-mx\r\n250 PIPELINING\r\n" or "250 mx\r\n" },
        { expect = "QUIT" }, { send = "221 bye\r\n" },
    }
end

-- The lists of script steps, one after the other.
function M.steps(...)
    local out = {}
    for _, list in ipairs({ ... }) do
        for _, s in ipairs(list) do out[#out + 1] = s end
    end
    return out
end

return M
