-- Issue 9, item 5: nothing of `ssl` is silently ignored on cosockets.
--
-- With create = ngx.socket.tcp, the TLS handshake is nginx's
-- sslhandshake, and ssl.cafile, capath, certificate, key and protocol (and
-- every other LuaSec field) were dropped without a word: a client
-- certificate never reached a server that asked for one, a cafile was
-- never trusted, a protocol floor never applied. Now what lua-nginx-module
-- allows is applied (the client certificate through tcpsock:setclientcert,
-- verify through sslhandshake's ssl_verify, sni), and every other field is
-- refused before the socket connects, with the nginx directive to use
-- instead (lua_ssl_trusted_certificate, lua_ssl_protocols, ...).
--
-- Peers on 127.0.0.1: one private nginx for the whole file
-- (spec/support/nginx.lua: Debian's nginx-core + libnginx-mod-http-lua,
-- which run LuaJIT and load build/jit), tls_server.py with the test CA,
-- and a bare listening socket that must never see a connection.
--
--   make LUA=jit
--   lua5.4 /usr/bin/busted --lpath='./lua/?.lua;./lua/?/init.lua;./spec/?.lua' \
--       --cpath=./build/5.4/?.so spec/regress/009_cosocket_ssl_spec.lua

-- luacheck: read_globals ngx

local H = require("helper")
local N = require("support.nginx")
local M = require("support.mailspec")
local json = require("dkjson")

local certs = H.tls_certs()
local CLEAR = M.CLEAR

-- In nginx: a send (or, with api=open, the low-level object) with the
-- `ssl` table given as JSON in the query. nocert=1 hides setclientcert
-- from the cosocket (as a lua-nginx-module older than 0.10.22 would);
-- assertbug=1 makes a failed sslhandshake raise as lua-resty-core 0.1.25
-- does now and then; dhparam=1 adds a dhparam function (JSON has none).
local HANDLER = [==[
local smtp = require("socket.smtp")
local json = require("dkjson")
local args = ngx.req.get_uri_args()
local ssl = args.ssl and json.decode(args.ssl) or nil
if args.dhparam then ssl.dhparam = function() end end
local create = ngx.socket.tcp
if args.nocert or args.assertbug then
    create = function()
        local real = ngx.socket.tcp()
        return setmetatable({}, { __index = function(_, k)
            if k == "setclientcert" and args.nocert then return nil end
            local f = real[k]
            if type(f) ~= "function" then return f end
            if k == "sslhandshake" and args.assertbug then
                -- lua-resty-core 0.1.25's failure mode (its issue #499): a
                -- handshake that failed verification raises from an assert
                return function(_, ...)
                    local session, err = f(real, ...)
                    if not session then
                        ngx.log(ngx.ERR, "sslhandshake said: ", err)
                        error("/usr/share/lua/5.1/resty/core/socket.lua:244: assertion failed!", 0)
                    end
                    return session, err
                end
            end
            return function(_, ...) return f(real, ...) end
        end })
    end
end
local port = tonumber(args.port)
local tls = args.tls
if tls == "false" then tls = false end
local out
if args.api == "open" then
    local ok, err = pcall(function()
        local s = smtp.open("127.0.0.1", port, create,
            { tls = tls == "smtps" and "smtps" or nil, ssl = tls == "smtps" and ssl or nil, timeout = 5 })
        s:greet("client.test")
        if tls ~= "smtps" then s:starttls(ssl) end
        s:quit()
        s:close()
    end)
    if type(err) == "table" then err = err[1] end
    out = { ok = ok, err = (not ok) and tostring(err) or nil }
else
    local r, e, det = smtp.send{
        from = "<sender@example.com>", rcpt = "<rcpt@example.org>",
        server = "127.0.0.1", port = port, domain = "client.test", timeout = 5,
        tls = tls, ssl = ssl, create = create,
        source = smtp.message{
            headers = { subject = args.subject, to = "<rcpt@example.org>" },
            body = "Body of " .. args.subject .. ".\r\n",
        },
    }
    out = { r = r, err = (not r) and e or nil, report = r and e or nil, det = det }
end
ngx.say(json.encode(out))
]==]

local function urlencode(s)
    return (s:gsub("[^%w%-%._~]", function(c) return ("%%%02X"):format(c:byte()) end))
end

local delivered, listener = M.delivered, M.listener
local function assert_no_connection(l)
    M.assert_no_connection(l, 0.2, "nginx connected although the ssl table was refused")
end

-- Each refused field, a value for it, and the directive its error names.
local REFUSED = {
    { "cafile", certs.ca, "lua_ssl_trusted_certificate" },
    { "capath", certs.dir, "lua_ssl_trusted_certificate (one PEM file holding the CAs)" },
    { "protocol", "any", 'lua_ssl_protocols (e.g. "lua_ssl_protocols TLSv1.2 TLSv1.3;")' },
    { "protocol", "tlsv1_2", 'lua_ssl_protocols (e.g. "lua_ssl_protocols TLSv1.2 TLSv1.3;")' },
    { "options", "all", "lua_ssl_protocols (for no_tlsv1 ...) or lua_ssl_conf_command Options" },
    { "ciphers", "DEFAULT", "lua_ssl_ciphers" },
    { "ciphersuites", "TLS_AES_128_GCM_SHA256", "lua_ssl_conf_command Ciphersuites" },
    { "curve", "prime256v1", "lua_ssl_conf_command Curves" },
    { "curveslist", "P-256", "lua_ssl_conf_command Curves" },
    { "depth", 3, "lua_ssl_verify_depth" },
    { "verifyext", "crl_check", "lua_ssl_crl (for crl_check)" },
}

-- #once: what this checks does not depend on the interpreter running
-- busted (nginx runs its own LuaJIT; the LuaRocks trees are tried under
-- every interpreter from inside the spec): .ci/test.sh runs it in the
-- first suite only.
describe("ssl on OpenResty cosockets (issue 9, item 5) #once", function()
    local nginx_ok, nginx_why = N.available()
    if not H.need_peer("nginx", nginx_ok, nginx_why, "the cosocket ssl cases") then return end

    local ngx_srv = N.start_tls_for_block({ ["/ssl"] = HANDLER }, certs.ca)

    -- GET /ssl with q (port, tls, ssl = table, subject, api, nocert,
    -- dhparam); the handler's JSON answer.
    local function call(q)
        local parts = {}
        for k, v in pairs(q) do
            if k == "ssl" then v = json.encode(v) end
            parts[#parts + 1] = k .. "=" .. urlencode(tostring(v))
        end
        -- (not a tail call: get_json's error blames our caller)
        local res = ngx_srv():get_json("/ssl?" .. table.concat(parts, "&"))
        return res
    end

    local function server(opts)
        local srv = H.tls_server(opts)
        finally(function() srv:stop() end)
        return srv
    end

    it("each field nginx cannot apply is refused before connecting, naming the directive (send, STARTTLS "
        .. "and SMTPS)", function()
        local l, port = listener()
        finally(function() l:close() end)
        for _, case in ipairs(REFUSED) do
            local field, value, directive = case[1], case[2], case[3]
            local want = ("invalid ssl.%s: cannot be applied on an OpenResty cosocket: use nginx's %s")
                :format(field, directive)
            for _, tls in ipairs({ "starttls", "smtps", "auto" }) do
                local res = call{ port = port, tls = tls, subject = "refused", ssl = { sni = "localhost",
                    [field] = value } }
                assert.is_nil(res.r)
                assert.are.equal(want, res.err)
                assert.are.same({ stage = "argument", field = "ssl." .. field, name = "EARG" }, res.det)
            end
        end
        local res = call{ port = port, tls = "starttls", subject = "refused", dhparam = 1, ssl = {} }
        assert.are.equal("invalid ssl.dhparam: cannot be applied on an OpenResty cosocket: use nginx's "
            .. "none: DH parameters are the server's (ssl_dhparam in a server block)", res.err)
        assert_no_connection(l)
    end)

    it("the manual's LuaSec table gets the first field nginx cannot apply named, not a silent drop", function()
        local l, port = listener()
        finally(function() l:close() end)
        local res = call{ port = port, tls = "starttls", subject = "manual", ssl = { mode = "client",
            protocol = "any", verify = "peer", options = "all", cafile = certs.ca } }
        assert.is_nil(res.r)
        assert.are.equal("invalid ssl.cafile: cannot be applied on an OpenResty cosocket: use nginx's "
            .. "lua_ssl_trusted_certificate", res.err)
        assert.are.same({ stage = "argument", field = "ssl.cafile", name = "EARG" }, res.det)
        assert_no_connection(l)
    end)

    it("the low-level object refuses too: smtp.open with SMTPS before connecting, s:starttls before STARTTLS",
        function()
            local l, port = listener()
            finally(function() l:close() end)
            local res = call{ api = "open", port = port, tls = "smtps", ssl = { protocol = "any" } }
            assert.is_false(res.ok)
            assert.are.equal("invalid ssl.protocol: cannot be applied on an OpenResty cosocket: use nginx's "
                .. 'lua_ssl_protocols (e.g. "lua_ssl_protocols TLSv1.2 TLSv1.3;")', res.err)
            assert_no_connection(l)

            local srv = server()
            res = call{ api = "open", port = srv.port, tls = "starttls", ssl = { cafile = certs.ca } }
            assert.is_false(res.ok)
            assert.are.equal("invalid ssl.cafile: cannot be applied on an OpenResty cosocket: use nginx's "
                .. "lua_ssl_trusted_certificate", res.err)
            H.sleep(0.1)
            assert.are.same({ "EHLO client.test\r\nQUIT\r\n" }, srv:sessions())
        end)

    it("a client certificate (ssl.certificate + ssl.key) reaches a server that requires one (setclientcert)",
        function()
            local ssl = { sni = "localhost", certificate = certs.client.cert, key = certs.client.key }
            local srv = server({ verify_client = "required" })
            local res = call{ port = srv.port, tls = "starttls", subject = "client cert", ssl = ssl }
            assert.are.equal(1, res.r, json.encode(res))
            assert.is_true(res.report.tls)
            assert.is_true(delivered(srv, "client cert").tls)
            assert.are.equal("client.test", srv:tls_info(1).client_cert)
            assert.are.same({ CLEAR }, srv:clear_sessions())
            srv:stop()

            srv = server({ tls = "implicit", verify_client = "required" })
            res = call{ port = srv.port, tls = "smtps", subject = "client cert smtps", ssl = ssl }
            assert.are.equal(1, res.r, json.encode(res))
            assert.are.equal("client.test", srv:tls_info(1).client_cert)
            delivered(srv, "client cert smtps")
            srv:stop()

            -- and through the low-level s:starttls
            srv = server({ verify_client = "required" })
            res = call{ api = "open", port = srv.port, tls = "starttls", ssl = ssl }
            assert.is_true(res.ok, res.err)
            assert.are.equal("client.test", srv:tls_info(1).client_cert)
        end)

    it("client-certificate fields nginx cannot take are refused before connecting", function()
        local l, port = listener()
        finally(function() l:close() end)
        local cases = {
            { { certificate = certs.client.cert }, "ssl.certificate", "invalid ssl.certificate: needs ssl.key "
                .. "as well on an OpenResty cosocket (tcpsock:setclientcert takes both)" },
            { { key = certs.client.key }, "ssl.key", "invalid ssl.key: needs ssl.certificate as well on an "
                .. "OpenResty cosocket (tcpsock:setclientcert takes both)" },
            { { certificate = certs.client.cert, key = certs.client.key, password = "pw" }, "ssl.password",
              "invalid ssl.password: cannot be applied on an OpenResty cosocket: ngx.ssl.parse_pem_priv_key "
                .. "reads unencrypted keys only (decrypt it: openssl pkey -in KEY -out PLAIN_KEY)" },
            { { certificate = certs.dir .. "/no-such.pem", key = certs.client.key }, "ssl.certificate",
              "^invalid ssl%.certificate: cannot be read: " },
            { { certificate = certs.client.key, key = certs.client.key }, "ssl.certificate",
              "^invalid ssl%.certificate: not a PEM certificate: " },
        }
        for _, c in ipairs(cases) do
            c[1].sni = "localhost"
            local res = call{ port = port, tls = "starttls", subject = "cert", ssl = c[1] }
            assert.is_nil(res.r)
            if c[3]:sub(1, 1) == "^" then
                assert.matches(c[3], res.err)
            else
                assert.are.equal(c[3], res.err)
            end
            assert.are.same({ stage = "argument", field = c[2], name = "EARG" }, res.det)
        end
        -- a module without tcpsock:setclientcert (before 0.10.22): the directives
        local res = call{ port = port, tls = "starttls", subject = "cert", nocert = 1,
            ssl = { sni = "localhost", certificate = certs.client.cert, key = certs.client.key } }
        assert.is_nil(res.r)
        assert.are.equal("invalid ssl.certificate: cannot be applied on this OpenResty cosocket: it needs "
            .. "tcpsock:setclientcert (lua-nginx-module 0.10.22+) and ngx.ssl (lua-resty-core); else use "
            .. "nginx's lua_ssl_certificate and lua_ssl_certificate_key (0.10.26+)", res.err)
        assert_no_connection(l)
    end)

    it('verify = "none" is applied (sslhandshake without verification); "peer" keeps nginx\'s checks', function()
        local srv = server({ cert = "wrong_host" })
        local res = call{ port = srv.port, tls = "starttls", subject = "verify none",
            ssl = { sni = "localhost", verify = "none", mode = "client" } }
        assert.are.equal(1, res.r, json.encode(res))
        delivered(srv, "verify none")
        srv:stop()

        srv = server({ cert = "wrong_host" })
        res = call{ port = srv.port, tls = "starttls", subject = "verify peer",
            ssl = { sni = "localhost", verify = "peer", mode = "client" } }
        assert.is_nil(res.r)
        assert.are.same({ stage = "tls", name = "ETLS_HOST" }, res.det)
        assert.are.same({ CLEAR }, srv:sessions())
    end)

    it("a handshake that lua-resty-core's sslhandshake fails with \"assertion failed!\" (its issue #499) is "
        .. "a refusal returned as ETLS_VERIFY, not raised", function()
        local srv = server({ cert = "wrong_host" })
        local res = call{ port = srv.port, tls = "starttls", subject = "assert", assertbug = 1,
            ssl = { sni = "localhost" } }
        assert.is_nil(res.r)
        assert.are.equal("certificate verification failed: nginx refused the handshake (lua-resty-core: "
            .. "/usr/share/lua/5.1/resty/core/socket.lua:244: assertion failed!; the reason is in nginx's "
            .. "error log)", res.err)
        assert.are.same({ stage = "tls", name = "ETLS_VERIFY" }, res.det)
        assert.are.same({ CLEAR }, srv:sessions())
        assert.are.same({}, srv:messages())
    end)

    it("with tls = false the ssl table is not used, so nothing in it is refused", function()
        local srv = server()
        local res = call{ port = srv.port, tls = "false", subject = "clear", ssl = { cafile = certs.ca } }
        assert.are.equal(1, res.r, json.encode(res))
        assert.is_false(res.report.tls)
        assert.is_false(delivered(srv, "clear").tls)
    end)
end)
